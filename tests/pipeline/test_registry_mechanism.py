"""The one registry mechanism, and the built-in extractor table that feeds it."""

from __future__ import annotations

import ast
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from vbench_cn import registry as reg
from vbench_cn.registry import Registry


def test_lazy_entries_are_listed_without_importing_their_module() -> None:
    r: Registry[object] = Registry("thing")
    r.lazy({"ghost": "no_such_module_xyz:Thing", "od": "collections:OrderedDict"})
    assert r.names() == ["ghost", "od"]
    assert "ghost" in r and len(r) == 2
    assert "no_such_module_xyz" not in sys.modules
    from collections import OrderedDict

    assert r["od"] is OrderedDict
    with pytest.raises(ModuleNotFoundError):
        r["ghost"]


def test_unknown_names_say_what_is_close() -> None:
    r: Registry[int] = Registry("feature extractor")
    r.register("dino_vitb16", 1)
    with pytest.raises(
        KeyError, match=r"unknown feature extractor 'dino_vitb61'; did you mean dino"
    ):
        r["dino_vitb61"]
    assert r.get("dino_vitb61") is None
    assert "dino_vitb61" not in r


def test_a_taken_name_is_refused_unless_it_is_the_same_object() -> None:
    r: Registry[object] = Registry("scorer")
    r.register("a", len)
    r.register("a", len)  # the same object again: fine
    with pytest.raises(ValueError, match="scorer 'a' is registered twice"):
        r.register("a", abs)
    with pytest.raises(ValueError, match="registered twice"):
        r.lazy({"a": "builtins:abs"})
    with pytest.raises(ValueError, match="not 'module:attr'"):
        r.lazy({"b": "builtins.abs"})


def test_a_module_listed_lazily_may_also_register_its_class() -> None:
    from collections import OrderedDict

    r: Registry[object] = Registry("thing")
    r.lazy({"od": "collections:OrderedDict"})
    r.register("od", OrderedDict)  # what an old-style @decorator does on import
    assert r["od"] is OrderedDict
    with pytest.raises(ValueError, match="registered twice"):
        r.register("od", dict)


def test_assignment_overrides_and_deletion_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    r: Registry[object] = Registry("weights")
    r.lazy({"od": "collections:OrderedDict"})
    with monkeypatch.context() as mp:
        mp.setitem(r, "od", "replacement")
        mp.setitem(r, "new", "added")
        assert r["od"] == "replacement" and r["new"] == "added"
    assert "new" not in r
    assert r["od"].__name__ == "OrderedDict"


def test_registering_modules_are_imported_on_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "reg_holder_t.py").write_text(
        "from vbench_cn.registry import Registry\n"
        "R = Registry('thing', modules=['reg_plugin_t', 'reg_absent_t'])\n"
    )
    (tmp_path / "reg_plugin_t.py").write_text("from reg_holder_t import R\nR.register('a', 1)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import reg_holder_t

        assert "reg_plugin_t" not in sys.modules
        assert reg_holder_t.R["a"] == 1  # the miss imported the plugin; the absent one is left
        assert "reg_plugin_t" in sys.modules
        assert reg_holder_t.R.names() == ["a"]
    finally:
        for mod in ("reg_holder_t", "reg_plugin_t"):
            sys.modules.pop(mod, None)


def test_a_module_with_a_real_import_error_is_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "reg_broken_t.py").write_text("from vbench_cn.registry import NoSuchName\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    r: Registry[object] = Registry("thing", modules=["reg_broken_t"])
    with pytest.raises(ImportError, match="NoSuchName"):
        r["x"]


def test_entry_point_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [
        EntryPoint(name="od", value="collections:OrderedDict", group="g"),
        EntryPoint(name="taken", value="collections:Counter", group="g"),
        EntryPoint(name="broken", value="no_such_module_xyz", group="g"),
    ]
    monkeypatch.setattr(reg, "entry_points", lambda group: points if group == "g" else [])
    r: Registry[object] = Registry("thing", group="g")
    r.register("taken", 0)
    assert r.names() == ["od", "taken"]  # the broken plugin is logged, not raised
    from collections import OrderedDict

    assert r["od"] is OrderedDict and r["taken"] == 0


# --------------------------------------------------------------------------- the extractor table

FEATURES = Path(__file__).resolve().parents[2] / "vbench_cn" / "features"


def _classes_with_a_name() -> dict[str, str]:
    """``name`` literal -> ``"module:Class"`` of every class in vbench_cn/features that sets one."""
    found: dict[str, str] = {}
    for path in sorted(FEATURES.glob("*.py")):
        module = f"vbench_cn.features.{path.stem}"
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.ClassDef):
                continue
            for stmt in node.body:
                target = stmt.target if isinstance(stmt, ast.AnnAssign) else None
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                    target = stmt.targets[0]
                value = getattr(stmt, "value", None)
                if (
                    isinstance(target, ast.Name)
                    and target.id == "name"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    found[value.value] = f"{module}:{node.name}"
    return found


def test_every_extractor_class_is_in_the_table_under_its_own_name() -> None:
    from vbench_cn.features import BUILTIN_EXTRACTORS

    assert _classes_with_a_name() == BUILTIN_EXTRACTORS


def test_every_table_entry_is_an_extractor_whose_checkpoints_are_registered() -> None:
    from vbench_cn.features import BUILTIN_EXTRACTORS, EXTRACTORS, FeatureExtractor
    from vbench_cn.weights import get_weights

    for name in BUILTIN_EXTRACTORS:
        cls = EXTRACTORS[name]
        assert isinstance(cls, type) and issubclass(cls, FeatureExtractor), name
        assert cls.name == name
        for checkpoint in cls.weights:
            assert get_weights(checkpoint).name == checkpoint
