"""Where the data that ships with the package lives (specs, prompts, leaderboard rows).

In the repository these are the top-level ``dimensions/``, ``prompts/`` and
``leaderboard/`` folders; in an installed wheel they are the packages
``vbench_cn._dimensions``, ``vbench_cn._prompts`` and ``vbench_cn._leaderboard`` (mapped in
``pyproject.toml``), so both layouts resolve here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _package_dir(package: str, fallback: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / fallback


def dimensions_dir() -> Path:
    """The folder of built-in dimension specs."""
    return _package_dir("vbench_cn._dimensions", "dimensions")


def prompts_dir() -> Path:
    """The folder of the built-in prompt suite."""
    return _package_dir("vbench_cn._prompts", "prompts")


def submissions_dir() -> Path:
    """The leaderboard's submissions: ``./leaderboard/submissions`` when the working folder
    has one (a checkout, or a team's own), else the ones that ship with vbench-cn."""
    local = Path("leaderboard") / "submissions"
    if local.is_dir():
        return local
    return _package_dir("vbench_cn._leaderboard", "leaderboard") / "submissions"
