"""Per-frame perceptual quality scores averaged per video: aesthetic and imaging quality."""

from __future__ import annotations

import torch

from vbench_cn.scorers import NotApplicable, Score, scorer


def _frames(values: torch.Tensor | None, what: str) -> torch.Tensor:
    if values is None or values.numel() == 0:
        raise NotApplicable(f"no frame {what}")
    flat = values.reshape(-1).to(torch.float64)
    if bool(torch.isnan(flat).any()):
        raise ValueError(f"NaN in frame {what}")
    return flat


@scorer("perceptual.aesthetic")
def aesthetic(frame_scores: torch.Tensor, *, scale: float = 10.0) -> Score:
    """VBench aesthetic quality: mean over frames of the LAION head output / 10.

    Source: ``vbench/aesthetic_quality.py`` (``aesthetic_scores / 10``, then the mean over
    the video's frames; the aggregate is the mean over videos).

    Args:
        frame_scores: ``(T,)`` LAION aesthetic head outputs (about 0-10), one per frame.
        scale: the divisor (10 in VBench).

    Example:
        >>> aesthetic(torch.tensor([4.0, 6.0])).value
        0.5
    """
    s = _frames(frame_scores, "aesthetic scores")
    return Score(
        float((s / scale).mean()),
        {
            "frames": int(s.numel()),
            "min_frame": float(s.min() / scale),
            "max_frame": float(s.max() / scale),
        },
    )


@scorer("perceptual.imaging")
def imaging(frame_mos: torch.Tensor, *, mos_scale: float = 100.0) -> Score:
    """VBench imaging quality: mean MUSIQ-SPAQ MOS over frames, divided by 100.

    VBench keeps each video's mean MOS on the 0-100 scale and divides only the aggregate
    by 100 (``vbench/imaging_quality.py``). The mean commutes with the division, so storing
    ``MOS/100`` per video gives VBench's aggregate as the plain mean over videos; the raw
    per-video value is kept in ``details["mos"]`` for comparison with VBench's per-video
    numbers.

    Args:
        frame_mos: ``(T,)`` MUSIQ mean opinion scores (0-100), one per frame.
        mos_scale: the divisor (100 in VBench).

    Example:
        >>> imaging(torch.tensor([40.0, 60.0])).value
        0.5
    """
    s = _frames(frame_mos, "MOS")
    mos = float(s.mean())
    return Score(
        mos / mos_scale,
        {
            "mos": mos,
            "frames": int(s.numel()),
            "min_frame_mos": float(s.min()),
            "max_frame_mos": float(s.max()),
        },
    )
