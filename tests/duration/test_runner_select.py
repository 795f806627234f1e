"""The runner hands evenly spaced frames of a decoded chunk to extractors as views, not copies.

Per-chunk, per-group copies of 1080p frames made the resident size grow with a long video's
length (bench/long_video_bench.py); these checks pin the view path and its fallbacks.
"""

from __future__ import annotations

import numpy as np
import torch

from vbench_cn.runner import _select


def test_evenly_spaced_positions_give_a_view_with_the_same_frames() -> None:
    frames = torch.arange(10 * 2 * 2 * 3, dtype=torch.uint8).reshape(10, 2, 2, 3)
    for positions in (np.arange(10), np.arange(1, 10, 2), np.array([4])):
        sel = _select(frames, positions)
        assert torch.equal(sel, frames[torch.from_numpy(positions)])
        assert sel.untyped_storage().data_ptr() == frames.untyped_storage().data_ptr()  # no copy


def test_uneven_or_repeated_positions_fall_back_to_an_index_copy() -> None:
    frames = torch.arange(10 * 3, dtype=torch.uint8).reshape(10, 1, 1, 3)
    for positions in (np.array([0, 1, 3]), np.array([2, 2, 2])):  # VBench pads by repeating
        sel = _select(frames, positions)
        assert torch.equal(sel, frames[torch.from_numpy(positions)])
        assert sel.untyped_storage().data_ptr() != frames.untyped_storage().data_ptr()
    assert _select(frames, np.zeros(0, dtype=np.int64)).shape[0] == 0
