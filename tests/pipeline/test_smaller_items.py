"""The smaller items of 17.10, one test each (``--chunk-frames 0`` is in test_everyday_mistakes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vbench_cn.cli import app


def _invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_compare_says_when_too_few_prompts_can_reach_alpha(tmp_path):
    """4 prompts, B better on every one: the CI excludes 0 but no p can fall below 0.05."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))
    from _lbhelpers import rec, spec, specs

    from vbench_cn.comparison import compare

    sp = specs(spec("q"))
    a = [rec("a", "q", f"p{k}", 0, 0.5 + 0.01 * k) for k in range(4)]
    b = [rec("b", "q", f"p{k}", 0, 0.7 + 0.01 * k) for k in range(4)]
    result = compare(a, b, sp, num_permutations=999)
    row = result.table.iloc[0]
    assert row["ci_low"] > 0
    assert row["verdict"] == "too few prompts to test"
    (warning,) = [w for w in result.warnings if w.startswith("q:")]
    assert "0.125" in warning and "excludes 0" in warning and "6 or more prompts" in warning


def test_aggregate_flags_random_weights_and_an_unfinished_run(tmp_path, clips_dir):
    run = tmp_path / "run"
    assert (
        _invoke("evaluate", clips_dir, "-d", "frame_rate", "--out", run, "--random-weights")
    ).exit_code == 0
    done = _invoke("aggregate", run)
    assert "random weights" in done.output and "did not finish" not in done.output
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert info["complete"] is True
    info["complete"] = False  # as a killed run leaves it
    (run / "run.json").write_text(json.dumps(info), encoding="utf-8")
    killed = _invoke("aggregate", run)
    assert killed.exit_code == 0 and "did not finish" in killed.output, killed.output


def test_demo_table_ranks_within_a_dimension_set_and_says_what_cells_are():
    from vbench_cn.demo import _ranking
    from vbench_cn.results import make_record

    def record(model, dim, score):
        return make_record(model=model, dimension=dim, score=score, video=f"{model}/x.mp4")

    records = [
        record("flicker-a", "temporal_flickering", 0.99),
        record("flicker-a", "duration_seconds", 3.0),
        record("flicker-b", "temporal_flickering", 0.90),
        record("flicker-b", "duration_seconds", 3.0),
        record("texty", "text_rendering", 1.0),
        record("texty", "duration_seconds", 3.0),
    ]
    tables = _ranking(records)
    assert len(tables) == 2  # the text model is not ranked against the flicker models
    title = str(tables[0].title)
    assert "raw means" in title and "normalised" in title
    assert [c.header for c in tables[0].columns][0] == "rank"
    assert list(tables[0].columns[1].cells) == ["flicker-a", "flicker-b"]


def test_piped_tables_keep_whole_ids():
    result = _invoke("dimensions", "list")
    assert result.exit_code == 0
    assert "background_consistency" in result.stdout and "…" not in result.stdout


def test_prompts_export_writes_only_prompt_lines():
    result = _invoke("prompts", "export", "--lang", "en", "--dimension", "scene")
    lines = result.stdout.splitlines()
    assert lines and all(re.fullmatch(r"[a-z]{2}-\d{4}\t.+", line) for line in lines), lines[:2]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"path": "x.mp4", "model": "m", "sample": 1.5}, "sample must be an integer or text"),
        ({"path": "x.mp4", "model": "m", "sample": True}, "sample must be"),
        ({"path": "x.mp4", "model": "m", "prompt": 123}, "prompt must be text, got int"),
        ({"path": "x.mp4", "model": ["m"]}, "model must be text, got list"),
        ({"path": 7, "model": "m"}, "path must be text"),
        ({"path": "x.mp4", "model": "m", "tags": "scene"}, "tags must be a list"),
    ],
)
def test_manifest_values_of_the_wrong_type_are_refused(tmp_path, row, message):
    from vbench_cn.manifest import ManifestError, read_manifest

    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        read_manifest(manifest)
    assert str(info.value).startswith(f"{manifest}:1: ") and message in str(info.value)


def test_a_one_pixel_video_is_warned_about(tmp_path):
    from vbench_cn import synthetic as s
    from vbench_cn.manifest import discover
    from vbench_cn.protocol import check_protocol
    from vbench_cn.runner import infos_of, probe_all
    from vbench_cn.specs import load_specs, select_specs

    frames = np.full((8, 1, 1, 3), 128, np.uint8)
    s.write_video(tmp_path / "v" / "dot-0.mp4", frames, 8.0)
    items = discover([tmp_path / "v"], model="m")
    infos = infos_of(probe_all(items)[0])
    report = check_protocol(items, infos, select_specs(load_specs(), ["temporal_flickering"]))
    assert any("smaller than 16 px" in w and "1x1" in w for w in report.warnings), report


def test_leaderboard_finds_its_submissions_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _invoke("leaderboard", "validate")
    assert result.exit_code == 0, result.output
    assert re.search(r"\d+ valid submissions", result.output)
