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
        return pair_mean_abs_difference(frames)


def pair_mean_abs_difference(frames: torch.Tensor) -> torch.Tensor:
    """``mean |I_t - I_t+1|`` of consecutive ``uint8 (n, H, W, 3)`` frames → ``(n-1,)`` float64.

    Exact (integer sums) and one frame of memory at a time: on the host VBench's own
    ``cv2.absdiff`` of two frames when OpenCV is there (it comes with rapidocr), else (and
    on an accelerator, where the sums stay on the device) ``max - min`` in uint8.
    Converting a whole decode chunk to float32 took 1.6 GB RSS on a 7-s 1080p clip and was
    the slowest step of the dimension. VBench's float32 mean differs by rounding only.

    Example:
        >>> f = torch.zeros(3, 2, 2, 3, dtype=torch.uint8)
        >>> f[1] = 255
        >>> pair_mean_abs_difference(f).tolist()
        [255.0, 255.0]
    """
    try:
        import cv2
    except ImportError:  # pragma: no cover - OpenCV is a dependency of rapidocr
        cv2 = None
    per_frame = frames[0].numel()
    if frames.device.type != "cpu":  # no host round trip per pair
        sums = [
            (torch.maximum(a, b) - torch.minimum(a, b)).sum(dtype=torch.int64)
            for a, b in zip(frames[:-1], frames[1:], strict=True)
        ]
        return torch.stack(sums).to(torch.float64) / per_frame
    out = torch.empty(frames.shape[0] - 1, dtype=torch.float64)
    for i in range(frames.shape[0] - 1):
        a, b = frames[i], frames[i + 1]
        if cv2 is not None:
            total = sum(cv2.sumElems(cv2.absdiff(a.contiguous().numpy(), b.contiguous().numpy())))
        else:
            total = int((torch.maximum(a, b) - torch.minimum(a, b)).sum(dtype=torch.int64))
        out[i] = total / per_frame
    return out


class VideoMetadata(FeatureExtractor):
    """No frames needed: the scorer reads the probe. Yields nothing per chunk."""

    name = "video_metadata"

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        return None
