"""Setup is checked before the first video and never recorded as video errors (17.4).

The failure: ``--device cuda`` without a GPU, or missing weights offline, wrote one error
record per video and printed only a count; a corrected re-run then said "0 errors" and
kept them unless one knew ``--retry-errors``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from vbench_cn.cli import app
from vbench_cn.results import read_records


def _evaluate(clips: Path, out: Path, *args: str):
    return CliRunner().invoke(app, ["evaluate", str(clips), "--out", str(out), *args])


def _one_line(output: str) -> str:
    lines = [ln for ln in output.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_fails_once_and_records_nothing(tmp_path, clips_dir):
    result = _evaluate(clips_dir, tmp_path / "run", "-d", "temporal_flickering", "--device", "cuda")
    assert result.exit_code == 2, result.output
    line = _one_line(result.output)
    assert "--device cuda" in line and "no CUDA device" in line and "--device cpu" in line
    assert "found" not in result.output  # refused before probing the videos
    assert not read_records(tmp_path / "run")


def test_missing_weights_offline_fail_before_the_first_video(tmp_path, clips_dir, monkeypatch):
    monkeypatch.setenv("VBENCH_CN_HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch"))
    monkeypatch.setenv("VBENCH_CN_OFFLINE", "1")
    out = tmp_path / "run"
    result = _evaluate(clips_dir, out, "-d", "subject_consistency,temporal_flickering")
    assert result.exit_code == 2, result.output
    line = _one_line(result.output)
    assert "dino_vitb16" in line and "missing" in line and "--weights-dir" in line, line
    assert not read_records(out), "a setup failure was recorded as video errors"
    fixed = _evaluate(clips_dir, out, "-d", "temporal_flickering", "--no-progress")
    assert fixed.exit_code == 0, fixed.output
    records = read_records(out)
    assert records and all(r["status"] == "ok" for r in records)


def test_models_are_built_before_the_first_video_and_named(tmp_path, clips_dir, capsys):
    from vbench_cn.manifest import discover
    from vbench_cn.runner import Runner, RunOptions
    from vbench_cn.specs import load_specs, select_specs

    specs = select_specs(load_specs(), ["frame_rate", "temporal_flickering"])
    runner = Runner(specs, RunOptions(out_dir=tmp_path, progress=True))
    runner.run(discover([clips_dir], model="m"))
    err = capsys.readouterr().err
    assert "building video_metadata (for frame_rate) on cpu" in err
    assert err.index("building") < err.index("scoring")
