"""Duration-family scorers: how a long video holds up over time, window by window.

Every scorer here reads one small feature per sampled frame (``(T,)``, ``(T, K)`` or
``(T, D)``), places sample ``k`` at ``k * duration / T`` seconds
(:func:`vbench_cn.features.windows.sample_times`) and pools into windows of
``window_seconds`` (2 s by default, VBench-Long's clip length). Nothing here depends on the
video's frame size, and the work is quadratic at most in the number of windows or sampled
frames (a few hundred for a 10-minute video), and bounded: beyond :data:`MAX_WINDOWS`
windows (2.3 h of 2-s windows) a pairwise score is not applicable and a pairwise detail is
computed on evenly thinned windows (:data:`MAX_SLOPE_POINTS`), so no probe value sizes an
unbounded allocation.

Dimensions:
    ``sustained_quality``: quality retained relative to the opening windows.
    ``long_range_consistency``: similarity to the first window and between distant windows.
    ``motion_persistence``: share of windows that still move.
    ``loop_detection``: share of the video that is not a repeat of earlier content.
    ``unintended_cuts``: ``exp(-cuts_per_minute / scale)``.
    ``event_order``: whether the prompt's events peak in the prompt's order.

:func:`vbench_cn.aggregation.gated_category_score` combines them with the length into the
Duration category.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from vbench_cn.features.outputs import TaggedEmbeddings
from vbench_cn.features.windows import pool_windows, sample_times, window_ids, window_starts
from vbench_cn.scorers import NotApplicable, Score, scorer
from vbench_cn.video import VideoInfo

# --------------------------------------------------------------------------- shared helpers

#: Most windows a scorer compares pairwise: 4096 windows are a 64 MB similarity matrix and
#: 8 million pairs; a day-long video's 43,200 would be 7.5 GB and 930 million pairs.
MAX_WINDOWS = 4096

#: Most points :func:`theil_sen_slope` pairs: 1024 evenly spaced windows (34 min of 2-s
#: windows) are half a million slopes; a detail, so thinning beats skipping.
MAX_SLOPE_POINTS = 1024


def _duration(video: VideoInfo | None, num_samples: int) -> float:
    if video is not None and video.duration_seconds > 0:
        return float(video.duration_seconds)
    return float(num_samples)  # unknown duration: one second per sample, stated in details


def _as_tensor(features: Any, name: str) -> torch.Tensor:
    if features is None:
        raise NotApplicable(f"no {name} extracted")
    if isinstance(features, TaggedEmbeddings):  # from a language router
        features = features.embeddings
    # Per-frame features are small and the analysis is NumPy: read them on the host.
    x = torch.as_tensor(features).to("cpu", torch.float64)
    if x.numel() == 0:
        raise NotApplicable(f"no {name} extracted")
    return x


def _windows(
    num_samples: int, video: VideoInfo | None, window_seconds: float
) -> tuple[np.ndarray, np.ndarray]:
    times = sample_times(num_samples, _duration(video, num_samples))
    return times, window_ids(times, window_seconds)


def theil_sen_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Median of pairwise slopes ``(y_j - y_i) / (x_j - x_i)`` (Theil 1950; Sen 1968).

    Robust to a few outlying windows (a single bad window moves the slope very little).
    Beyond :data:`MAX_SLOPE_POINTS` points, on that many evenly spaced ones (pairs grow with
    the square).

    Example:
        >>> theil_sen_slope(np.arange(5.0), 2 * np.arange(5.0) + 1)
        2.0
    """
    if len(x) > MAX_SLOPE_POINTS:
        keep_points = np.linspace(0, len(x) - 1, MAX_SLOPE_POINTS).round().astype(np.int64)
        x, y = x[keep_points], y[keep_points]
    i, j = np.triu_indices(len(x), k=1)
    dx = x[j] - x[i]
    keep = dx != 0
    if not keep.any():
        return 0.0
    return float(np.median((y[j] - y[i])[keep] / dx[keep]))


def pair_distances(
    x: torch.Tensor, metric: Literal["mad", "rms", "cosine"] = "mad"
) -> torch.Tensor:
    """Distance between consecutive rows of ``(T, D)`` features → ``(T-1,)``.

    ``mad``: mean absolute difference (VBench temporal flickering's per-pair measure);
    ``rms``: root mean squared difference; ``cosine``: ``1 - cos``.
    """
    return _distance_rows(x[:-1], x[1:], metric)


