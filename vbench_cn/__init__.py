"""vbench-cn: a bilingual (中文 / English) benchmark suite for video generation models.

The public API is imported lazily so that ``import vbench_cn`` stays cheap:
``evaluate``, ``list_dimensions`` (:mod:`vbench_cn.api`), ``aggregate``
(:mod:`vbench_cn.aggregation`) and ``compare`` (:mod:`vbench_cn.comparison`).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public function -> the module that defines it.
_LAZY = {
    "evaluate": "vbench_cn.api",
    "list_dimensions": "vbench_cn.api",
    "aggregate": "vbench_cn.aggregation",
    "compare": "vbench_cn.comparison",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vbench_cn' has no attribute {name!r}")
