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


def test_wheel_ships_the_licence_and_builds_without_warnings(built_wheel: Path) -> None:
    wheel = zipfile.ZipFile(built_wheel)
    assert "vbench_cn-0.1.0.dist-info/licenses/LICENSE" in wheel.namelist()
    assert "Apache License" in wheel.read("vbench_cn-0.1.0.dist-info/licenses/LICENSE").decode()
    metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: Apache-2.0" in wheel.read(metadata).decode()
    # A new user's `pip install -e .` prints what setuptools warns about: data folders it might
    # not ship, a deprecated licence table.
    log = (built_wheel.parents[1] / "build.log").read_text()
    assert "Warning" not in log, log
