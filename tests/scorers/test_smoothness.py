"""Motion-smoothness scorer semantics on crafted per-triplet errors (no video, no model)."""

from __future__ import annotations

import pytest
import torch

from vbench_cn.scorers import NotApplicable, get_scorer
from vbench_cn.scorers.smoothness import motion_smoothness


def test_perfect_prediction_scores_exactly_one() -> None:
    assert motion_smoothness(torch.zeros(7)).value == 1.0


def test_score_is_one_minus_mean_error_over_255() -> None:
    score = motion_smoothness(torch.tensor([10.0, 20.0, 60.0]))
    assert score.value == pytest.approx((255.0 - 30.0) / 255.0, abs=1e-12)
    assert score.details == {"triplets": 3, "mean_abs_diff": pytest.approx(30.0)}


def test_worst_error_scores_zero_and_worse_motion_scores_lower() -> None:
    assert motion_smoothness(torch.full((4,), 255.0)).value == 0.0
    assert (
        motion_smoothness(torch.tensor([5.0])).value > motion_smoothness(torch.tensor([6.0])).value
    )


def test_mean_is_over_triplets_not_weighted_by_anything_else() -> None:
    # VBench: np.mean over the per-frame mean absolute differences
    assert motion_smoothness(torch.tensor([0.0, 0.0, 0.0, 51.0])).value == pytest.approx(
        1 - 12.75 / 255
    )


@pytest.mark.parametrize("features", [torch.zeros(0), None])
def test_no_triplet_is_not_applicable(features: torch.Tensor | None) -> None:
    with pytest.raises(NotApplicable, match="3 frames"):
        motion_smoothness(features)  # type: ignore[arg-type]


def test_registered_under_its_spec_name_with_no_params() -> None:
    entry = get_scorer("smoothness.motion_smoothness")
    assert entry.fn is motion_smoothness
    assert entry.params == () and entry.context == ()
