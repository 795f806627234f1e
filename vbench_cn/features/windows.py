"""Time windows over a long video's sampled frames, and two weight-free per-frame extractors.

Long-video dimensions (category ``duration``) sample a few frames per second
(``sampling = {fps = 2}``), keep one small feature per sampled frame, and pool those
features into fixed windows of ``window_seconds`` (2 s by default, VBench-Long's clip length
for most dimensions, ``vbench2_beta_long/configs/clip_length_mix.yaml``). Decoded frames are
never kept: the runner decodes chunk by chunk and these extractors reduce each frame to a
few thousand numbers at once, so memory grows with the number of sampled frames (kilobytes
each), never with the frame size times the video's length.

Extractors:
    ``tiny_pixels``: each frame area-averaged to 32x32 RGB, 0-255 floats, flattened
        ``(3072,)``. Weight-free signal for frame differences (motion, cuts), near-duplicate
        search (loops) and, centred, a crude appearance embedding.
    ``sharpness_noise``: per frame ``[mean Sobel gradient magnitude, 1 / (1 + noise sigma)]``
        of the luma at native resolution; a weight-free quality proxy whose two channels both
        fall when a video blurs or gets noisy (see :class:`SharpnessNoise`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from vbench_cn.features import FeatureExtractor, register_extractor
from vbench_cn.video import VideoInfo

#: Side of the ``tiny_pixels`` thumbnail.
TINY_SIDE = 32
#: Frames converted to float at a time inside ``prepare`` (bounds memory at 1080p: ~25 MB each).
_FRAMES_PER_STEP = 4


# --------------------------------------------------------------------------- window helpers


def sample_times(num_samples: int, duration_seconds: float) -> np.ndarray:
    """Approximate presentation time of each of ``num_samples`` evenly sampled frames.

    The scorer only sees features, not timestamps; with ``{fps = F}`` or
    ``{every_seconds = S}`` sampling the sampled frames are evenly spaced over the video, so
    sample ``k`` is shown at about ``k * duration / num_samples`` seconds.

    Example:
        >>> sample_times(4, 2.0).tolist()
        [0.0, 0.5, 1.0, 1.5]
    """
    if num_samples <= 0:
        return np.zeros(0)
    step = duration_seconds / num_samples if duration_seconds > 0 else 1.0
    return np.arange(num_samples, dtype=np.float64) * step


def window_ids(times: np.ndarray, window_seconds: float) -> np.ndarray:
    """Window index ``floor(t / window_seconds)`` of each time, renumbered densely from 0.

    Empty windows (sampling sparser than the window) are skipped, and a trailing partial
    window shorter than half a window is merged into the one before it, so the last window
    is never a lone frame.

    Example:
        >>> window_ids(np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 4.0]), 2.0).tolist()
        [0, 0, 0, 0, 1, 1, 1]
    """
    if window_seconds <= 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds}")
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64)
    raw = np.floor(np.asarray(times, dtype=np.float64) / window_seconds + 1e-9).astype(np.int64)
    _, dense = np.unique(raw, return_inverse=True)
    dense = dense.astype(np.int64)
    last = dense.max()
    if last > 0:
        start_last = raw[dense == last].min() * window_seconds
        span = float(np.max(times)) - start_last
        step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
        if span + step < 0.5 * window_seconds:
            dense[dense == last] = last - 1
    return dense


def pool_windows(values: torch.Tensor, ids: np.ndarray) -> torch.Tensor:
    """Mean of ``values`` ``(T, ...)`` within each window id ``(T,)`` → ``(W, ...)``, float64."""
    if values.shape[0] != len(ids):
        raise ValueError(f"{values.shape[0]} values but {len(ids)} window ids")
    num = int(ids.max()) + 1 if len(ids) else 0
    flat = values.reshape(values.shape[0], -1).to(torch.float64)
    index = torch.from_numpy(np.asarray(ids, dtype=np.int64))
    sums = torch.zeros(num, flat.shape[1], dtype=torch.float64).index_add_(0, index, flat)
    counts = torch.bincount(index, minlength=num).to(torch.float64).clamp_min(1)
    return (sums / counts[:, None]).reshape(num, *values.shape[1:])


def window_starts(times: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Time of the first sample of each window ``(W,)``."""
    num = int(ids.max()) + 1 if len(ids) else 0
    return np.array([float(times[ids == w].min()) for w in range(num)])


