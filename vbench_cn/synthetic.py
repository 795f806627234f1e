"""Synthetic videos whose answers are known: for the demo, the tests and the benchmarks.

Every generator returns ``uint8 (T, H, W, 3)`` RGB frames from a seed; :func:`write_video`
encodes them with PyAV. Nothing here is random at import time and nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from vbench_cn.motion_targets import interpolate_box


def write_video(
    path: str | os.PathLike[str],
    frames: np.ndarray,
    fps: float = 8.0,
    *,
    codec: str = "libx264",
    crf: int = 0,
    timestamps_seconds: Sequence[float] | None = None,
) -> Path:
    """Encode ``frames`` (T, H, W, 3) uint8 to ``path``.

    Odd frame sizes use 4:4:4 chroma (4:2:0 needs even sizes). ``timestamps_seconds`` gives
    each frame its own presentation time (variable frame rate).
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t, h, w, _ = frames.shape
    pix_fmt = "yuv420p" if (h % 2 == 0 and w % 2 == 0) else "yuv444p"
    if codec == "libx264rgb":  # lossless RGB (with crf=0): decoded frames equal ``frames`` exactly
        pix_fmt = "rgb24"
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        if codec in ("libx264", "libx264rgb"):
            stream.options = {"crf": str(crf), "preset": "ultrafast", "tune": "zerolatency"}
        if timestamps_seconds is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i in range(t):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[i]), format="rgb24")
            if timestamps_seconds is not None:
                frame.pts = int(round(timestamps_seconds[i] * 1000))
                frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def smooth_texture(height: int, width: int, seed: int = 0, *, scale: int = 16) -> np.ndarray:
    """A smooth colourful image (upsampled low-resolution noise), ``(H, W, 3)`` uint8."""
    rng = np.random.default_rng(seed)
    small = rng.random((max(2, height // scale + 2), max(2, width // scale + 2), 3))
    ys = np.linspace(0, small.shape[0] - 1.001, height)
    xs = np.linspace(0, small.shape[1] - 1.001, width)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    a = small[y0][:, x0]
    b = small[y0][:, x0 + 1]
    c = small[y0 + 1][:, x0]
    d = small[y0 + 1][:, x0 + 1]
    img = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy
    return (img * 255).astype(np.uint8)


def static_clip(
    num_frames: int = 16, height: int = 64, width: int = 64, seed: int = 0
) -> np.ndarray:
    """The same frame repeated: flickering 1.0, consistency 1.0, no motion."""
    return np.repeat(smooth_texture(height, width, seed)[None], num_frames, axis=0)


def alternating_clip(num_frames: int = 16, height: int = 64, width: int = 64) -> np.ndarray:
    """Black and white frames alternating: the worst flicker (score near 0)."""
    frames = np.zeros((num_frames, height, width, 3), np.uint8)
    frames[1::2] = 255
    return frames


def noise_clip(
    num_frames: int = 16, height: int = 64, width: int = 64, seed: int = 0
) -> np.ndarray:
    """Independent uniform noise per frame."""
    return np.random.default_rng(seed).integers(
        0, 256, (num_frames, height, width, 3), dtype=np.uint8
    )


def translating_clip(
    num_frames: int = 16,
    height: int = 64,
    width: int = 64,
    *,
    pixels_per_frame: int = 2,
    seed: int = 0,
) -> np.ndarray:
    """A texture sliding right at a known speed (wrapping around)."""
    base = smooth_texture(height, width * 2, seed)
    return np.stack(
        [np.roll(base, i * pixels_per_frame, axis=1)[:, :width] for i in range(num_frames)]
    )


def scene_cut_clip(
    num_frames: int = 16, height: int = 64, width: int = 64, *, cut_at: int = 8, seed: int = 0
) -> np.ndarray:
    """Two unrelated static scenes with a hard cut at frame ``cut_at``."""
    a = static_clip(cut_at, height, width, seed)
    b = static_clip(num_frames - cut_at, height, width, seed + 1000)
    return np.concatenate([a, b])


def degrading_clip(
    num_frames: int = 16,
    height: int = 64,
    width: int = 64,
    seed: int = 0,
    *,
    max_noise: float = 80.0,
) -> np.ndarray:
    """A static scene with Gaussian noise growing linearly from 0 to ``max_noise``."""
    rng = np.random.default_rng(seed)
    base = smooth_texture(height, width, seed).astype(np.float32)
    out = []
    for i in range(num_frames):
        sigma = max_noise * i / max(1, num_frames - 1)
        out.append(np.clip(base + rng.normal(0, sigma, base.shape), 0, 255))
    return np.stack(out).astype(np.uint8)


def frozen_clip(
    num_frames: int = 16,
    height: int = 64,
    width: int = 64,
    *,
    freeze_at: int = 8,
    pixels_per_frame: int = 2,
    seed: int = 0,
) -> np.ndarray:
    """Moves until ``freeze_at``, then holds the last moving frame."""
    moving = translating_clip(
        num_frames, height, width, pixels_per_frame=pixels_per_frame, seed=seed
    )
    moving[freeze_at:] = moving[freeze_at - 1]
    return moving


def looped_clip(segment: np.ndarray, repeats: int = 4) -> np.ndarray:
    """A segment repeated end to end (a short clip looped to reach a length)."""
    return np.concatenate([segment] * repeats)


def box_path_clip(
    objects: Sequence[tuple[tuple[int, int, int], Sequence[tuple[float, Sequence[float]]]]],
    num_frames: int = 16,
    height: int = 72,
    width: int = 128,
    *,
    seed: int = 0,
    pan_pixels_per_frame: float = 0.0,
) -> np.ndarray:
    """Textured objects moving along boxes over a textured background (motion control).

    Args:
        objects: per object, its RGB colour and its key boxes ``[(t, [x0, y0, x1, y1]), ...]``
            in fractions of the frame (t = clip fraction, linear in between, held outside);
            later objects are drawn over earlier ones.
        num_frames, height, width: clip size; frame ``i`` is at ``t = i / (num_frames - 1)``.
        seed: background texture.
        pan_pixels_per_frame: the background slides left by this much per frame, as when
            the camera pans right (the objects' boxes stay in frame coordinates).

    Returns:
        ``(T, H, W, 3)`` uint8. Each object is its colour with a darker checker pattern, so
        it has texture but its hue stays pure.
    """
    pan = abs(pan_pixels_per_frame) * max(1, num_frames - 1)
    background = smooth_texture(height, width + int(np.ceil(pan)) + 2, seed, scale=8)
    background = (background.astype(np.float32) * 0.5 + 70).astype(np.uint8)  # muted grey-ish
    ys, xs = np.mgrid[0:height, 0:width]
    checker = (((ys // 3) + (xs // 3)) % 2).astype(np.float32)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for i in range(num_frames):
        t = i / max(1, num_frames - 1)
        offset = int(round(pan_pixels_per_frame * i))
        frame = background[:, offset : offset + width].copy()
        for color, keys in objects:
            x0, y0, x1, y1 = interpolate_box(keys, t)
            c0, c1 = int(round(x0 * width)), int(round(x1 * width))
            r0, r1 = int(round(y0 * height)), int(round(y1 * height))
            shade = 1.0 - 0.3 * checker[r0:r1, c0:c1, None]
            frame[r0:r1, c0:c1] = (np.asarray(color, np.float32) * shade).astype(np.uint8)
        frames[i] = frame
    return frames
