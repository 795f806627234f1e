"""Shared fixtures of the pipeline tests: one wheel built from a clean copy of the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _clean_source(dest: Path) -> Path:
    """The checkout's files (tracked, or untracked and not ignored) copied to ``dest``.

    Building in the checkout would reuse setuptools' ``build/lib``, which keeps files deleted
    since the last build (a removed spec would still ship in the wheel).
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        src = ROOT / name.decode()
        if src.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``vbench_cn-*.whl`` built (no isolation, no network) from a clean copy of the checkout;
    what the build printed is kept beside ``dist/`` as ``build.log``."""
    work = tmp_path_factory.mktemp("wheel")
    source = _clean_source(work / "src")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(work / "dist"), str(source)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (work / "build.log").write_text(built.stdout + built.stderr)
    return next((work / "dist").glob("vbench_cn-*.whl"))
