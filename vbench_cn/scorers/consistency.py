"""Temporal consistency of frame embeddings (subject and background consistency)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vbench_cn.scorers import NotApplicable, Score, scorer


@scorer("consistency.frame_similarity")
def frame_similarity(embeddings: torch.Tensor, *, clamp_negative: bool = True) -> Score:
    """VBench's consistency: each frame against the previous one and the first one.

    ``score = mean_{t=2..T} ½·[max(0, cos(f_{t-1}, f_t)) + max(0, cos(f_1, f_t))]``
    (``vbench/subject_consistency.py``, ``vbench/background_consistency.py``; the clamp at
    0 is VBench's). ``details["weight"]`` is the number of pairs ``T-1``: a pair-weighted
    mean over videos (spec ``aggregate = "weighted"``) reproduces VBench's single-process
    aggregate, ``sum of pair terms / total pairs``.

    Args:
        embeddings: ``(T, D)`` frame embeddings of one video (normalised here again in
            float64, so any scale works), ``T >= 2``.
        clamp_negative: count negative cosines as 0, as VBench does.

    Raises:
        NotApplicable: fewer than 2 frames.

    Example:
        >>> frame_similarity(torch.ones(4, 8)).value
        1.0
    """
    if embeddings is None or embeddings.ndim != 2 or embeddings.shape[0] < 2:
        frames = 0 if embeddings is None or embeddings.ndim != 2 else int(embeddings.shape[0])
        raise NotApplicable(f"needs at least 2 frames, got {frames}")
    f = F.normalize(embeddings.to(torch.float64), dim=-1, p=2)
    to_prev = (f[1:] * f[:-1]).sum(dim=-1).clamp(-1.0, 1.0)
    to_first = (f[1:] * f[:1]).sum(dim=-1).clamp(-1.0, 1.0)
    if clamp_negative:
        to_prev, to_first = to_prev.clamp_min(0.0), to_first.clamp_min(0.0)
    terms = (to_prev + to_first) / 2.0
    pairs = int(terms.numel())
    # Float32 embeddings carry ~1e-7 relative precision and 1 - cos is quadratic in their
    # error, so rounding to 12 decimals only removes float64 summation noise: identical
    # frames give exactly 1.0 even when a batched forward differs by an ulp.
    value = round(float(terms.mean()), 12)
    return Score(
        value,
        {
            "weight": pairs,
            "frames": pairs + 1,
            "mean_cos_previous": float(to_prev.mean()),
            "mean_cos_first": float(to_first.mean()),
            "min_term": float(terms.min()),
        },
    )
