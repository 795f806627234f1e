"""Everyday mistakes: one line, exit 2, before any work (17.5), and the default dimensions (17.6).

The failure: tracebacks, printed only after every video was probed, for ``--out`` a file or
uncreatable, ``--device tpu``, a full disk, ``aggregate --out`` onto a folder.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vbench_cn.cli import app
from vbench_cn.results import read_records


def _invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "taken.txt"
    path.write_text("x\n", encoding="utf-8")
    return path


CASES = [
    ("--out is a file", lambda t: ["--out", _file(t)], "exists and is not a folder"),
    ("--out under a file", lambda t: ["--out", _file(t) / "run"], "is a file, not a folder"),
    ("--device tpu", lambda t: ["--out", t / "run", "--device", "tpu"], "--device tpu"),
    ("--device cuda:x", lambda t: ["--out", t / "run", "--device", "cuda:x"], "not a device"),
    ("--chunk-frames 0", lambda t: ["--out", t / "run", "--chunk-frames", "0"], "1 or more"),
]


@pytest.mark.parametrize(("name", "args", "message"), CASES, ids=[c[0] for c in CASES])
def test_evaluate_mistakes_are_one_line_before_any_work(tmp_path, clips_dir, name, args, message):
    result = _invoke("evaluate", clips_dir, "-d", "frame_rate", *args(tmp_path))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert "Traceback" not in result.output


def test_a_full_disk_mid_run_is_one_line_and_resumes(tmp_path, clips_dir, monkeypatch):
    from vbench_cn import results

    original = results.RecordWriter.write
    calls = {"n": 0}

    def write(self, rec):
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, rec)

    monkeypatch.setattr(results.RecordWriter, "write", write)
    out = tmp_path / "run"
    result = _invoke("evaluate", clips_dir, "-d", "frame_rate", "--out", out, "--no-progress")
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert (
        "No space left on device" in last and "re-run" in last and "Traceback" not in result.output
    )
    assert len(read_records(out)) == 2
    monkeypatch.setattr(results.RecordWriter, "write", original)
    again = _invoke("evaluate", clips_dir, "-d", "frame_rate", "--out", out, "--no-progress")
    assert again.exit_code == 0 and len(read_records(out)) == 5


def test_aggregate_out_onto_a_folder_is_one_line(tmp_path, clips_dir):
    run = tmp_path / "run"
    assert _invoke("evaluate", clips_dir, "-d", "frame_rate", "--out", run).exit_code == 0
    folder = tmp_path / "reports"
    folder.mkdir()
    result = _invoke("aggregate", run, "--out", folder)
    assert result.exit_code == 2 and "is a folder" in result.output, result.output
    assert "Traceback" not in result.output
    nested = tmp_path / "new" / "deeper" / "agg.md"
    ok = _invoke("aggregate", run, "--out", nested)
    assert ok.exit_code == 0 and nested.is_file(), ok.output


def test_evaluate_without_dimensions_scores_the_quality_seven(tmp_path, clips_dir, monkeypatch):
    """The failure: all 32 dimensions, a ViT-g among them, for one short clip."""
    from vbench_cn import runner

    chosen: list[str] = []

    def fake_run(self, items, **kwargs):
        chosen.extend(s.id for s in self.specs)
        return []

    monkeypatch.setattr(runner.Runner, "run", fake_run)
    result = _invoke("evaluate", clips_dir, "--out", tmp_path / "run", "--random-weights")
    assert result.exit_code == 0, result.output
    assert sorted(chosen) == sorted(
        [
            "subject_consistency",
            "background_consistency",
            "temporal_flickering",
            "motion_smoothness",
            "dynamic_degree",
            "aesthetic_quality",
            "imaging_quality",
        ]
    )
    assert "no --dimensions" in result.output
