"""Long synthetic videos with known answers, at thumbnail size (32x32, 4 fps).

Every clip shares one "scene": a detailed static background (``smooth_texture`` with a
4-pixel grain, so blur is visible) and a bright 6x6 square travelling an outward spiral,
so a healthy clip moves all the time and never loops, ping-pongs or cuts.
The variants break exactly one property each, at a known time.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from vbench_cn.synthetic import smooth_texture

SIDE = 32
FPS = 4.0
SQUARE = 6


def _walk(num_frames: int, seed: int, *, speed: float = 0.75, pitch: float = 3.0) -> np.ndarray:
    """``(T, 2)`` integer top-left positions along an outward Archimedean spiral.

    ``r = 2 + pitch * theta / (2 pi)`` travelled at ``speed`` pixels per frame from a seeded
    start angle and direction: the square never turns back, and successive turns lie
    ``pitch`` pixels apart, so no stretch of the path is ever passed again, forward or
    backward (a random walk in a 32x32 world soon retraces itself). 60 s at 4 fps reach a
    radius of about 12, inside the frame.
    """
    rng = np.random.default_rng(seed)
    theta = np.linspace(0.0, 40.0, 40001)
    radius = 2.0 + pitch * theta / (2 * np.pi)
    arc = np.concatenate(
        [[0.0], np.cumsum(radius[1:] * np.diff(theta))]
    )  # ds = r dtheta (+ dr, small)
    t_theta = np.interp(speed * np.arange(num_frames), arc, theta)
    r = 2.0 + pitch * t_theta / (2 * np.pi)
    angle = rng.uniform(0, 2 * np.pi) + rng.choice([-1.0, 1.0]) * t_theta
    centre = SIDE / 2 - SQUARE / 2
    pos = np.stack([centre + r * np.sin(angle), centre + r * np.cos(angle)], axis=1)
    return np.clip(np.round(pos), 0, SIDE - SQUARE).astype(np.int64)


def scene(num_frames: int, seed: int = 0) -> np.ndarray:
    """``(T, 32, 32, 3)`` uint8: textured background, square on a spiral."""
    background = smooth_texture(SIDE, SIDE, seed, scale=4)
    frames = np.repeat(background[None], num_frames, axis=0)
    for t, (y, x) in enumerate(_walk(num_frames, seed + 1)):
        frames[t, y : y + SQUARE, x : x + SQUARE] = (255, 255, 40)
    return frames


def steady(seconds: float = 60.0, seed: int = 0) -> np.ndarray:
    """Holds for the whole length: moves, keeps its look and sharpness, no loop, no cut."""
    return scene(int(seconds * FPS), seed)


def _gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return img
    radius = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    f = img.astype(np.float64)
    pad = np.pad(f, ((radius, radius), (radius, radius), (0, 0)), mode="edge")
    f = sum(k[i] * pad[i : i + SIDE, radius : radius + SIDE] for i in range(len(k)))
    pad = np.pad(f, ((0, 0), (radius, radius), (0, 0)), mode="edge")
    f = sum(k[i] * pad[:, i : i + SIDE] for i in range(len(k)))
    return np.clip(np.round(f), 0, 255).astype(np.uint8)


def blurring(seconds: float = 60.0, max_sigma: float = 2.0, seed: int = 0) -> np.ndarray:
    """The steady clip with a Gaussian blur growing linearly from 0 to ``max_sigma`` pixels."""
    frames = steady(seconds, seed)
    n = len(frames)
    return np.stack([_gaussian_blur(f, max_sigma * t / (n - 1)) for t, f in enumerate(frames)])


def noising(seconds: float = 60.0, max_noise: float = 40.0, seed: int = 0) -> np.ndarray:
    """The steady clip with Gaussian pixel noise growing linearly from 0 to ``max_noise``."""
    frames = steady(seconds, seed).astype(np.float64)
    rng = np.random.default_rng(seed + 7)
    n = len(frames)
    sigma = max_noise * np.arange(n) / (n - 1)
    noisy = frames + rng.normal(0.0, 1.0, frames.shape) * sigma[:, None, None, None]
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def freezing(seconds: float = 60.0, freeze_at_seconds: float = 30.0, seed: int = 0) -> np.ndarray:
    """Moves until ``freeze_at_seconds``, then holds its last moving frame."""
    frames = steady(seconds, seed)
    k = int(freeze_at_seconds * FPS)
    frames[k:] = frames[k - 1]
    return frames


def looped(clip_seconds: float = 4.0, repeats: int = 4, seed: int = 0) -> np.ndarray:
    """A ``clip_seconds`` clip played ``repeats`` times end to end."""
    return np.concatenate([steady(clip_seconds, seed)] * repeats)


def ping_pong(clip_seconds: float = 4.0, repeats: int = 2, seed: int = 0) -> np.ndarray:
    """A clip played forward then backward, ``repeats`` times (boomerang)."""
    clip = steady(clip_seconds, seed)
    return np.concatenate([clip, clip[::-1]] * repeats)


def with_cuts(
    seconds: float = 60.0, cut_seconds: tuple[float, ...] = (15.0, 30.0, 45.0)
) -> np.ndarray:
    """Unrelated scenes (other background, other walk) joined by hard cuts at known times."""
    edges = [0, *(int(c * FPS) for c in cut_seconds), int(seconds * FPS)]
    return np.concatenate(
        [scene(b - a, seed=10 * (i + 1)) for i, (a, b) in enumerate(pairwise(edges))]
    )


def drifting(seconds: float = 60.0, seed: int = 0) -> np.ndarray:
    """The subject slowly turns into another: background cross-fades from one texture to another."""
    frames = steady(seconds, seed).astype(np.float64)
    other = smooth_texture(SIDE, SIDE, seed + 500, scale=4).astype(np.float64)
    base = smooth_texture(SIDE, SIDE, seed, scale=4).astype(np.float64)
    n = len(frames)
    alpha = (np.arange(n) / (n - 1))[:, None, None, None]
    square = np.all(frames == (255, 255, 40), axis=-1, keepdims=True)
    mixed = (1 - alpha) * base[None] + alpha * other[None]
    return np.where(square, frames, np.round(mixed)).astype(np.uint8)