# --------------------------------------------------------------------------- extractors


def _to_float_chw(frames: torch.Tensor) -> torch.Tensor:
    return frames.permute(0, 3, 1, 2).to(torch.float32)


@register_extractor("tiny_pixels")
class TinyPixels(FeatureExtractor):
    """Each frame area-averaged to ``32x32`` RGB (0-255 floats), flattened to ``(3072,)``.

    Area averaging (``adaptive_avg_pool2d``) is an anti-aliased downsample, so the
    thumbnail's pixel noise shrinks with the frame size and differences between thumbnails
    reflect content (motion, cuts, repeats) rather than sensor or compression noise.
    """

    name = "tiny_pixels"
    batch_size = 4096

    def prepare(self, frames: torch.Tensor, *, position: int, info: VideoInfo) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        out = []
        for start in range(0, frames.shape[0], _FRAMES_PER_STEP):
            chunk = _to_float_chw(frames[start : start + _FRAMES_PER_STEP])
            out.append(F.adaptive_avg_pool2d(chunk, (TINY_SIDE, TINY_SIDE)).flatten(1))
        return torch.cat(out)


#: Luma weights of ITU-R BT.601.
_LUMA = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32)
_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
_IMMERKAER = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def sharpness_and_noise(gray: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean Sobel gradient magnitude and Immerkær's noise sigma of luma images.

    Sharpness: mean of ``sqrt(Gx^2 + Gy^2)`` with 3x3 Sobel kernels (a Tenengrad-style focus
    measure, Krotkov 1988; Pertuz et al., Pattern Recognition 46(5), 2013). Noise: Immerkær,
    "Fast noise variance estimation", CVIU 64(2):300-302, 1996:
    ``sigma = sqrt(pi/2) / (6 (W-2)(H-2)) * sum |I * N|`` with
    ``N = [[1,-2,1],[-2,4,-2],[1,-2,1]]`` (the difference of two Laplacians, which cancels
    smooth structure and keeps pixel noise).

    Args:
        gray: ``(n, 1, H, W)`` float luma on the 0-255 scale, ``H, W >= 3``.

    Returns:
        ``(n,)`` sharpness and ``(n,)`` noise sigma, both on the 0-255 scale.

    Example:
        >>> s, n = sharpness_and_noise(torch.full((1, 1, 8, 8), 128.0))
        >>> float(s[0]), float(n[0])
        (0.0, 0.0)
    """
    kx = _SOBEL_X.to(gray)[None, None]
    gx = F.conv2d(gray, kx)
    gy = F.conv2d(gray, kx.transpose(-1, -2))
    sharp = torch.sqrt(gx * gx + gy * gy).mean(dim=(1, 2, 3))
    resp = F.conv2d(gray, _IMMERKAER.to(gray)[None, None]).abs()
    h, w = gray.shape[-2:]
    noise = resp.sum(dim=(1, 2, 3)) * math.sqrt(math.pi / 2) / (6.0 * (w - 2) * (h - 2))
    return sharp, noise


@register_extractor("sharpness_noise")
class SharpnessNoise(FeatureExtractor):
    """Weight-free per-frame quality proxy: ``[sharpness, 1 / (1 + noise_sigma)]``.

    Both channels are "higher is better". Blur lowers the first (gradients fade) and leaves
    the second about unchanged; added noise lowers the second (Immerkær's sigma rises) while
    raising the first, so :func:`vbench_cn.scorers.duration.sustained_quality` scores the
    worst channel. Computed on the luma at native resolution (blur is a native-scale loss),
    a few frames at a time. This is the documented fallback when MUSIQ weights are absent;
    it knows nothing of aesthetics or artefacts a learned model sees.
    """

    name = "sharpness_noise"
    batch_size = 4096

    def prepare(self, frames: torch.Tensor, *, position: int, info: VideoInfo) -> torch.Tensor | None:
        if frames.shape[0] == 0 or frames.shape[1] < 3 or frames.shape[2] < 3:
            return None
        out = []
        for start in range(0, frames.shape[0], _FRAMES_PER_STEP):
            chunk = frames[start : start + _FRAMES_PER_STEP].to(torch.float32)
            gray = (chunk @ _LUMA)[:, None]
            sharp, noise = sharpness_and_noise(gray)
            out.append(torch.stack([sharp, 1.0 / (1.0 + noise)], dim=1))
        return torch.cat(out)
