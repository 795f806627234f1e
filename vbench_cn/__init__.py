"""vbench-cn: a bilingual (中文 / English) benchmark suite for video generation models."""

from __future__ import annotations

__version__ = "0.1.0"
