"""Duration scorers on crafted features: no video, no model; every answer known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vbench_cn.aggregation import gated_category_score
from vbench_cn.features.windows import pool_windows, sample_times, window_ids
from vbench_cn.manifest import PromptInfo
from vbench_cn.scorers import NotApplicable
from vbench_cn.scorers import duration as d
from vbench_cn.video import VideoInfo


def info(seconds: float, frames: int = 100, fps: float = 4.0) -> VideoInfo:
    return VideoInfo("v.mp4", frames, fps, seconds, 32, 32, "h264", False, "decord")


# ------------------------------------------------------------------ windows


def test_windows_follow_time_and_merge_a_short_tail() -> None:
    times = sample_times(9, 4.5)  # 0.0 .. 4.0 every 0.5 s
    ids = window_ids(times, 2.0)
    assert ids.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1]  # the lone sample at 4.0 s joins window 1
    pooled = pool_windows(torch.arange(9.0), ids)
    assert pooled.tolist() == [1.5, 6.0]


def test_window_ids_refuse_a_nonpositive_window() -> None:
    with pytest.raises(ValueError, match="window_seconds"):
        window_ids(np.arange(3.0), 0.0)


# ------------------------------------------------------------------ sustained quality


def test_sustained_quality_is_one_when_quality_holds_and_ranks_decay() -> None:
    steady = torch.full((120,), 50.0)
    slow = torch.linspace(50.0, 25.0, 120)
    fast = torch.cat([torch.full((20,), 50.0), torch.full((100,), 10.0)])
    scores = [d.sustained_quality(q, video=info(60.0)).value for q in (steady, slow, fast)]
    assert scores[0] == pytest.approx(1.0)
    assert scores[0] > scores[1] > scores[2]
    # linear decay 1 -> 0.5 over the windows after the 4-s reference: mean retention about 0.77
    assert scores[1] == pytest.approx(0.77, abs=0.03)


def test_sustained_quality_does_not_reward_getting_better_and_takes_the_worst_channel() -> None:
    better = torch.linspace(20.0, 80.0, 120)
    assert d.sustained_quality(better, video=info(60.0)).value == pytest.approx(1.0)
    two = torch.stack([torch.linspace(20.0, 80.0, 120), torch.linspace(1.0, 0.2, 120)], dim=1)
    s = d.sustained_quality(two, video=info(60.0))
    assert s.details["worst_channel"] == 1
    assert s.value < 0.7
    assert s.details["slope_per_minute"] < 0


def test_sustained_quality_needs_two_windows_and_a_positive_scale() -> None:
    with pytest.raises(NotApplicable):
        d.sustained_quality(torch.ones(4), video=info(1.0))
    with pytest.raises(NotApplicable, match="positive"):
        d.sustained_quality(torch.full((40,), -3.0), video=info(20.0))


# ------------------------------------------------------------------ long-range consistency


def test_long_range_consistency_sees_drift_that_neighbours_hide() -> None:
    t = 120
    a, b = torch.zeros(16), torch.zeros(16)
    a[0], b[1] = 1.0, 1.0
    steady = a.repeat(t, 1) + 0.01 * torch.randn(t, 16, generator=torch.Generator().manual_seed(0))
    alpha = torch.linspace(0, 1, t)[:, None]
    drift = (1 - alpha) * a + alpha * b  # every neighbour pair is almost identical
    s_steady = d.long_range_consistency(steady, video=info(60.0))
    s_drift = d.long_range_consistency(drift, video=info(60.0))
    assert s_steady.value > 0.99
    assert s_drift.value < 0.8
    assert s_drift.details["last_to_first"] < 0.1
    assert s_drift.details["lag_windows"] == 5


def test_long_range_consistency_short_video_uses_largest_lag() -> None:
    s = d.long_range_consistency(torch.ones(12, 3), video=info(6.0))
    assert s.details["lag_windows"] == 2 and s.value == pytest.approx(1.0)


def test_center_frames_turns_pixel_vectors_into_correlations() -> None:
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(40, 64, generator=g) * 255, torch.rand(40, 64, generator=g) * 255
    both = torch.cat([x[:1].repeat(40, 1), y[:1].repeat(40, 1)])
    raw = d.long_range_consistency(both, video=info(40.0)).value
    centred = d.long_range_consistency(both, video=info(40.0), center_frames=True).value
    assert raw > 0.8 > centred


# ------------------------------------------------------------------ motion persistence


def test_motion_persistence_counts_moving_windows() -> None:
    moving = torch.full((119,), 5.0)
    frozen_half = torch.cat([torch.full((59,), 5.0), torch.zeros(60)])
    frozen_early = torch.cat([torch.full((6,), 5.0), torch.zeros(113)])
    scores = [
        d.motion_persistence(m, video=info(60.0)) for m in (moving, frozen_half, frozen_early)
    ]
    assert scores[0].value == 1.0
    assert scores[1].value == pytest.approx(0.5, abs=0.04)
    assert scores[1].details["frozen_from_seconds"] == pytest.approx(30.0, abs=2.0)
    assert scores[2].value < 0.1
    assert scores[0].details["frozen_from_seconds"] is None


def test_motion_persistence_from_features_and_static_prompts() -> None:
    feats = torch.cat([torch.arange(60.0)[:, None] * 10, torch.full((60, 1), 590.0)]).repeat(1, 8)
    assert d.motion_persistence(feats, video=info(60.0), metric="mad").value == pytest.approx(
        0.5, abs=0.04
    )
    static = PromptInfo("tf-0001", "a still lake", "en", tags=("temporal_flickering",))
    with pytest.raises(NotApplicable, match="static"):
        d.motion_persistence(feats, video=info(60.0), prompt=static)
    story = PromptInfo("lm-0001", "a story", "en", tags=("long_multi_event",), meta={"events": []})
    assert d.motion_persistence(feats, video=info(60.0), prompt=story).value < 0.6


# ------------------------------------------------------------------ loop detection


def _walk_features(n: int, seed: int) -> torch.Tensor:
    """Per-frame features of content that never comes back (a random walk in 32 dims)."""
    g = torch.Generator().manual_seed(seed)
    return torch.cumsum(torch.randn(n, 32, generator=g) * 20, dim=0)


def test_loop_detection_finds_a_looped_clip_and_its_lag() -> None:
    clip = _walk_features(8, 0)  # 4 s at 2 samples/s
    looped = torch.cat([clip] * 4)
    s = d.loop_detection(looped, video=info(16.0))
    assert s.value == pytest.approx(0.25)
    assert s.details["segments"][0]["kind"] == "loop"
    assert s.details["segments"][0]["lag_seconds"] == pytest.approx(4.0)


def test_loop_detection_finds_ping_pong_and_spares_holds() -> None:
    clip = _walk_features(8, 1)
    pingpong = torch.cat([clip, clip.flip(0), clip, clip.flip(0)])
    s = d.loop_detection(pingpong, video=info(16.0))
    assert s.value <= 0.35
    assert any(seg["kind"] == "ping_pong" for seg in s.details["segments"])
    fresh = _walk_features(32, 2)
    assert d.loop_detection(fresh, video=info(16.0)).value == 1.0
    hold = torch.cat([fresh[:16], fresh[15:16].repeat(16, 1)])  # frozen, not looped
    assert d.loop_detection(hold, video=info(16.0)).value == 1.0


def test_loop_detection_ignores_repeats_shorter_than_min_repeat() -> None:
    x = _walk_features(40, 3)
    x[30:32] = x[10:12]  # one second repeated
    assert d.loop_detection(x, video=info(20.0)).value == 1.0
    x[30:36] = x[10:16]  # three seconds repeated
    s = d.loop_detection(x, video=info(20.0))
    assert s.value == pytest.approx(1 - 6 / 40)


# ------------------------------------------------------------------ unintended cuts


def test_detect_cuts_against_every_neighbour() -> None:
    rng = np.random.default_rng(0)
    dist = 5.0 + rng.random(200)
    dist[[50, 120]] = 60.0
    dist[150:160] = 40.0  # a burst of fast motion: high, but so are its neighbours
    dist[170:185] = np.linspace(8, 30, 15)  # a fade: every step like the next
    dist[[190, 191]] = 60.0  # a flash: into it and out of it
    dist[90:110:2] = 0.0  # duplicated frames between moving ones
    cuts = d.detect_cuts(dist, ratio=3.0, min_jump=20.0, neighbour_pairs=4)
    assert cuts.tolist() == [50, 120]


def test_unintended_cuts_maps_rate_to_score() -> None:
    scenes = [torch.full((30, 4), float(v)) for v in (0, 100, 0, 100)]
    x = torch.cat(scenes) + 0.5 * torch.randn(120, 4, generator=torch.Generator().manual_seed(0))
    s = d.unintended_cuts(x, video=info(60.0))
    assert s.details["cuts"] == 3
    assert s.details["cut_seconds"] == pytest.approx([15.0, 30.0, 45.0], abs=0.6)
    assert s.value == pytest.approx(math.exp(-3.0 / 2.0), rel=1e-6)
    one_shot = torch.cat([torch.zeros(120, 4)])
    assert d.unintended_cuts(one_shot, video=info(60.0)).value == 1.0
    multi = PromptInfo(None, "x", "en", meta={"shots": 3})
    with pytest.raises(NotApplicable, match="shots"):
        d.unintended_cuts(x, video=info(60.0), prompt=multi)


# ------------------------------------------------------------------ event order


def _story(order: list[int], n: int = 4, per_event: int = 10) -> torch.Tensor:
    """Frames showing event ``order[k]`` during the k-th segment (one-hot plus noise)."""
    g = torch.Generator().manual_seed(0)
    frames = torch.eye(n)[torch.tensor(order)].repeat_interleave(per_event, dim=0)
    return frames + 0.1 * torch.rand(frames.shape, generator=g)


def test_event_order_in_order_reversed_and_partly_swapped() -> None:
    text = torch.eye(4) + 0.05
    v = info(20.0)
    assert d.event_order(_story([0, 1, 2, 3]), video=v, text_features=text).value == 1.0
    assert d.event_order(_story([3, 2, 1, 0]), video=v, text_features=text).value == 0.0
    swapped = d.event_order(_story([0, 2, 1, 3]), video=v, text_features=text)
    assert swapped.value == pytest.approx(5 / 6)
    assert swapped.details["kendall_tau"] == pytest.approx(2 / 3, abs=1e-4)
    assert swapped.details["aligned_start_seconds"][0] == 0.0


def test_monotone_alignment_finds_the_segment_boundaries() -> None:
    z = np.full((9, 3), -1.0)
    z[0:2, 0] = z[2:7, 1] = z[7:9, 2] = 1.0
    total, starts = d.monotone_alignment(z)
    assert starts.tolist() == [0, 2, 7] and total == 9.0


def test_event_order_needs_events_and_enough_windows() -> None:
    with pytest.raises(NotApplicable):
        d.event_order(_story([0, 1]), video=info(10.0), text_features=None)
    with pytest.raises(NotApplicable, match="2 events"):
        d.event_order(_story([0, 1]), video=info(10.0), text_features=torch.eye(4)[:1])
    with pytest.raises(NotApplicable, match="windows"):
        d.event_order(
            _story([0, 1, 2, 3], per_event=1), video=info(4.0), text_features=torch.eye(4)
        )


# ------------------------------------------------------------------ Duration category


def test_duration_category_gates_instead_of_averaging() -> None:
    w = {k: 1.0 for k in ("duration_seconds", *d.SUSTAIN_DIMENSIONS)}
    long_bad = {"duration_seconds": 1.0, **{k: 0.2 for k in d.SUSTAIN_DIMENSIONS}}
    short_good = {"duration_seconds": 5 / 60, **{k: 1.0 for k in d.SUSTAIN_DIMENSIONS}}
    long_good = {"duration_seconds": 1.0, **{k: 0.9 for k in d.SUSTAIN_DIMENSIONS}}
    scores = {
        k: gated_category_score(v, w, gate="duration_seconds")
        for k, v in (("long_bad", long_bad), ("short_good", short_good), ("long_good", long_good))
    }
    assert scores["long_good"] == pytest.approx(0.9)
    assert scores["long_bad"] == pytest.approx(0.2)
    assert scores["short_good"] == pytest.approx(5 / 60)
    # a plain weighted mean would rank short-and-good above long-and-good's neighbourhood
    mean_short_good = np.mean(list(short_good.values()))
    assert mean_short_good > 0.85 and scores["short_good"] < 0.1


def test_duration_category_on_bootstrap_arrays_and_missing_parts() -> None:
    w = {"duration_seconds": 1.0, "loop_detection": 1.0, "frame_rate": 0.5}
    arr = gated_category_score(
        {
            "duration_seconds": np.array([0.5, 1.0, 1.5]),
            "loop_detection": np.array([1.0, 0.5, 1.0]),
            "frame_rate": np.array([1.0, 1.0, 1.0]),
        },
        w,
        gate="duration_seconds",
    )
    assert np.allclose(arr, [0.5, 2 / 3, 1.0])  # length factor clipped at 1
    assert math.isnan(gated_category_score({"loop_detection": 1.0}, w, gate="duration_seconds"))
    assert math.isnan(gated_category_score({"duration_seconds": 1.0}, w, gate="duration_seconds"))


# ------------------------------------------------------------------ bounded on long videos


def test_pairwise_work_is_bounded_on_a_day_long_video() -> None:
    """A plausible 24-h probe at 1 sample/s: 43,200 windows would be 930 million pairs."""
    seconds = 24 * 3600.0
    t = int(seconds)
    with pytest.raises(NotApplicable, match="43200 windows of 2 s: .* limit of 4096 windows"):
        d.long_range_consistency(torch.ones(t, 4), video=info(seconds, t, 1.0))
    # 20 minutes are still scored: 600 windows
    short = d.long_range_consistency(torch.ones(1200, 4), video=info(1200.0, 1200, 1.0))
    assert short.value == pytest.approx(1.0) and short.details["windows"] == 600
    # sustained quality's score is linear in the windows; its Theil-Sen slope detail is
    # computed on 1024 of the 5400 windows of 3 h (else 14.6 million pairs)
    t = 3 * 3600
    minutes = np.arange(t, dtype=np.float64) / 60.0
    quality = torch.from_numpy(100.0 - 0.25 * minutes)  # loses a quarter point a minute
    s = d.sustained_quality(quality, video=info(float(t), t, 1.0))
    assert s.details["windows"] == 5400
    assert s.details["slope_per_minute"] == pytest.approx(-0.25 / 100.0, rel=0.01)
    assert 0.0 < s.value < 1.0
