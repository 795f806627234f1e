"""The wheel ships the specs and the prompt suite, and lists every subpackage."""

from __future__ import annotations

import sys as _sys
import zipfile
from pathlib import Path

if _sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "vbench_cn").rglob("__init__.py")
    }
    assert found - listed == set(), (
        f"add these to [tool.setuptools] packages: {sorted(found - listed)}"
    )


def test_wheel_contains_specs_and_prompts(built_wheel: Path) -> None:
    wheel = built_wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    specs = {p.name for p in (ROOT / "dimensions").glob("*.toml")}
    shipped = {n for n in names if n.startswith("vbench_cn/_dimensions/") and n.endswith(".toml")}
    assert shipped == {f"vbench_cn/_dimensions/{n}" for n in specs}  # nothing stale, nothing lost
    suites = {p.name for p in (ROOT / "prompts" / "suite").glob("*.jsonl")}
    assert suites and {f"vbench_cn/_prompts/suite/{n}" for n in suites} <= names
    assert any(n.startswith("vbench_cn/data/labels/") for n in names)
