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
    ``tiny_pixel_changes``: per consecutive pair, the thumbnails' difference after the
        best small shift (cuts against motion, at the native frame rate).
    ``sharpness_noise``: per frame ``[mean Sobel gradient magnitude, 1 / (1 + noise sigma)]``
        of the luma at native resolution; a weight-free quality proxy whose two channels both
        fall when a video blurs or gets noisy (see :class:`SharpnessNoise`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from vbench_cn.features import FeatureExtractor
from vbench_cn.video import VideoInfo

#: Side of the ``tiny_pixels`` thumbnail.
TINY_SIDE = 32


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
    """Mean of ``values`` ``(T, ...)`` within each window id ``(T,)`` → ``(W, ...)``, float64,
    on the device of ``values``."""
    if values.shape[0] != len(ids):
        raise ValueError(f"{values.shape[0]} values but {len(ids)} window ids")
    num = int(ids.max()) + 1 if len(ids) else 0
    flat = values.reshape(values.shape[0], -1).to(torch.float64)
    index = torch.as_tensor(np.asarray(ids, dtype=np.int64), device=flat.device)
    sums = torch.zeros(num, flat.shape[1], dtype=torch.float64, device=flat.device)
    sums = sums.index_add_(0, index, flat)
    counts = torch.bincount(index, minlength=num).to(torch.float64).clamp_min(1)
    return (sums / counts[:, None]).reshape(num, *values.shape[1:])


def window_starts(times: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Time of the first sample of each window ``(W,)``."""
    num = int(ids.max()) + 1 if len(ids) else 0
    return np.array([float(times[ids == w].min()) for w in range(num)])


# --------------------------------------------------------------------------- extractors


def area_thumbnail(frame: np.ndarray, side: int = TINY_SIDE) -> np.ndarray:
    """Mean of each of ``side x side`` near-equal blocks of an ``(H, W, C)`` uint8 frame.

    Block ``i`` spans rows ``floor(i H / side)`` to ``floor((i+1) H / side)`` (likewise for
    columns): an area (box) downsample summed in integers, one band of rows at a time into
    a preallocated ``(side, W, C)`` buffer, then across columns with ``np.add.reduceat`` on
    that small buffer. About 1 ms for a 1080p frame, with no temporary the size of the
    frame (``np.add.reduceat(frame, ..., dtype=np.uint32)`` would first cast the whole
    frame, 25 MB at 1080p).

    Example:
        >>> area_thumbnail(np.arange(16, dtype=np.uint8).reshape(4, 4, 1), side=2)[..., 0].tolist()
        [[2.5, 4.5], [10.5, 12.5]]
    """
    h, w = frame.shape[:2]
    if h < side or w < side:
        raise ValueError(f"frame {w}x{h} is smaller than the {side}x{side} thumbnail")
    rows = (np.arange(side + 1) * h) // side
    cols = (np.arange(side + 1) * w) // side
    bands = np.empty((side, w, frame.shape[2]), dtype=np.uint32)
    for i in range(side):
        np.sum(frame[rows[i] : rows[i + 1]], axis=0, dtype=np.uint32, out=bands[i])
    sums = np.add.reduceat(bands, cols[:-1], axis=1)
    counts = np.diff(rows)[:, None, None] * np.diff(cols)[None, :, None]
    return (sums / counts).astype(np.float32)


class TinyPixels(FeatureExtractor):
    """Each frame area-averaged to ``32x32`` RGB (0-255 floats), flattened to ``(3072,)``.

    Area averaging (:func:`area_thumbnail`) is an anti-aliased downsample, so the
    thumbnail's pixel noise shrinks with the frame size and differences between thumbnails
    reflect content (motion, cuts, repeats) rather than sensor or compression noise.
    Frames smaller than 32x32 are upsampled (nearest) first.
    """

    name = "tiny_pixels"
    batch_size = 4096
    cpu_batch_size = 4096  # no model: batches only amortise Python overhead
    host_prepare = True  # NumPy integer box sums; a few frames per second of video

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        return thumbnails(frames).reshape(frames.shape[0], -1)


def thumbnails(frames: torch.Tensor) -> torch.Tensor:
    """``uint8 (n, H, W, 3)`` → ``float32 (n, 32, 32, 3)`` area thumbnails (:func:`area_thumbnail`).

    Frames smaller than 32x32 are upsampled (nearest) first.
    """
    if frames.shape[1] < TINY_SIDE or frames.shape[2] < TINY_SIDE:
        size = (max(TINY_SIDE, frames.shape[1]), max(TINY_SIDE, frames.shape[2]))
        frames = F.interpolate(frames.permute(0, 3, 1, 2), size=size, mode="nearest").permute(
            0, 2, 3, 1
        )
    arrays = frames.cpu().numpy()  # host step (host_prepare): a no-op for CPU frames
    return torch.from_numpy(np.stack([area_thumbnail(f) for f in arrays]))


#: Largest shift, in thumbnail pixels, that :func:`shifted_change` compensates: 2 of 32,
#: about 6 % of the frame between two frames (a fast pan at the native rate).
MAX_SHIFT = 2


def shifted_change(a: torch.Tensor, b: torch.Tensor, max_shift: int = MAX_SHIFT) -> float:
    """Smallest mean absolute difference of two ``(S, S, C)`` thumbnails over small shifts.

    ``b`` is compared with ``a`` moved by every ``(dy, dx)`` with ``|dy|, |dx| <=
    max_shift`` thumbnail pixels, on the part where they overlap. A pan or a moving camera
    shifts the picture between two frames and costs little; a cut changes it whatever the
    shift, so motion and cuts separate (the 2-fps difference could not tell them apart on
    fast footage).

    Example:
        >>> a = torch.arange(64.0).reshape(8, 8, 1)
        >>> shifted_change(a, torch.roll(a, 1, dims=1))  # a pan by one pixel
        0.0
    """
    side = a.shape[0]
    best = math.inf
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            ya, yb = slice(max(0, dy), side + min(0, dy)), slice(max(0, -dy), side + min(0, -dy))
            xa, xb = slice(max(0, dx), side + min(0, dx)), slice(max(0, -dx), side + min(0, -dx))
            best = min(best, float((a[ya, xa] - b[yb, xb]).abs().mean()))
    return best


class ThumbnailChanges(FeatureExtractor):
    """Per consecutive pair of sampled frames, how much the picture changed: ``(T-1,)``.

    The :func:`shifted_change` of their 32x32 area thumbnails, on the 0-255 scale. Meant
    for the native frame rate (``unintended_cuts``): there motion between two frames is
    small and mostly a shift, while a hard cut changes the whole picture in one step. One
    number per frame is kept, so an hour of video costs kilobytes.
    """

    name = "tiny_pixel_changes"
    host_prepare = True  # NumPy area thumbnails
    overlap = 1
    batch_size = 4096
    cpu_batch_size = 4096  # no model: batches only amortise Python overhead

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] < 2:
            return None
        thumbs = thumbnails(frames)
        changes = [shifted_change(thumbs[i], thumbs[i + 1]) for i in range(len(thumbs) - 1)]
        return torch.tensor(changes, dtype=torch.float64)


#: Luma weights of ITU-R BT.601.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def sharpness_and_noise(image: np.ndarray, *, strip_rows: int = 64) -> tuple[float, float]:
    """Mean Sobel gradient magnitude and Immerkær's noise sigma of one image's luma.

    Sharpness: mean of ``sqrt(Gx^2 + Gy^2)`` with 3x3 Sobel kernels (a Tenengrad-style focus
    measure, Krotkov 1988; Pertuz et al., Pattern Recognition 46(5), 2013). Noise: Immerkær,
    "Fast noise variance estimation", CVIU 64(2):300-302, 1996:
    ``sigma = sqrt(pi/2) / (6 (W-2)(H-2)) * sum |I * N|`` with
    ``N = [[1,-2,1],[-2,4,-2],[1,-2,1]]`` (the difference of two Laplacians, which cancels
    smooth structure and keeps pixel noise). Both kernels are separable and applied as
    shifted differences in float32 over bands of ``strip_rows`` rows (plus a 2-row overlap),
    so no temporary is larger than a band (about 0.1 s and 0.5 MB for a 1080p frame).

    Args:
        image: ``(H, W)`` luma or ``(H, W, 3)`` RGB (BT.601 luma is taken), 0-255 scale,
            ``H, W >= 3``.
        strip_rows: rows of output per band.

    Returns:
        Sharpness and noise sigma, both on the 0-255 scale.

    Example:
        >>> sharpness_and_noise(np.full((8, 8), 128.0, dtype=np.float32))
        (0.0, 0.0)
    """
    h, w = image.shape[:2]
    grad_sum = 0.0
    resp_sum = 0.0
    for r0 in range(0, h - 2, strip_rows):
        band = image[r0 : min(h, r0 + strip_rows + 2)]
        g = (
            band.astype(np.float32) @ _LUMA
            if band.ndim == 3
            else band.astype(np.float32, copy=False)
        )
        dx = g[:, 2:] - g[:, :-2]
        gx = dx[:-2] + 2 * dx[1:-1] + dx[2:]
        dy = g[2:] - g[:-2]
        gy = dy[:, :-2] + 2 * dy[:, 1:-1] + dy[:, 2:]
        grad_sum += float(np.sqrt(gx * gx + gy * gy).sum(dtype=np.float64))
        lap = g[:, :-2] - 2 * g[:, 1:-1] + g[:, 2:]
        resp_sum += float(np.abs(lap[:-2] - 2 * lap[1:-1] + lap[2:]).sum(dtype=np.float64))
    interior = (w - 2) * (h - 2)
    return grad_sum / interior, resp_sum * math.sqrt(math.pi / 2) / (6.0 * interior)


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
    cpu_batch_size = 4096  # no model: batches only amortise Python overhead
    host_prepare = True  # NumPy band-by-band filters; a few frames per second of video

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0 or frames.shape[1] < 3 or frames.shape[2] < 3:
            return None
        out = []
        # host step (host_prepare), band by band: no frame-sized float temporary
        for frame in frames.cpu().numpy():
            sharp, noise = sharpness_and_noise(frame)
            out.append((sharp, 1.0 / (1.0 + noise)))
        return torch.tensor(out, dtype=torch.float32)
