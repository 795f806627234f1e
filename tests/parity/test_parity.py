"""Parity with VBench 0.1.5: our live scores against frozen reference outputs, and the live rerun.

The fixtures in ``fixtures/`` hold VBench's own per-video scores on the harness videos with
seeded random checkpoints (seed, command and versions inside). The default run recreates
the videos and the checkpoints from the seed and compares our scores with them using
``tolerances.toml``; ``pytest -m parity`` reruns VBench itself in ``.venv-parity``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

SEEDS = sorted(
    int(p.stem.rsplit("seed", 1)[1]) for p in harness.FIXTURES.glob("vbench-*-seed*.json")
)


def test_there_is_a_fixture_and_it_says_how_it_was_made() -> None:
    assert SEEDS, f"no fixture in {harness.FIXTURES}"
    for seed in SEEDS:
        fx = harness.read_fixture(seed)
        assert (
            fx["vbench_version"] == harness.VBENCH_VERSION
            and fx["seed"] == seed
            and fx["threads"] == 1
        )
        assert fx["command"].startswith("python tests/parity/run_live.py --freeze")
        assert set(fx["videos"]) == {c.name for c in harness.CASES}
        assert set(fx["scores"]) <= set(harness.BACKBONES)


def test_tolerance_table_gives_a_reason_for_every_loose_entry_and_covers_the_fixtures() -> None:
    table = harness.load_tolerances()
    for seed in SEEDS:
        assert set(harness.read_fixture(seed)["scores"]) <= set(table)
    bad = dict(table)
    bad["x"] = {"atol": 1e-3, "reason": " "}
    path = harness.TOLERANCES.parent / "fixtures" / ".bad-tolerances.toml"
    try:
        path.write_text("[x]\natol = 1e-3\nreason = ' '\n")
        with pytest.raises(ValueError, match="needs a reason"):
            harness.load_tolerances(path)
    finally:
        path.unlink(missing_ok=True)


@pytest.fixture(scope="module", params=SEEDS, ids=lambda s: f"seed{s}")
def live_vs_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, dict]:
    seed = request.param
    fx = harness.read_fixture(seed)
    work = tmp_path_factory.mktemp(f"parity{seed}")
    digests = harness.write_videos(work / "videos")
    changed = sorted(n for n, d in digests.items() if d != fx["videos"][n]["decoded_sha256"])
    assert not changed, (
        f"the encoder now makes other frames for {changed}: refreeze with "
        f"`python tests/parity/run_live.py --freeze --seed {seed}`"
    )
    dims = sorted(fx["scores"])
    _, overrides = harness.write_checkpoints(seed, work / "weights", dims)
    ours = harness.our_scores(
        work / "videos", overrides, dims, work / "run", subset=harness.DEFAULT_SUBSET
    )
    return ours, fx["scores"]


@pytest.mark.parametrize("dimension", sorted(harness.BACKBONES))
def test_matches_frozen_vbench_scores(live_vs_fixture: tuple[dict, dict], dimension: str) -> None:
    ours, reference = live_vs_fixture
    if dimension not in reference:
        pytest.fail(
            f"{dimension} has no frozen VBench scores: run tests/parity/run_live.py --freeze"
        )
    (row,) = harness.compare(
        {dimension: ours.get(dimension, {})},
        {dimension: reference[dimension]},
        harness.load_tolerances(),
        subset=True,
    )
    assert not row.missing, f"videos scored by only one side: {row.missing}"
    assert row.max_abs_diff <= row.atol, harness.format_table([row])


def test_every_vbench_parity_spec_is_covered() -> None:
    from vbench_cn.specs import load_specs

    vbench_dims = {
        s.id for s in load_specs().values() if s.parity == "vbench" and s.category == "quality"
    }
    assert vbench_dims == set(harness.BACKBONES)
    for seed in SEEDS:
        assert set(harness.read_fixture(seed)["scores"]) == vbench_dims


def test_comparison_can_fail() -> None:
    ref = {"motion_smoothness": {"a.mp4": 0.9, "b.mp4": 0.8}}
    tol = {"motion_smoothness": {"atol": 1e-6}}
    assert harness.compare({"motion_smoothness": {"a.mp4": 0.9, "b.mp4": 0.8}}, ref, tol)[0].ok
    off = harness.compare({"motion_smoothness": {"a.mp4": 0.9, "b.mp4": 0.8001}}, ref, tol)[0]
    assert not off.ok and off.worst_video == "b.mp4"
    assert not harness.compare({"motion_smoothness": {"a.mp4": 0.9}}, ref, tol)[0].ok


@pytest.mark.parity
def test_live_against_vbench_in_the_parity_venv() -> None:
    from run_live import parity_python

    if not parity_python().exists():
        pytest.skip(f"no parity venv at {parity_python()} (see tests/parity/README.md)")
    proc = subprocess.run(
        [sys.executable, str(harness.HERE / "run_live.py")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
