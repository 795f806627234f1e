"""CLI behaviour: usage errors exit 2 with one line; listing works in both languages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vbench_cn.cli import app
from vbench_cn.report import render

runner = CliRunner()


def test_dimensions_list_json_has_both_languages() -> None:
    result = runner.invoke(app, ["dimensions", "list", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    flicker = next(r for r in rows if r["id"] == "temporal_flickering")
    assert flicker["zh"] == "时间闪烁" and flicker["category"] == "quality"


def test_dimensions_list_table() -> None:
    result = runner.invoke(app, ["dimensions", "list"])
    assert result.exit_code == 0 and "时间闪烁" in result.stdout


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vbench_cn", *args], capture_output=True, text=True, timeout=120
    )


def test_missing_folder_exits_2_with_one_line(tmp_path: Path) -> None:
    proc = _cli("evaluate", str(tmp_path / "missing"), "--dimensions", "temporal_flickering")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such file or folder" in proc.stderr


def test_unknown_dimension_suggests(tmp_path: Path, clips_dir: Path) -> None:
    proc = _cli(
        "evaluate", str(clips_dir), "--dimensions", "temporal_flickerin", "--out", str(tmp_path)
    )
    assert proc.returncode == 2 and "did you mean temporal_flickering" in proc.stderr


def test_empty_folder_is_a_usage_error(tmp_path: Path) -> None:
    proc = _cli(
        "evaluate",
        str(tmp_path),
        "--dimensions",
        "temporal_flickering",
        "--out",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 2 and "no video files" in proc.stderr


def test_merge_joins_shards_without_duplicates(tmp_path: Path) -> None:
    from vbench_cn.results import make_record

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    r1 = make_record(model="m", video="m/x.mp4", dimension="d", score=0.5)
    r2 = make_record(model="m", video="m/y.mp4", dimension="d", score=0.7)
    a.write_text(json.dumps(r1) + "\n" + json.dumps(r2) + "\n", encoding="utf-8")
    b.write_text(json.dumps(r2) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["merge", str(a), str(b), "--out", str(tmp_path / "m.jsonl")])
    assert result.exit_code == 0
    lines = (tmp_path / "m.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2


def test_library_api_names_are_callable(tmp_path: Path, clips_dir: Path) -> None:
    import vbench_cn
    from vbench_cn.specs import load_specs

    records = vbench_cn.evaluate(
        [clips_dir], model="m", dimensions=["duration_seconds"], out_dir=tmp_path, progress=False
    )
    import vbench_cn.aggregation  # noqa: F401  (importing the module must not shadow the function)

    result = vbench_cn.aggregate(records, load_specs())
    assert "duration_seconds" in render(result, "md")
    assert [s.id for s in vbench_cn.list_dimensions()] and callable(vbench_cn.compare)


def test_aggregate_language_parity_reports_the_zh_en_gap(tmp_path: Path) -> None:
    from vbench_cn import synthetic as s

    folder = tmp_path / "videos" / "m"
    for p in ("tf-0001", "tf-0002", "tf-0003"):
        for i in range(2):
            s.write_video(folder / f"{p}-zh-{i}.mp4", s.static_clip(6, 16, 16, seed=i))
            s.write_video(folder / f"{p}-en-{i}.mp4", s.alternating_clip(6, 16, 16))
    out = tmp_path / "run"
    assert (
        runner.invoke(
            app,
            [
                "evaluate",
                str(folder.parent),
                "--dimensions",
                "temporal_flickering",
                "--out",
                str(out),
                "--no-progress",
            ],
        ).exit_code
        == 0
    )
    result = runner.invoke(app, ["aggregate", str(out), "--language-parity", "--format", "json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)[0]
    assert row["dimension"] == "temporal_flickering" and row["n_prompts"] == 3
    assert row["zh"] == pytest.approx(1.0, abs=1e-6) and row["gap"] > 0.9  # zh steady, en flickers


def test_weights_override_with_unknown_name_is_a_usage_error(
    tmp_path: Path, clips_dir: Path
) -> None:
    ckpt = tmp_path / "head.pth"
    ckpt.write_bytes(b"x")
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(clips_dir),
            "--dimensions",
            "aesthetic_quality",
            "--weights",
            f"laion_aesthetic={ckpt}",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert (
        "unknown weights 'laion_aesthetic'" in result.stderr
        and "laion_aesthetic_head" in result.stderr
    )
    assert not (tmp_path / "o").exists()  # refused before anything ran


def test_weights_override_with_missing_file_is_a_usage_error(
    tmp_path: Path, clips_dir: Path
) -> None:
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(clips_dir),
            "--dimensions",
            "aesthetic_quality",
            "--weights",
            f"laion_aesthetic_head={tmp_path / 'nope.pth'}",
        ],
    )
    assert result.exit_code == 2 and "no such file" in result.stderr
