"""Model-free extractors: pixel statistics and video metadata."""

from __future__ import annotations

import torch

from vbench_cn.features import FeatureExtractor
from vbench_cn.video import VideoInfo


class FrameDifference(FeatureExtractor):
    """Mean absolute difference of consecutive frames, on the 0-255 scale.

    VBench's temporal flickering (``vbench/temporal_flickering.py``) computes
    ``mean(|I_t - I_{t+1}|)`` over all pixels and channels in float32; the per-pair value
    does not depend on channel order, so RGB frames give VBench's BGR result.
    """

    name = "frame_difference"
    overlap = 1
    batch_size = 4096
    cpu_batch_size = 4096  # no model: batches only amortise Python overhead

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] < 2:
            return None
        f = frames.to(torch.float32)
        return (f[1:] - f[:-1]).abs().mean(dim=(1, 2, 3))


class VideoMetadata(FeatureExtractor):
    """No frames needed: the scorer reads the probe. Yields nothing per chunk."""

    name = "video_metadata"

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        return None
