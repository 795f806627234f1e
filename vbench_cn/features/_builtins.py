"""Lazy registration table: extractor name -> module that defines it (no model code imported)."""

from __future__ import annotations

from vbench_cn.features import add_builtin

# One line per extractor. Modules register their classes with @register_extractor.
add_builtin("frame_difference", "vbench_cn.features.pixels")
add_builtin("video_metadata", "vbench_cn.features.pixels")
