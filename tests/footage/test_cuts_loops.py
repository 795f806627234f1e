"""unintended_cuts and loop_detection on clips that reproduce what real footage did to them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.footage import _clips as clips
from vbench_cn.features.windows import area_thumbnail
from vbench_cn.manifest import discover
from vbench_cn.results import read_records
from vbench_cn.runner import Runner, RunOptions
from vbench_cn.specs import load_specs, select_specs

FPS = 24.0


def _score(clips_by_name: dict[str, np.ndarray], tmp_path: Path, dims: list[str]) -> dict:
    folder = tmp_path / "m"
    for name, frames in clips_by_name.items():
        clips.encode(folder / f"{name}.mp4", frames, FPS)
    specs = select_specs(load_specs(), dims)
    run = tmp_path / "run"
    items = discover([folder], model="m")
    Runner(specs, RunOptions(out_dir=run, progress=False, all_prompts=True)).run(items)
    recs = {(Path(r["video"]).stem, r["dimension"]): r for r in read_records(run)}
    assert all(r["status"] == "ok" for r in recs.values()), recs
    return recs


def test_fast_motion_looks_like_a_cut_every_half_second() -> None:
    """The reproducing clip: at 2 samples/s, moving within a shot differs as much as a cut."""
    frames = clips.fast_shots()
    thumbs = np.stack([area_thumbnail(f) for f in frames[::12]]).astype(np.float64)
    steps = np.abs(np.diff(thumbs, axis=0)).mean(axis=(1, 2, 3))
    cut_steps = [(k * 77 - 1) // 12 for k in range(1, 5)]  # sample pairs spanning the cuts
    within = np.delete(steps, cut_steps)
    assert np.median(within) > 0.8 * np.median(steps[cut_steps])


def test_hard_cuts_are_found_in_fast_motion_and_fades_are_not_cuts(tmp_path: Path) -> None:
    still_a = np.repeat(clips.panning(1, 72, 128, seed=1, speed=0)[0][None], 96, axis=0)
    still_b = np.repeat(clips.panning(1, 72, 128, seed=2, speed=0)[0][None], 96, axis=0)
    moving = clips.panning(192, 72, 128, seed=3, speed=1.0)
    recs = _score(
        {
            "fast-cuts": clips.fast_shots(),  # 16 s, cuts at 3.2, 6.4, 9.6, 12.8 s
            "fade-out-fade-in": np.concatenate(
                [clips.fade(still_a, 72, 24, out=True), clips.fade(still_b, 0, 24, out=False)]
            ),
            "fade-in-and-out": clips.fade(clips.fade(moving, 0, 24, out=False), 168, 24, out=True),
            "hard-cut": np.concatenate([still_a, still_b]),
        },
        tmp_path,
        ["unintended_cuts"],
    )
    fast = recs[("fast-cuts", "unintended_cuts")]
    assert fast["details"]["cuts"] == 4
    assert fast["details"]["cut_seconds"] == pytest.approx([3.208, 6.417, 9.625, 12.833], abs=0.05)
    assert fast["score"] == pytest.approx(np.exp(-(4 / (16.04 / 60)) / 2), rel=0.01)
    for name in ("fade-out-fade-in", "fade-in-and-out"):
        rec = recs[(name, "unintended_cuts")]
        assert rec["details"]["cuts"] == 0 and rec["score"] == 1.0, rec["details"]
    cut = recs[("hard-cut", "unintended_cuts")]
    assert cut["details"]["cuts"] == 1
    assert cut["details"]["cut_seconds"] == pytest.approx([4.0], abs=0.05)
    assert cut["dimension_version"] == 2


def test_plain_loops_and_ping_pongs_read_as_the_spec_says(tmp_path: Path) -> None:
    clip = clips.trailer(5.3)  # three fast shots in 5.3 s
    recs = _score(
        {
            "looped-3x": np.concatenate([clip] * 3),
            "ping-pong": np.concatenate([clip, clip[::-1]]),
            "fresh": clips.trailer(16.0, shots=9, seed=100),
        },
        tmp_path,
        ["loop_detection"],
    )
    looped = recs[("looped-3x", "loop_detection")]
    assert looped["score"] == pytest.approx(1 / 3, abs=0.03)  # version 1 read 0.69 here
    assert looped["details"]["segments"][0]["lag_seconds"] == pytest.approx(5.3, abs=0.15)
    pong = recs[("ping-pong", "loop_detection")]
    assert pong["score"] == pytest.approx(0.5, abs=0.03)  # version 1: 0.55
    assert pong["details"]["segments"][0]["kind"] == "ping_pong"
    assert recs[("fresh", "loop_detection")]["score"] == 1.0
    assert looped["dimension_version"] == 2
