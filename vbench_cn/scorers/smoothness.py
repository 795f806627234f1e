"""Motion smoothness: how well a frame interpolator predicts the frames a video really shows."""

from __future__ import annotations

import torch

from vbench_cn.scorers import NotApplicable, Score, scorer


@scorer("smoothness.motion_smoothness")
def motion_smoothness(triplet_mae: torch.Tensor) -> Score:
    """VBench motion smoothness: ``(255 - mean_k MAE_k) / 255``.

    For every triplet of frames ``(2k, 2k+1, 2k+2)`` the interpolator predicts frame
    ``2k+1`` from its even neighbours; ``MAE_k`` is the mean absolute difference, on the
    0-255 ``uint8`` scale, between the prediction and the real frame (``cv2.absdiff`` then
    ``np.mean`` in ``vbench/motion_smoothness.py``, vbench 0.1.5). The video's score is one
    minus their mean, divided by 255; smooth, predictable motion scores near 1.

    Args:
        triplet_mae: ``(K,)`` mean absolute error of each interpolated odd frame, 0-255.

    Returns:
        The score in [0, 1], with ``triplets`` (K) and ``mean_abs_diff`` in details.

    Raises:
        NotApplicable: the video has fewer than 3 frames (no triplet).

    Example:
        >>> motion_smoothness(torch.zeros(4)).value
        1.0
        >>> round(motion_smoothness(torch.tensor([25.5, 25.5])).value, 6)
        0.9
    """
    if triplet_mae is None or triplet_mae.numel() == 0:
        raise NotApplicable("needs at least 3 frames (one interpolated triplet)")
    mean_mae = float(triplet_mae.to(torch.float64).mean())
    return Score(
        (255.0 - mean_mae) / 255.0,
        {"triplets": int(triplet_mae.numel()), "mean_abs_diff": mean_mae},
    )
