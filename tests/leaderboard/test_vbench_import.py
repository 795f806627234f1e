"""Import of VBench's ``{name}_eval_results.json`` into our records, on a small hand-made file."""

from __future__ import annotations

import json

import pytest
from _lbhelpers import section18_specs
from typer.testing import CliRunner

from vbench_cn.aggregation import aggregate
from vbench_cn.results import read_records
from vbench_cn.vbench_import import VBenchImportError, import_eval_results, parse_eval_results

EVAL = {
    "subject_consistency": [
        0.95,
        [
            {"video_path": "/data/videos/a dog running on the beach-0.mp4", "video_results": 0.96},
            {"video_path": "/data/videos/a dog running on the beach-1.mp4", "video_results": 0.92},
            {"video_path": "/data/videos/a cat sleeping-0.mp4", "video_results": 0.97},
        ],
    ],
    "imaging_quality": [
        0.6,
        [
            {"video_path": "/data/videos/a dog running on the beach-0.mp4", "video_results": 55.0},
            {"video_path": "/data/videos/a cat sleeping-0.mp4", "video_results": 65.0},
        ],
    ],
    "dynamic_degree": [
        0.5,
        [
            {"video_path": "a dog running on the beach-0.mp4", "video_results": True},
            {"video_path": "a cat sleeping-0.mp4", "video_results": False},
        ],
    ],
    "scene": [
        0.5,
        [
            {"video_path": "a cat sleeping-0.mp4", "video_results": {"unexpected": 1}},
        ],
    ],
}


@pytest.fixture()
def eval_file(tmp_path):
    path = tmp_path / "mymodel_eval_results.json"
    path.write_text(json.dumps(EVAL), encoding="utf-8")
    return path


def test_records_prompts_samples_and_scales(eval_file):
    records, aggregates = parse_eval_results(eval_file, model="mymodel", specs=section18_specs())
    by = {(r["dimension"], r["video"]): r for r in records}
    dog1 = by[("subject_consistency", "/data/videos/a dog running on the beach-1.mp4")]
    assert (dog1["prompt_id"], dog1["sample"], dog1["score"]) == (
        "a dog running on the beach",
        1,
        0.92,
    )
    assert by[("imaging_quality", "/data/videos/a cat sleeping-0.mp4")]["score"] == pytest.approx(
        0.65
    )  # /100
    assert by[("dynamic_degree", "a dog running on the beach-0.mp4")]["score"] == 1.0
    bad = by[("scene", "a cat sleeping-0.mp4")]
    assert bad["status"] == "error" and "not a number" in bad["error"]
    assert aggregates["imaging_quality"] == 0.6


def test_imported_run_aggregates_to_vbench_means(eval_file, tmp_path):
    specs = section18_specs()
    run, _, aggregates = import_eval_results(
        eval_file, tmp_path / "run", model="mymodel", specs=specs
    )
    result = aggregate(read_records(run), specs, num_resamples=200)
    means = result.dimensions.set_index("dimension")["mean"]
    assert means["imaging_quality"] == pytest.approx(aggregates["imaging_quality"])  # (55+65)/2/100
    assert means["subject_consistency"] == pytest.approx((0.96 + 0.92 + 0.97) / 3)
    row = result.dimensions.set_index("dimension").loc["subject_consistency"]
    assert row["n_prompts"] == 2 and row["n_videos"] == 3  # samples of one prompt stay together
    assert result.dimensions.set_index("dimension").loc["scene", "n_errors"] == 1
    with pytest.raises(VBenchImportError, match="already holds records"):
        import_eval_results(eval_file, run, model="mymodel", specs=specs)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{oops", "not valid JSON"),
        ("[]", "expected an object"),
        ('{"color": 0.5}', "color: expected [aggregate, [per-video results]]"),
        (
            '{"color": [0.5, [{"video_results": 1}]]}',
            "color[1][0]: expected an object with video_path",
        ),
    ],
)
def test_bad_files_fail_with_one_line(tmp_path, content, message):
    path = tmp_path / "x_eval_results.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(VBenchImportError) as info:
        parse_eval_results(path, model="m", specs=section18_specs())
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)


def test_import_cli(eval_file, tmp_path, monkeypatch):
    from vbench_cn.cli import app, board

    monkeypatch.setattr(board, "_specs", lambda extra: section18_specs())
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["import-vbench", str(eval_file), "--model", "mymodel", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert len(read_records(out)) == 8
    result = CliRunner().invoke(
        app, ["import-vbench", str(eval_file), "--model", "../x", "--out", str(tmp_path / "r2")]
    )
    assert result.exit_code == 2 and "looks like a path" in result.output
    result = CliRunner().invoke(app, ["aggregate", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["models"]["mymodel"]["dimensions"]["imaging_quality"]["mean"] == pytest.approx(0.6)
