"""vbench-cn: a bilingual (中文 / English) benchmark suite for video generation models.

The public API is imported lazily so that ``import vbench_cn`` stays cheap:
``evaluate``, ``list_dimensions`` (``vbench_cn.api``), ``aggregate`` and ``compare``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "evaluate": "vbench_cn.api",
    "list_dimensions": "vbench_cn.api",
    "aggregate": "vbench_cn.aggregate",
    "compare": "vbench_cn.compare",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        # aggregate/compare are modules made callable (vbench_cn/_callable_module.py), so the
        # name works the same before and after the submodule is imported.
        return module if module.__name__.endswith("." + name) else getattr(module, name)
    raise AttributeError(f"module 'vbench_cn' has no attribute {name!r}")
