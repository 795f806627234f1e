"""perceptual.aesthetic and perceptual.imaging: VBench's per-video arithmetic on crafted scores."""

from __future__ import annotations

import pytest
import torch

from vbench_cn.scorers import NotApplicable
from vbench_cn.scorers.perceptual import aesthetic, imaging


def test_aesthetic_is_mean_of_head_over_10() -> None:
    s = aesthetic(torch.tensor([3.0, 5.0, 7.5, 4.5]))
    assert s.value == pytest.approx((0.3 + 0.5 + 0.75 + 0.45) / 4)
    assert s.details == {
        "frames": 4,
        "min_frame": pytest.approx(0.3),
        "max_frame": pytest.approx(0.75),
    }


def test_aesthetic_scale_param() -> None:
    assert aesthetic(torch.tensor([4.0]), scale=4.0).value == 1.0


def test_imaging_stores_mos_over_100_and_raw_mos() -> None:
    s = imaging(torch.tensor([55.0, 65.0, 72.0]))
    assert s.details["mos"] == pytest.approx(64.0)
    assert s.value == pytest.approx(0.64)


def test_imaging_mean_over_videos_equals_vbench_aggregate() -> None:
    videos = [torch.tensor([40.0, 50.0]), torch.tensor([70.0]), torch.tensor([61.0, 62.0, 63.0])]
    ours = sum(imaging(v).value for v in videos) / len(videos)
    # VBench: per-video mean MOS on 0-100, aggregate = mean over videos / 100
    vbench = sum(float(v.mean()) for v in videos) / len(videos) / 100.0
    assert ours == pytest.approx(vbench, abs=1e-12)


@pytest.mark.parametrize("fn", [aesthetic, imaging])
def test_no_frames_is_not_applicable(fn) -> None:  # noqa: ANN001
    with pytest.raises(NotApplicable):
        fn(torch.zeros(0))


@pytest.mark.parametrize("fn", [aesthetic, imaging])
def test_nan_frame_is_an_error(fn) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="NaN"):
        fn(torch.tensor([1.0, float("nan")]))
