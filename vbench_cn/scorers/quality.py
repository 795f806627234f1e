"""Quality scorers that read pixel statistics or per-frame quality scores."""

from __future__ import annotations

import torch

from vbench_cn.scorers import NotApplicable, Score, scorer


@scorer("quality.temporal_flickering")
def temporal_flickering(pair_mae: torch.Tensor) -> Score:
    """VBench temporal flickering: ``(255 - mean_t MAE_t) / 255``.

    Source: ``vbench/temporal_flickering.py`` (mean absolute difference of consecutive
    frames over all pixels and channels, float32, 0-255 scale, mapped to [0, 1]).

    Args:
        pair_mae: ``(T-1,)`` mean absolute difference of each consecutive frame pair.

    Example:
        >>> temporal_flickering(torch.zeros(5)).value
        1.0
    """
    if pair_mae is None or pair_mae.numel() == 0:
        raise NotApplicable("needs at least 2 frames")
    mean_mae = float(pair_mae.to(torch.float64).mean())
    return Score(
        (255.0 - mean_mae) / 255.0, {"frames": int(pair_mae.numel()) + 1, "mean_abs_diff": mean_mae}
    )
