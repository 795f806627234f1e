"""Motion scorers: VBench's dynamic degree (motion smoothness lives in ``smoothness.py``)."""

from __future__ import annotations

import math

import torch

from vbench_cn.scorers import NotApplicable, Score, scorer
from vbench_cn.video import VideoInfo


def dynamic_threshold(height: int, width: int, *, flow_px_at_256: float = 6.0) -> float:
    """VBench's flow threshold ``6.0·min(H, W)/256`` on the unpadded frame size.

    Example:
        >>> dynamic_threshold(512, 512), dynamic_threshold(720, 1280)
        (12.0, 16.875)
    """
    return flow_px_at_256 * min(height, width) / 256.0


def dynamic_count(num_frames: int, *, pairs_per_16_frames: float = 4.0) -> int:
    """VBench's ``count_num = round(4·N/16)`` with Python's round-half-to-even.

    Example:
        >>> [dynamic_count(n) for n in (2, 6, 10, 14, 16)]
        [0, 2, 2, 4, 4]
    """
    return round(pairs_per_16_frames * num_frames / 16.0)


@scorer("motion.dynamic_degree")
def dynamic_degree(
    pair_flow_scores: torch.Tensor,
    *,
    video: VideoInfo,
    flow_px_at_256: float = 6.0,
    pairs_per_16_frames: float = 4.0,
) -> Score:
    """VBench dynamic degree of one video: 1.0 if it moves, else 0.0.

    Rule (``vbench/dynamic_degree.py``): with ``N`` sampled frames (every
    ``round(fps/8)``-th), ``thr = 6.0·min(H, W)/256`` and ``count_num = round(4·N/16)``
    (half-to-even), the video is dynamic iff at least ``count_num`` consecutive-pair scores
    exceed ``thr``. VBench's loop checks ``count >= count_num`` after each pair, so
    ``count_num = 0`` makes any video with a pair dynamic, and a single frame (no pair) is
    static.

    Args:
        pair_flow_scores: ``(N-1,)`` per consecutive pair, mean of the top 5 % RAFT flow
            magnitudes in pixels (``raft_things``).
        video: the probe; its height and width set the threshold.
        flow_px_at_256: the 6.0 of VBench's threshold (pixels at a 256-px short side).
        pairs_per_16_frames: the 4 of VBench's ``count_num``.

    Raises:
        NotApplicable: a pair score is NaN (RAFT's 4-level pyramid needs padded frames of at
            least 128 px per side; below that VBench's RAFT yields NaN and calls every such
            video static).

    Example:
        >>> info = VideoInfo("v.mp4", 16, 8.0, 2.0, 256, 256, None, False, "decord")
        >>> dynamic_degree(torch.tensor([7.0, 0.0, 0.0, 0.0, 0.0]), video=info).value
        0.0
    """
    scores = (
        pair_flow_scores.reshape(-1).to(torch.float64)
        if pair_flow_scores is not None
        else torch.zeros(0)
    )
    if bool(torch.isnan(scores).any()):
        raise NotApplicable(
            f"RAFT flow is NaN for {video.width}x{video.height} frames "
            "(sides under 128 px after padding to a multiple of 8)"
        )
    num_frames = int(scores.numel()) + 1
    thr = dynamic_threshold(video.height, video.width, flow_px_at_256=flow_px_at_256)
    count_num = dynamic_count(num_frames, pairs_per_16_frames=pairs_per_16_frames)
    above = int((scores > thr).sum())
    moving = scores.numel() > 0 and above >= count_num
    return Score(
        1.0 if moving else 0.0,
        {
            "pairs": int(scores.numel()),
            "pairs_above": above,
            "needed": count_num,
            "threshold": thr,
            "max_pair_score": float(scores.max()) if scores.numel() else math.nan,
        },
    )
