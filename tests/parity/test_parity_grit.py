"""Parity of the four GRiT dimensions with VBench 0.1.5 (object class, multiple objects, colour,
spatial relationship): our detections and scores against VBench's frozen outputs, and the live
rerun (``-m parity``).

The fixture (``fixtures/grit-vbench-<v>-seed<S>.json``) holds what VBench's own code gave on
the prompted cases of ``grit_cases.py`` with the seeded GRiT of ``grit_seeded.py``: every
video's score per dimension and every sampled frame's boxes, scores, descriptions and
ObjectDet names. The default run recreates the videos and the checkpoint from the seed, runs
our extractors on two of the videos (one for the three ObjectDet dimensions, one for colour)
and our scorers on their detections: every box within 1e-4 px, every name and caption
identical, every score equal.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grit_cases  # noqa: E402
import harness  # noqa: E402

SEEDS = sorted(
    int(p.stem.rsplit("seed", 1)[1]) for p in harness.FIXTURES.glob("grit-vbench-*-seed*.json")
)


def _fixture(seed: int) -> dict:
    import json

    return json.loads(harness.grit_fixture_path(seed).read_text(encoding="utf-8"))


def test_there_is_a_grit_fixture_and_it_says_how_it_was_made() -> None:
    assert SEEDS, f"no GRiT fixture in {harness.FIXTURES}"
    for seed in SEEDS:
        fx = _fixture(seed)
        assert fx["vbench_version"] == harness.VBENCH_VERSION and fx["seed"] == seed
        assert fx["command"].startswith("python tests/parity/run_live.py --grit --freeze")
        assert set(fx["videos"]) == {c.file for c in grit_cases.CASES}
        assert set(fx["scores"]) == set(grit_cases.DIMENSIONS) == set(fx["frames"])
        frames = [f for videos in fx["frames"].values() for v in videos.values() for f in v]
        assert all(len(v) == 16 for videos in fx["frames"].values() for v in videos.values())
        # the seeded GRiT exercises the real paths: boxes over 0.5 and several distinct names
        assert sum(len(f["boxes"]) for f in frames) > len(frames)
        assert len({n for f in frames for n in f["det_obj"]}) >= 3


def test_every_grit_spec_is_vbench_parity_and_frozen() -> None:
    from vbench_cn.specs import load_specs

    specs = load_specs()
    for dim, extractor in grit_cases.DIMENSIONS.items():
        assert specs[dim].parity == "vbench" and specs[dim].backbone == extractor
        assert specs[f"{dim}_owl"].alternative_of == dim  # the OWLv2 versions stay
    assert set(harness.load_tolerances()) >= set(grit_cases.DIMENSIONS)


@pytest.fixture(scope="module", params=SEEDS, ids=lambda s: f"seed{s}")
def ours_vs_fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    seed = request.param
    fx = _fixture(seed)
    work = tmp_path_factory.mktemp(f"grit{seed}")
    digests = harness.write_grit_videos(work / "videos")
    changed = sorted(n for n, d in digests.items() if d != fx["videos"][n]["decoded_sha256"])
    assert not changed, f"the encoder now makes other frames for {changed}: refreeze"
    _, overrides = harness.write_checkpoints(seed, work / "weights", list(grit_cases.DIMENSIONS))
    frames = harness.our_grit_frames(work / "videos", overrides, grit_cases.DEFAULT_FILES)
    return frames, fx


def test_detections_equal_vbenchs_frame_by_frame(ours_vs_fixture) -> None:
    frames, fx = ours_vs_fixture
    reference = {
        dim: {f: v for f, v in videos.items() if f in grit_cases.DEFAULT_FILES}
        for dim, videos in fx["frames"].items()
    }
    rows = harness.compare_grit_frames(frames, reference)
    assert {r.dimension for r in rows} == set(grit_cases.DIMENSIONS)
    assert all(r.frames == 16 for r in rows)
    assert all(r.ok for r in rows), harness.format_frame_table(rows)


@pytest.mark.parametrize("dimension", sorted(grit_cases.DIMENSIONS))
def test_scores_equal_vbenchs(ours_vs_fixture, dimension: str) -> None:
    frames, fx = ours_vs_fixture
    ours = harness.grit_scores({dimension: frames[dimension]})
    ref = {f: s for f, s in fx["scores"][dimension].items() if f in grit_cases.DEFAULT_FILES}
    (row,) = harness.compare(
        {dimension: ours.get(dimension, {})}, {dimension: ref}, harness.load_tolerances()
    )
    assert not row.missing, f"videos scored by one side only: {row.missing}"
    assert row.max_abs_diff <= row.atol, harness.format_table([row])


def test_frame_comparison_can_fail() -> None:
    frame = {"boxes": [[1.0, 2.0, 3.0, 4.0]], "scores": [0.6], "labels": ["dog"], "captions": ["a"]}
    ref = {
        "boxes": [[1.0, 2.0, 3.0, 4.0]],
        "scores": [0.6],
        "descriptions": ["dog"],
        "det_obj": ["dog"],
    }
    ok = harness.compare_grit_frames(
        {"object_class": {"v": [frame]}}, {"object_class": {"v": [ref]}}
    )
    assert ok[0].ok
    moved = {**ref, "boxes": [[1.0, 2.0, 3.0, 4.001]]}
    assert not harness.compare_grit_frames(
        {"object_class": {"v": [frame]}}, {"object_class": {"v": [moved]}}
    )[0].ok
    renamed = {**ref, "det_obj": ["cat"]}
    assert not harness.compare_grit_frames(
        {"object_class": {"v": [frame]}}, {"object_class": {"v": [renamed]}}
    )[0].ok
    # colour compares the DenseCap captions with VBench's task-head descriptions
    assert not harness.compare_grit_frames({"color": {"v": [frame]}}, {"color": {"v": [ref]}})[0].ok


@pytest.mark.parity
def test_live_against_vbenchs_grit_in_the_parity_venv() -> None:
    from run_live import parity_python

    if not parity_python().exists():
        pytest.skip(f"no parity venv at {parity_python()} (see tests/parity/README.md)")
    proc = subprocess.run(
        [sys.executable, str(harness.HERE / "run_live.py"), "--grit"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
