"""motion.dynamic_degree: VBench's threshold and count rule, on flow scores of known size."""

from __future__ import annotations

import pytest
import torch

from vbench_cn.scorers import NotApplicable
from vbench_cn.scorers.motion import dynamic_count, dynamic_degree, dynamic_threshold
from vbench_cn.video import VideoInfo


def probe(height: int, width: int, num_frames: int = 16, fps: float = 8.0) -> VideoInfo:
    return VideoInfo(
        "v.mp4", num_frames, fps, num_frames / fps, width, height, None, False, "decord"
    )


def test_threshold_scales_with_the_short_side() -> None:
    assert dynamic_threshold(256, 256) == 6.0
    assert dynamic_threshold(512, 512) == 12.0
    assert dynamic_threshold(720, 1280) == 16.875
    assert dynamic_threshold(1280, 720) == 16.875  # min(H, W), orientation does not matter


@pytest.mark.parametrize(
    ("num_frames", "count"),
    [
        (1, 0),
        (2, 0),  # round(0.25) = 0, round(0.5) = 0 (half to even)
        (3, 1),
        (6, 2),  # round(1.5) = 2
        (10, 2),  # round(2.5) = 2, not 3
        (14, 4),  # round(3.5) = 4
        (16, 4),
        (17, 4),
        (18, 4),  # round(4.5) = 4
        (22, 6),  # round(5.5) = 6
        (26, 6),  # round(6.5) = 6
    ],
)
def test_count_is_round_half_even(num_frames: int, count: int) -> None:
    assert dynamic_count(num_frames) == count


def test_flow_just_above_and_below_threshold_at_256() -> None:
    video = probe(256, 320)  # thr = 6.0
    n_pairs = 15  # N = 16 -> need 4 pairs above
    above = torch.full((n_pairs,), 6.0)
    above[:4] = 6.0001
    assert dynamic_degree(above, video=video).value == 1.0
    equal = torch.full((n_pairs,), 6.0)  # strictly greater is required
    assert dynamic_degree(equal, video=video).value == 0.0
    three = torch.zeros(n_pairs)
    three[[0, 7, 14]] = 50.0
    s = dynamic_degree(three, video=video)
    assert s.value == 0.0 and s.details["pairs_above"] == 3 and s.details["needed"] == 4


def test_same_flow_crosses_at_low_resolution_but_not_at_high() -> None:
    flow = torch.full((15,), 10.0)
    assert dynamic_degree(flow, video=probe(320, 512)).value == 1.0  # thr 7.5
    s = dynamic_degree(flow, video=probe(720, 1280))  # thr 16.875
    assert s.value == 0.0 and s.details["threshold"] == 16.875


def test_needed_pairs_depend_on_frame_count_half_even() -> None:
    video = probe(256, 256)
    # N = 10 frames (9 pairs): round(2.5) = 2 -> two moving pairs suffice
    nine = torch.zeros(9)
    nine[[2, 5]] = 7.0
    assert dynamic_degree(nine, video=video).value == 1.0
    # N = 14 frames (13 pairs): round(3.5) = 4 -> three moving pairs are not enough
    thirteen = torch.zeros(13)
    thirteen[[1, 4, 8]] = 7.0
    assert dynamic_degree(thirteen, video=video).value == 0.0
    thirteen[10] = 7.0
    assert dynamic_degree(thirteen, video=video).value == 1.0


def test_count_zero_edge_cases() -> None:
    video = probe(256, 256)
    # N = 2: count_num = round(0.5) = 0 -> dynamic as soon as a pair exists, whatever its flow
    assert dynamic_degree(torch.tensor([0.0]), video=video).value == 1.0
    # N = 1: no pair, VBench's loop never runs -> static
    s = dynamic_degree(torch.zeros(0), video=video)
    assert s.value == 0.0 and s.details["pairs"] == 0


def test_nan_flow_is_not_applicable() -> None:
    with pytest.raises(NotApplicable, match="128 px"):
        dynamic_degree(torch.tensor([1.0, float("nan")]), video=probe(64, 64))


def test_constants_are_parameters() -> None:
    flow = torch.full((15,), 7.0)
    assert dynamic_degree(flow, video=probe(256, 256), flow_px_at_256=8.0).value == 0.0
    two = torch.zeros(15)
    two[:2] = 9.0
    assert dynamic_degree(two, video=probe(256, 256), pairs_per_16_frames=2.0).value == 1.0
