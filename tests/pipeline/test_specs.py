"""Dimension specs: every built-in spec loads; broken ones fail naming the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from vbench_cn.specs import SpecError, load_spec, load_specs, select_specs

GOOD = """
id = "{id}"
version = 1
name = {{ en = "Flicker", zh = "闪烁" }}
category = "quality"
description = {{ en = "d", zh = "说明" }}
scorer = "quality.temporal_flickering"
backbone = "frame_difference"
sampling = {{ fps = "all" }}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_builtin_spec_loads_and_is_consistent() -> None:
    specs = load_specs()
    assert {"temporal_flickering", "duration_seconds", "frame_rate", "resolution"} <= set(specs)
    for spec in specs.values():
        assert spec.label("zh") and spec.description["zh"]
        assert len(spec.sha256) == 64
        lo, hi = spec.normalization
        assert hi > lo


def test_valid_spec_loads(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, "flick", GOOD.format(id="flick")))
    assert spec.id == "flick" and spec.sampling.kind == "all" and spec.parity == "new"


@pytest.mark.parametrize(
    "edit, field, message",
    [
        (
            lambda t: t.replace('category = "quality"', 'category = "qualty"'),
            "category",
            "not one of",
        ),
        (
            lambda t: t.replace(
                'scorer = "quality.temporal_flickering"', 'scorer = "quality.temporal_flickerin"'
            ),
            "scorer",
            "did you mean quality.temporal_flickering",
        ),
        (
            lambda t: t.replace('backbone = "frame_difference"', 'backbone = "frame_diference"'),
            "backbone",
            "did you mean frame_difference",
        ),
        (lambda t: t + "params = { refrence = 1 }\n", "params.refrence", "not an argument"),
        (
            lambda t: t + "normalization = { min = 1.0, max = 0.5 }\n",
            "normalization",
            "greater than",
        ),
        (
            lambda t: t.replace('sampling = { fps = "all" }', "sampling = { frames = -3 }"),
            "sampling",
            "positive",
        ),
        (lambda t: t + "wieght = 2\n", "wieght", "did you mean weight"),
        (lambda t: t.replace("version = 1", 'version = "one"'), "version", "positive integer"),
        (
            lambda t: t.replace(
                'name = { en = "Flicker", zh = "闪烁" }', 'name = { en = "Flicker" }'
            ),
            "name",
            "zh",
        ),
        (lambda t: t + 'category_gate = "yes"\n', "category_gate", "true or false"),
        (lambda t: t + 'level = "run"\n', "level", "'run' not one of video, set"),
    ],
)
def test_broken_spec_names_file_and_field(tmp_path: Path, edit, field: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, "flick", edit(GOOD.format(id="flick")))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    text = str(err.value)
    assert text.startswith(f"{path}: {field}") and message in text and "\n" not in text


def test_id_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="must equal the file name"):
        load_spec(_write(tmp_path, "other", GOOD.format(id="flick")))


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad", "id = [")
    with pytest.raises(SpecError, match="bad.toml: invalid TOML"):
        load_spec(path)


def test_select_by_id_category_and_did_you_mean() -> None:
    specs = load_specs()
    assert {s.id for s in select_specs(specs, ["duration"])} >= {
        "duration_seconds",
        "frame_rate",
        "resolution",
    }
    with pytest.raises(KeyError, match="did you mean temporal_flickering"):
        select_specs(specs, ["temporal_flickerin"])


def test_extra_dimension_folder_adds_specs(tmp_path: Path) -> None:
    _write(tmp_path, "my_flicker", GOOD.format(id="my_flicker"))
    specs = load_specs([tmp_path])
    assert "my_flicker" in specs and "temporal_flickering" in specs


def test_the_length_gates_the_duration_category_and_nothing_else_gates() -> None:
    gates = {s.id: s.category for s in load_specs().values() if s.category_gate}
    assert gates == {"duration_seconds": "duration"}


def test_a_second_gate_in_one_category_names_both(tmp_path: Path) -> None:
    text = GOOD.format(id="my_length").replace('"quality"', '"duration"')
    path = _write(tmp_path, "my_length", text + "category_gate = true\n")
    with pytest.raises(SpecError) as err:
        load_specs([tmp_path])
    assert str(err.value) == f"{path}: category_gate: duration_seconds already gates duration"
