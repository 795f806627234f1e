"""Where the data that ships with the package lives (specs, prompts).

In the repository these are the top-level ``dimensions/`` and ``prompts/`` folders; in an
installed wheel they are the packages ``vbench_cn._dimensions`` and ``vbench_cn._prompts``
(mapped in ``pyproject.toml``), so both layouts resolve here.
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
