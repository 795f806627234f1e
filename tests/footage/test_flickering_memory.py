"""temporal_flickering's pair differences: exact, and one frame of memory at a time."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest
import torch

from vbench_cn.features.pixels import pair_mean_abs_difference


def _reference(frames: np.ndarray) -> np.ndarray:
    f = frames.astype(np.float64)
    return np.abs(f[1:] - f[:-1]).mean(axis=(1, 2, 3))


@pytest.mark.parametrize("opencv", [True, False])
def test_pair_differences_are_exact(monkeypatch: pytest.MonkeyPatch, opencv: bool) -> None:
    if not opencv:
        real_import = builtins.__import__

        def no_cv2(name: str, *args: object, **kwargs: object) -> object:
            if name == "cv2":
                raise ImportError("cv2 hidden by the test")
            return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(builtins, "__import__", no_cv2)
    frames = np.random.default_rng(0).integers(0, 256, (6, 37, 53, 3), dtype=np.uint8)
    frames[3] = frames[2]  # a repeated frame: difference 0
    got = pair_mean_abs_difference(torch.from_numpy(frames))
    assert got.dtype == torch.float64
    np.testing.assert_array_equal(got.numpy(), _reference(frames))
    assert got[2] == 0.0


def _hwm_mib() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux peak-RSS reset")
def test_a_1080p_chunk_costs_about_one_frame_of_memory() -> None:
    """16 frames of 1080p (100 MB): the float32 conversion used to peak ~700 MB above."""
    frames = torch.from_numpy(
        np.random.default_rng(1).integers(0, 256, (16, 1080, 1920, 3), dtype=np.uint8)
    )
    pair_mean_abs_difference(frames[:2])  # load OpenCV before measuring
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS
    except OSError:
        pytest.skip("cannot reset the peak RSS here")
    before = _hwm_mib()
    out = pair_mean_abs_difference(frames)
    grown = _hwm_mib() - before
    assert out.shape == (15,)
    assert grown < 48, f"peak RSS grew {grown:.0f} MiB"