def _distance_rows(a: torch.Tensor, b: torch.Tensor, metric: str) -> torch.Tensor:
    if metric == "mad":
        return (a - b).abs().mean(dim=1)
    if metric == "rms":
        return (a - b).pow(2).mean(dim=1).sqrt()
    if metric == "cosine":
        return 1.0 - torch.nn.functional.cosine_similarity(a, b, dim=1, eps=1e-12)
    raise ValueError(f"unknown metric {metric!r}; allowed: mad, rms, cosine")


def distance_matrix(x: torch.Tensor, metric: Literal["rms", "cosine"] = "rms") -> torch.Tensor:
    """All-pairs distances of ``(T, D)`` features → ``(T, T)`` (``rms`` or ``1 - cos``)."""
    x = x.to(torch.float64)
    if metric == "rms":
        sq = (x * x).sum(dim=1)
        d2 = (sq[:, None] + sq[None, :] - 2.0 * x @ x.T).clamp_min(0.0) / x.shape[1]
        return d2.sqrt()
    if metric == "cosine":
        n = torch.nn.functional.normalize(x, dim=1, eps=1e-12)
        return 1.0 - n @ n.T
    raise ValueError(f"unknown metric {metric!r}; allowed: rms, cosine")


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, length)`` of each run of True in a 1-D boolean array."""
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(s), int(e - s)) for s, e in zip(edges[::2], edges[1::2], strict=True)]


# --------------------------------------------------------------------------- 1. sustained quality


@scorer("duration.sustained_quality")
def sustained_quality(
    quality: torch.Tensor,
    *,
    window_seconds: float = 2.0,
    reference_seconds: float = 4.0,
    video: VideoInfo | None = None,
) -> Score:
    """Share of the opening quality that the rest of the video keeps (1 = holds throughout).

    Per window ``w`` the mean quality ``q_w`` (per channel) is divided by the reference
    ``q_ref``, the mean over the windows starting within the first ``reference_seconds``,
    and capped at 1: ``r_w = min(1, q_w / q_ref)``. The channel score is the mean of ``r_w``
    over the windows after the reference (the area under the retention curve, so a drop
    late in the video costs in proportion to how long it lasts); the video's score is the
    worst channel's. Relative to the video's own opening on purpose: absolute quality is the
    quality category's business (imaging, aesthetic), this asks whether it *lasts*, as
    VBench-Long's per-clip scoring would show as a trend (``vbench2_beta_long``). Improving
    is not rewarded (cap at 1), so a bad opening cannot be bought back.

    Args:
        quality: ``(T,)`` or ``(T, K)`` per-frame quality, every channel higher-is-better and
            positive (MUSIQ's 0-100 MOS, or ``sharpness_noise``'s two channels).
        window_seconds: window length.
        reference_seconds: the opening span that defines the reference quality.
        video: the probe (for the duration).

    Example:
        >>> q = torch.tensor([10.0] * 8 + [5.0] * 8)
        >>> round(sustained_quality(q, window_seconds=2.0, reference_seconds=2.0).value, 4)
        0.7143
    """
    q = _as_tensor(quality, "quality")
    q = q[:, None] if q.dim() == 1 else q.reshape(q.shape[0], -1)
    times, ids = _windows(q.shape[0], video, window_seconds)
    if ids.max() < 1:
        raise NotApplicable(f"needs at least 2 windows of {window_seconds:g} s")
    qw = pool_windows(q, ids).numpy()  # (W, K)
    starts = window_starts(times, ids)
    ref_mask = starts < max(reference_seconds, 1e-9)
    ref_mask[0] = True
    if ref_mask.all():
        ref_mask[1:] = False
    ref = qw[ref_mask].mean(axis=0)
    if not np.all(ref > 0):
        raise NotApplicable("reference quality is not positive (needs a positive quality scale)")
    retention = np.minimum(1.0, np.maximum(0.0, qw / ref))  # (W, K)
    later = retention[~ref_mask]
    per_channel = later.mean(axis=0)
    worst = int(np.argmin(per_channel))
    minutes = starts / 60.0
    tail = starts >= starts[-1] - reference_seconds + 1e-9
    return Score(
        float(per_channel[worst]),
        {
            "windows": len(starts),
            "window_seconds": window_seconds,
            "reference": [round(float(v), 4) for v in ref],
            "per_channel": [round(float(v), 4) for v in per_channel],
            "worst_channel": worst,
            "end_retention": round(float(np.minimum(1.0, qw[tail, worst].mean() / ref[worst])), 4),
            "slope_per_minute": round(theil_sen_slope(minutes, qw[:, worst] / ref[worst]), 4),
        },
    )


# ------------------------------------------------------------------ 2. long-range consistency


@scorer("duration.long_range_consistency")
def long_range_consistency(
    embeddings: torch.Tensor,
    *,
    window_seconds: float = 2.0,
    min_lag_seconds: float = 10.0,
    center_frames: bool = False,
    video: VideoInfo | None = None,
) -> Score:
    """Similarity of distant windows: ``(S_first + S_far) / 2``.

    Window embeddings ``e_w`` are the renormalised means of L2-normalised frame embeddings.
    ``S_first = mean_{w>=1} max(0, cos(e_0, e_w))`` (does the end still look like the
    start?) and ``S_far = mean_{j-i>=k} max(0, cos(e_i, e_j))`` over every pair of windows
    at least ``k = ceil(min_lag_seconds / window_seconds)`` windows apart (does any part
    drift from any other?). This is VBench subject consistency's "first + previous" rule
    (``vbench/subject_consistency.py``, cosines clamped at 0) moved from neighbouring frames
    to distant windows, which is what identity drift over a minute shows up in; VBench-Long's
    "fast" clip-to-clip term (``vbench2_beta_long``) plays the same role. Videos shorter than
    the lag use the largest lag they have (``details["lag_windows"]``).

    Args:
        embeddings: ``(T, D)`` per-frame embeddings (DINO CLS tokens, or pixels).
        window_seconds: window length.
        min_lag_seconds: the shortest time apart that counts as "distant".
        center_frames: subtract each frame's mean first (Pearson correlation), for raw-pixel
            embeddings whose cosines would otherwise all be near 1.
        video: the probe (for the duration).

    Example:
        >>> long_range_consistency(torch.ones(20, 4), window_seconds=2.0).value
        1.0
    """
    x = _as_tensor(embeddings, "embeddings")
    x = x.reshape(x.shape[0], -1)
    if center_frames:
        x = x - x.mean(dim=1, keepdim=True)
    _, ids = _windows(x.shape[0], video, window_seconds)
    if ids.max() < 1:
        raise NotApplicable(f"needs at least 2 windows of {window_seconds:g} s")
    if ids.max() + 1 > MAX_WINDOWS:
        raise NotApplicable(
            f"{ids.max() + 1} windows of {window_seconds:g} s: comparing every pair is beyond"
            f" the limit of {MAX_WINDOWS} windows"
        )
    frames = torch.nn.functional.normalize(x, dim=1, eps=1e-12)
    win = torch.nn.functional.normalize(pool_windows(frames, ids), dim=1, eps=1e-12)
    sim = (win @ win.T).clamp_min(0.0).numpy()
    n = sim.shape[0]
    lag = min(max(1, math.ceil(min_lag_seconds / window_seconds - 1e-9)), n - 1)
    i, j = np.triu_indices(n, k=lag)
    s_first = float(sim[0, 1:].mean())
    s_far = float(sim[i, j].mean())
    return Score(
        0.5 * (s_first + s_far),
        {
            "windows": n,
            "lag_windows": lag,
            "to_first": round(s_first, 4),
            "far_pairs": round(s_far, 4),
            "min_far_pair": round(float(sim[i, j].min()), 4),
            "last_to_first": round(float(sim[0, -1]), 4),
        },
    )


# --------------------------------------------------------------------------- 3. motion persistence


def _pair_motion(features: torch.Tensor, metric: Literal["mad", "rms", "cosine"]) -> torch.Tensor:
    """``(T-1,)`` pair motion: given as is (1-D, e.g. RAFT), or from consecutive features."""
    if features.dim() == 1:
        return features
    x = features.reshape(features.shape[0], -1)
    if x.shape[0] < 2:
        raise NotApplicable("needs at least 2 sampled frames")
    return pair_distances(x, metric)


def _asks_for_motion(prompt: Any, static_tags: Sequence[str]) -> bool:
    if prompt is None:
        return True
    tags = set(getattr(prompt, "tags", ()) or ())
    return not (tags & set(static_tags))


@scorer("duration.motion_persistence")
def motion_persistence(
    motion: torch.Tensor,
    *,
    window_seconds: float = 2.0,
    threshold: float = 1.0,
    metric: Literal["mad", "rms", "cosine"] = "mad",
    static_tags: Sequence[str] = ("temporal_flickering",),
    video: VideoInfo | None = None,
    prompt: Any = None,
) -> Score:
    """Share of windows whose mean motion exceeds ``threshold`` (1 = moves to the end).

    A window's motion is the mean of its pair motions (pair ``k`` = samples ``k``, ``k+1``,
    placed at the later sample). Pair motion is read as given when ``motion`` is 1-D (a
    per-pair flow magnitude) or computed from consecutive per-frame features with
    ``metric`` (``mad`` on ``tiny_pixels``: the mean absolute difference of 32x32
    thumbnails on the 0-255 scale, VBench temporal flickering's measure at thumbnail size).
    A freeze is a run of windows below the threshold; ``details`` gives where the last
    frozen run starts and the longest one. Prompts tagged with one of ``static_tags``
    (static scenes) are not applicable: stillness there is asked for, and is neither
    penalised nor rewarded. Prompts of unknown content are assumed to ask for motion; a
    ``long_multi_event`` prompt (several ordered actions) always does.

    Args:
        motion: ``(T-1,)`` pair motion or ``(T, D)`` per-frame features.
        window_seconds: window length.
        threshold: least mean pair motion of a moving window, in the feature's units.
        metric: how to compare consecutive features (ignored for 1-D input).
        static_tags: prompt tags whose scenes are meant to be still.
        video: the probe (for the duration).
        prompt: the prompt (for its tags).

    Example:
        >>> m = torch.tensor([5.0] * 7 + [0.0] * 8)
        >>> motion_persistence(m, window_seconds=2.0).value
        0.5
    """
    if not _asks_for_motion(prompt, static_tags):
        raise NotApplicable("static-scene prompt: stillness is asked for")
    pm = _pair_motion(_as_tensor(motion, "motion"), metric)
    num_samples = pm.shape[0] + 1
    times, _ = _windows(num_samples, video, window_seconds)
    ids = window_ids(times[1:], window_seconds)
    if ids.max() < 1:
        raise NotApplicable(f"needs at least 2 windows of {window_seconds:g} s")
    wm = pool_windows(pm, ids).numpy()
    moving = wm > threshold
    starts = window_starts(times[1:], ids)
    frozen_runs = _runs(~moving)
    longest = max((n for _, n in frozen_runs), default=0)
    trailing = frozen_runs[-1][0] if frozen_runs and sum(frozen_runs[-1]) == len(moving) else None
    return Score(
        float(moving.mean()),
        {
            "windows": len(moving),
            "moving_windows": int(moving.sum()),
            "frozen_from_seconds": None if trailing is None else round(float(starts[trailing]), 3),
            "longest_frozen_seconds": round(longest * window_seconds, 3),
            "median_motion": round(float(np.median(wm)), 4),
        },
    )


# --------------------------------------------------------------------------- 4. loop detection


@scorer("duration.loop_detection")
def loop_detection(
    embeddings: torch.Tensor,
    *,
    min_repeat_seconds: float = 2.0,
    duplicate_threshold: float = 4.0,
    duplicate_motion_ratio: float = 0.8,
    change_threshold: float = 12.0,
    return_ratio: float = 1.25,
    max_samples: int = 2400,
    metric: Literal["rms", "cosine"] = "rms",
    video: VideoInfo | None = None,
) -> Score:
    """``1 - `` the share of sampled frames that repeat earlier content (1 = no loop).

    From the self-similarity matrix ``D(a, b)`` of the sampled frames (``rms`` distance of
    32x32 thumbnails on the 0-255 scale by default), ``b`` is a *near-duplicate* of ``a``
    when ``D(a, b) <= max(duplicate_threshold, duplicate_motion_ratio * m)``, ``m`` the
    smaller of the two frames' largest distance to an adjacent sample (a repeat sampled out
    of phase lies within one step of motion of its original). A near-duplicate is a
    *return* when the video went away in between, ``max_{a<m<b} D(a, m) >= max(change_threshold,
    return_ratio * D(a, b))``, so a held or frozen shot is not a loop. A *repeated segment*
    is a run of near-duplicates along a diagonal ``b - a = lag`` (a loop: the same order at
    a constant lag) or an anti-diagonal ``a + b = const`` (a ping-pong: the same frames in
    reverse order) that holds a run of at least ``min_repeat_seconds`` of returns. The
    whole near-duplicate run counts, so the frames right after a ping-pong's turn, which
    never went far from their mirror images, are repeats too. The later frames ``b`` of
    every repeated segment are the repeats; the score is ``1 - repeated / T``: a clip played
    three times scores about 1/3, four times 1/4, forward then backward 1/2, a video without
    repeats 1. Self-similarity matrices are the standard tool for repetition in sequences
    (Foote, "Visualizing music and audio using self-similarity", ACM MM 1999).

    Sampling matters: at 2 frames/s a repeat is up to a quarter second out of phase with
    its original, farther than one step of fast motion, so a 5.3-s clip looped three times
    read 0.47 and a ping-pong 0.41 (the spec samples 8 frames/s). Work is quadratic in T:
    beyond ``max_samples`` the samples are thinned evenly (``details["samples_used"]``).

    Args:
        embeddings: ``(T, D)`` per-frame features (``tiny_pixels`` by default).
        min_repeat_seconds: shortest run of returns that makes a repeated segment.
        duplicate_threshold: largest distance of near-duplicate frames (absolute floor).
        duplicate_motion_ratio: near-duplicate tolerance as a share of the local motion.
        change_threshold: least distance the video must move away between a frame and its
            return.
        return_ratio: how many times closer than its farthest excursion a return must be.
        max_samples: most samples compared (memory: about 40 bytes times its square).
        metric: ``rms`` (pixels, 0-255) or ``cosine`` (``1 - cos``, learned embeddings).
        video: the probe (for the duration).

    Example:
        >>> seg = torch.arange(8.0)[:, None].repeat(1, 4) * 10
        >>> round(loop_detection(torch.cat([seg] * 4), min_repeat_seconds=2.0).value, 4)
        0.25
    """
    x = _as_tensor(embeddings, "embeddings")
    x = x.reshape(x.shape[0], -1)
    t_all = x.shape[0]
    if t_all < 3:
        raise NotApplicable("needs at least 3 sampled frames")
    if t_all > max_samples:
        x = x[
            torch.from_numpy(
                np.unique(np.linspace(0, t_all - 1, max_samples).round()).astype(np.int64)
            )
        ]
    t = x.shape[0]
    duration = _duration(video, t_all)
    step = duration / t
    min_len = max(1, math.ceil(min_repeat_seconds / step - 1e-9))
    max_gap = max(1, round(0.25 / step))
    d = distance_matrix(x, metric).numpy().astype(np.float32)
    upper = np.where(np.triu(np.ones((t, t), dtype=bool), k=1), d, -np.inf)
    went_away = np.maximum.accumulate(upper, axis=1)  # went_away[a, j] = max_{a<m<=j} D(a, m)
    del upper
    away = np.full((t, t), -np.inf, dtype=np.float32)
    away[:, 1:] = went_away[:, :-1]  # away[a, b] = max_{a<m<b} D(a, m)
    del went_away
    adjacent = np.diagonal(d, offset=1)
    motion = np.zeros(t, dtype=np.float32)
    motion[:-1] = adjacent
    motion[1:] = np.maximum(motion[1:], adjacent)
    tol = np.maximum(
        duplicate_threshold, duplicate_motion_ratio * np.minimum(motion[:, None], motion[None, :])
    )
    near = np.triu(d <= tol, k=1)
    returns = near & (away >= np.maximum(change_threshold, return_ratio * d))
    del away, tol, d
    repeated = np.zeros(t, dtype=bool)
    found: list[dict[str, Any]] = []
    for lag in range(2, t):
        for start, length in _repeated_runs(
            np.diagonal(near, offset=lag), np.diagonal(returns, offset=lag), min_len, max_gap
        ):
            repeated[start + lag : start + lag + length] = True
            found.append(
                {
                    "kind": "loop",
                    "lag_seconds": round(lag * step, 3),
                    "from_seconds": round((start + lag) * step, 3),
                    "seconds": round(length * step, 3),
                }
            )
    # anti-diagonal a + b = c becomes diagonal offset (t - 1 - c) of the flipped matrices
    flipped_near, flipped_returns = near[:, ::-1], returns[:, ::-1]
    for offset in range(-(t - 1), t):
        diag = np.diagonal(flipped_returns, offset=offset)
        if not diag.any():
            continue
        c = t - 1 - offset
        a0 = max(0, -offset)  # row of the diagonal's first element
        for start, length in _repeated_runs(
            np.diagonal(flipped_near, offset=offset), diag, min_len, max_gap
        ):
            rows = a0 + start + np.arange(length)
            repeated[c - rows] = True
            found.append(
                {
                    "kind": "ping_pong",
                    "turn_seconds": round(c / 2 * step, 3),
                    "from_seconds": round(float((c - rows).min()) * step, 3),
                    "seconds": round(length * step, 3),
                }
            )
    share = float(repeated.mean())
    found.sort(key=lambda f: -f["seconds"])
    return Score(
        1.0 - share,
        {
            "frames": t_all,
            "samples_used": t,
            "repeated_seconds": round(float(repeated.sum()) * step, 3),
            "repeated_share": round(share, 4),
            "segments": found[:5],
            "num_segments": len(found),
        },
    )


def _repeated_runs(
    near: np.ndarray, returns: np.ndarray, min_len: int, max_gap: int
) -> list[tuple[int, int]]:
    """Runs of ``near`` (gaps of up to ``max_gap`` bridged) holding ``min_len`` returns or more.

    A gap is a repeat sampled too far out of phase with its original, typically right at a
    cut inside the repeated clip; bridging it keeps one repeated segment in one piece.

    Example:
        >>> near = np.array([0, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1], dtype=bool)
        >>> back = np.array([0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1, 0], dtype=bool)
        >>> _repeated_runs(near, back, 3, max_gap=1)
        [(1, 6)]
    """
    bridged = near.copy()
    for start, length in _runs(~near):
        if length <= max_gap and start > 0 and start + length < len(near):
            bridged[start : start + length] = True
    counts = np.concatenate([[0], np.cumsum(returns)])
    return [
        (start, length)
        for start, length in _runs(bridged)
        if counts[start + length] - counts[start] >= min_len
    ]


# --------------------------------------------------------------------------- 5. unintended cuts


def detect_cuts(
    distances: np.ndarray, *, ratio: float, min_jump: float, neighbour_pairs: int
) -> np.ndarray:
    """Indices of pairs whose change stands out from every pair around it: hard cuts.

    Pair ``k`` is a cut when ``d_k >= min_jump`` and ``d_k >= ratio * max(d_j)`` over the
    pairs ``j`` within ``neighbour_pairs`` on either side (``k`` excluded). At the native
    frame rate a cut is one large step; motion (even fast), a fade or a dissolve spreads
    its change over many similar steps, and a flash makes two adjacent spikes that mute
    each other, so none of those is a cut. Comparing with the largest neighbour rather than
    a mean or median (PySceneDetect's ``AdaptiveDetector`` compares with the mean) also
    keeps alternating steps, such as duplicated frames between moving ones, from reading as
    spikes.

    Example:
        >>> rule = dict(ratio=3, min_jump=5, neighbour_pairs=2)
        >>> detect_cuts(np.array([1.0, 1, 1, 40, 1, 1, 1]), **rule).tolist()  # a cut
        [3]
        >>> detect_cuts(np.array([1.0, 9, 10, 11, 10, 9, 1]), **rule).tolist()  # a fade
        []
    """
    d = np.asarray(distances, dtype=np.float64)
    n = len(d)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    w = max(1, int(neighbour_pairs))
    padded = np.concatenate([np.zeros(w), d, np.zeros(w)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * w + 1)  # (n, 2w+1)
    around = np.maximum(windows[:, :w].max(axis=1), windows[:, w + 1 :].max(axis=1))
    return np.flatnonzero((d >= min_jump) & (d >= ratio * around)).astype(np.int64)


@scorer("duration.unintended_cuts")
def unintended_cuts(
    embeddings: torch.Tensor,
    *,
    ratio: float = 3.0,
    min_jump: float = 15.0,
    neighbour_seconds: float = 0.25,
    scale_per_minute: float = 2.0,
    metric: Literal["mad", "rms", "cosine"] = "mad",
    video: VideoInfo | None = None,
    prompt: Any = None,
) -> Score:
    """``exp(-cuts_per_minute / scale_per_minute)`` for prompts that ask for one shot.

    Read at the native frame rate: ``tiny_pixel_changes`` gives, for every pair of
    consecutive frames, how much the 32x32 thumbnail changed after the best small shift
    (0-255), so a pan costs little and a cut a lot. A hard cut is a pair that stands out
    from every pair within ``neighbour_seconds`` (:func:`detect_cuts`); fades, dissolves and
    flashes do not (they are gradual or come in pairs) and are not counted. Sampling every
    half second could not tell a cut from fast motion (four hard cuts of a fast city clip
    read as none). The rate is per minute so long and short videos compare; the exponential
    maps 0 cuts to 1 and falls smoothly: with the default scale of 2 cuts/minute, one cut in
    a minute scores 0.61, one in 30 s 0.37, one in 10 s 0.05. Prompts whose metadata asks
    for several shots (``meta.shots > 1``) are not applicable; every suite prompt describes
    one continuous shot.

    Args:
        embeddings: ``(T-1,)`` changes between consecutive frames, or ``(T, D)`` per-frame
            features (compared with ``metric``).
        ratio: how many times its largest neighbour a cut's change must be.
        min_jump: least change of a cut, in the feature's units.
        neighbour_seconds: how far on either side the neighbours reach (at least one pair).
        scale_per_minute: cuts per minute that bring the score to ``1/e``.
        metric: how to compare consecutive features (ignored for 1-D input).
        video: the probe (for the duration).
        prompt: the prompt (for ``meta.shots``).

    Example:
        >>> x = torch.cat([torch.zeros(60, 4), torch.full((60, 4), 100.0)])
        >>> round(unintended_cuts(x).value, 4)  # one cut in 120 s (no probe: 1 s per sample)
        0.7788
    """
    shots = (getattr(prompt, "meta", None) or {}).get("shots", 1) if prompt is not None else 1
    if isinstance(shots, (int, float)) and shots > 1:
        raise NotApplicable(f"prompt asks for {shots:g} shots")
    pm = _pair_motion(_as_tensor(embeddings, "embeddings"), metric).numpy()
    num_samples = len(pm) + 1
    duration = _duration(video, num_samples)
    step = duration / num_samples
    cuts = detect_cuts(
        pm,
        ratio=ratio,
        min_jump=min_jump,
        neighbour_pairs=max(1, round(neighbour_seconds / step)),
    )
    per_minute = len(cuts) / (duration / 60.0)
    return Score(
        math.exp(-per_minute / scale_per_minute),
        {
            "cuts": len(cuts),
            "cut_seconds": [round(float((k + 1) * step), 3) for k in cuts[:20]],
            "cuts_per_minute": round(per_minute, 4),
            "duration_seconds": round(duration, 3),
            "largest_change": round(float(pm.max()), 3) if len(pm) else 0.0,
        },
    )


# --------------------------------------------------------------------------- 6. event order


def monotone_alignment(z: np.ndarray) -> tuple[float, np.ndarray]:
    """Best in-order segmentation of ``W`` windows into ``n`` events (dynamic programming).

    Maximises ``sum_w z[w, a(w)]`` over assignments ``a`` that are non-decreasing, start at
    event 0, end at event ``n-1`` and never skip an event (each event gets a contiguous,
    non-empty run of windows): the monotone alignment of dynamic time warping restricted to
    steps (+1 window, +0 or +1 event) (Sakoe & Chiba 1978).

    Args:
        z: ``(W, n)`` window-event scores, ``W >= n``.

    Returns:
        The best total and ``(n,)`` the first window of each event.

    Example:
        >>> total, starts = monotone_alignment(np.array([[1.0, 0], [1, 0], [0, 1]]))
        >>> total, starts.tolist()
        (3.0, [0, 2])
    """
    w, n = z.shape
    best = np.full((w, n), -np.inf)
    came_from_prev = np.zeros((w, n), dtype=bool)
    best[0, 0] = z[0, 0]
    for i in range(1, w):
        stay = best[i - 1]
        move = np.concatenate([[-np.inf], best[i - 1, :-1]])
        came_from_prev[i] = move > stay
        best[i] = np.maximum(stay, move) + z[i]
    starts = np.zeros(n, dtype=np.int64)
    e = n - 1
    for i in range(w - 1, 0, -1):
        if came_from_prev[i, e]:
            starts[e] = i
            e -= 1
    return float(best[-1, -1]), starts


def order_concordance(positions: np.ndarray) -> tuple[float, float]:
    """Share of event pairs ``i < j`` with ``positions[i] < positions[j]`` (ties count ½).

    Returns the share and Kendall's tau-a ``= 2 * share - 1`` (Kendall 1938).

    Example:
        >>> order_concordance(np.array([0, 2, 1]))
        (0.6666666666666666, 0.33333333333333326)
    """
    i, j = np.triu_indices(len(positions), k=1)
    diff = np.sign(positions[j] - positions[i]).astype(np.float64)
    share = float(((diff > 0) + 0.5 * (diff == 0)).mean())
    return share, 2.0 * share - 1.0


@scorer("duration.event_order")
def event_order(
    embeddings: torch.Tensor | TaggedEmbeddings,
    *,
    window_seconds: float = 2.0,
    video: VideoInfo | None = None,
    text_features: torch.Tensor | None = None,
) -> Score:
    """Whether the prompt's events appear in the prompt's order (1 = in order, 0 = reversed).

    Window embeddings (means of L2-normalised frame embeddings, e.g. CLIP image embeddings)
    are compared with each event's text embedding (``text = "meta.events"`` in the spec: the
    runner encodes every event, in the prompt's language). Each event's cosine curve over
    the windows is standardised (z-score), which removes how much CLIP likes a text in
    general, and the event's *peak* is the window where its z is highest. The score is the
    share of event pairs whose peaks come in the prompt's order (ties ½), i.e.
    ``(tau_a + 1) / 2`` with Kendall's tau between prompt order and peak order. ``details``
    adds the best in-order segmentation (:func:`monotone_alignment`) and its mean z, which
    says how well an in-order story fits at all.

    Args:
        embeddings: ``(T, D)`` per-frame image embeddings, or ``TaggedEmbeddings`` of a
            language-routed backbone (``style_clip``: OpenAI CLIP for English prompts,
            Chinese-CLIP for Chinese ones, whose text tower reads Chinese).
        window_seconds: window length.
        video: the probe (for the duration).
        text_features: ``(n, D)`` event text embeddings, in the prompt's order, ``n >= 2``.

    Example:
        >>> img = torch.eye(3).repeat_interleave(4, dim=0)  # 3 segments of 4 samples, 1 s each
        >>> event_order(img, window_seconds=2.0, text_features=torch.eye(3)).value
        1.0
    """
    if text_features is None:
        raise NotApplicable("no event texts (spec text must name the events)")
    txt = torch.as_tensor(text_features).to("cpu", torch.float64)
    txt = txt.reshape(-1, txt.shape[-1])
    if txt.shape[0] < 2:
        raise NotApplicable("needs at least 2 events")
    x = _as_tensor(embeddings, "embeddings")
    x = x.reshape(x.shape[0], -1)
    if x.shape[1] != txt.shape[1]:
        raise ValueError(
            f"image embeddings have {x.shape[1]} dims but text embeddings {txt.shape[1]}"
        )
    times, ids = _windows(x.shape[0], video, window_seconds)
    frames = torch.nn.functional.normalize(x, dim=1, eps=1e-12)
    win = torch.nn.functional.normalize(pool_windows(frames, ids), dim=1, eps=1e-12)
    n = txt.shape[0]
    if win.shape[0] < n:
        raise NotApplicable(
            f"{win.shape[0]} windows for {n} events: needs at least one window per event"
        )
    sim = (win @ torch.nn.functional.normalize(txt, dim=1, eps=1e-12).T).numpy()  # (W, n)
    z = (sim - sim.mean(axis=0)) / (sim.std(axis=0) + 1e-8)
    peaks = z.argmax(axis=0)
    share, tau = order_concordance(peaks)
    total, seg_starts = monotone_alignment(z)
    starts = window_starts(times, ids)
    return Score(
        share,
        {
            "model": embeddings.model if isinstance(embeddings, TaggedEmbeddings) else None,
            "events": n,
            "windows": int(win.shape[0]),
            "kendall_tau": round(tau, 4),
            "peak_seconds": [round(float(starts[p]), 3) for p in peaks],
            "aligned_start_seconds": [round(float(starts[s]), 3) for s in seg_starts],
            "aligned_mean_z": round(total / len(z), 4),
        },
    )


#: The dimensions scored in this module (the Duration category's gate and its rule live in
#: the specs and :func:`vbench_cn.aggregation.gated_category_score`).
SUSTAIN_DIMENSIONS: tuple[str, ...] = (
    "sustained_quality",
    "long_range_consistency",
    "motion_persistence",
    "loop_detection",
    "unintended_cuts",
    "event_order",
)
