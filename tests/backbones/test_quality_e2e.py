"""The five quality dimensions end to end: ``vbench-cn evaluate --random-weights`` on tiny videos.

One CLI run scores two synthetic clips (odd sizes included) on subject consistency,
background consistency, dynamic degree, aesthetic and imaging quality, so each backbone is
built once. Answers known whatever the weights: a static clip has consistency exactly 1.0;
dynamic degree is skipped (not 0) below RAFT's 128-px minimum; imaging stores MOS/100.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vbench_cn import synthetic
from vbench_cn.cli import app
from vbench_cn.results import read_records

DIMS = "subject_consistency,background_consistency,dynamic_degree,aesthetic_quality,imaging_quality"


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict]:
    folder = tmp_path_factory.mktemp("quality_videos")
    videos = folder / "model_a"
    # lossless RGB so that the static clip decodes to identical frames
    synthetic.write_video(
        videos / "static-0.mp4", synthetic.static_clip(2, 37, 45), codec="libx264rgb"
    )
    synthetic.write_video(
        videos / "moving-0.mp4",
        synthetic.translating_clip(2, 129, 131, pixels_per_frame=6),
        fps=8.0,
        codec="libx264rgb",
    )
    out = folder / "run"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            str(videos),
            "--model",
            "model_a",
            "--dimensions",
            DIMS,
            "--random-weights",
            "--all-prompts",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    recs = read_records(out)
    return {(Path(r["video"]).stem, r["dimension"]): r for r in recs}


def test_every_video_and_dimension_has_a_record(records: dict) -> None:
    for stem in ("static-0", "moving-0"):
        for dim in DIMS.split(","):
            rec = records[(stem, dim)]
            assert rec["random_weights"] is True
            assert rec["weights"] == "random"
            assert rec["status"] in ("ok", "skipped"), rec


def test_static_clip_is_exactly_consistent(records: dict) -> None:
    for dim in ("subject_consistency", "background_consistency"):
        rec = records[("static-0", dim)]
        assert rec["status"] == "ok" and rec["score"] == 1.0
        assert rec["details"]["weight"] == 1


def test_moving_clip_is_less_consistent(records: dict) -> None:
    for dim in ("subject_consistency", "background_consistency"):
        rec = records[("moving-0", dim)]
        assert rec["status"] == "ok" and 0.0 < rec["score"] < 1.0 and rec["details"]["weight"] == 1


def test_dynamic_degree_scored_at_128px_and_skipped_below(records: dict) -> None:
    moving = records[("moving-0", "dynamic_degree")]
    # 2 sampled frames: count_num = round(4*2/16) = round(0.5) = 0, so one pair makes it dynamic
    assert moving["status"] == "ok" and moving["score"] == 1.0
    assert moving["details"]["pairs"] == 1 and moving["details"]["needed"] == 0
    assert moving["details"]["threshold"] == pytest.approx(6.0 * 129 / 256)
    small = records[("static-0", "dynamic_degree")]
    assert small["status"] == "skipped" and "at least 121 px a side" in small["error"]


def test_aesthetic_and_imaging_ranges(records: dict) -> None:
    for stem in ("static-0", "moving-0"):
        aes = records[(stem, "aesthetic_quality")]
        assert aes["status"] == "ok" and 0.3 < aes["score"] < 0.7  # random head with bias 5 -> ~0.5
        img = records[(stem, "imaging_quality")]
        assert img["status"] == "ok"
        assert img["score"] == pytest.approx(img["details"]["mos"] / 100.0)
        assert img["details"]["frames"] == 2


def test_raft_pairs_do_not_depend_on_decode_chunks(tmp_path: Path) -> None:
    """Overlap 1: the pair that straddles a chunk boundary is still scored, with the same value."""
    from vbench_cn.api import evaluate

    video = synthetic.write_video(
        tmp_path / "v" / "jitter-0.mp4",
        synthetic.translating_clip(2, 128, 128, pixels_per_frame=5),
        codec="libx264rgb",
    )
    details = []
    for chunk in (1, 64):
        recs = evaluate(
            [str(video)],
            model="m",
            dimensions=["dynamic_degree"],
            out_dir=tmp_path / f"run{chunk}",
            random_weights=True,
            all_prompts=True,
            device="cpu",
            chunk_frames=chunk,
            progress=False,
        )
        (rec,) = [r for r in recs if r["dimension"] == "dynamic_degree"]
        assert rec["status"] == "ok", rec
        details.append(rec["details"])
    assert (
        details[0]["pairs"] == details[1]["pairs"] == 1
    )  # chunk 1: the only pair straddles chunks
    assert details[0]["max_pair_score"] == details[1]["max_pair_score"]
