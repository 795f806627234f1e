"""The runner end to end on model-free dimensions: semantics, decode-once, errors, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import read_jsonl
from vbench_cn import synthetic as s
from vbench_cn.api import evaluate
from vbench_cn.manifest import discover
from vbench_cn.results import read_records
from vbench_cn.runner import Runner, RunOptions, probe_all
from vbench_cn.specs import load_specs, select_specs


def _scores(records: list[dict], dimension: str) -> dict[str, float]:
    return {
        Path(r["video"]).stem: r["score"]
        for r in records
        if r["dimension"] == dimension and r["status"] == "ok"
    }


def test_temporal_flickering_known_answers(clips_dir: Path, tmp_path: Path) -> None:
    records = evaluate(
        [clips_dir], model="m", dimensions=["temporal_flickering"], out_dir=tmp_path, progress=False
    )
    got = _scores(records, "temporal_flickering")
    assert got["static-0"] == pytest.approx(1.0, abs=1e-6)
    assert got["alternating-0"] < 0.02  # every pair differs by ~255
    assert got["noise-0"] < got["translating-0"] < got["static-0"]
    # one cut among 15 static pairs: only one pair differs
    assert got["translating-0"] < got["cut-0"] < 1.0


def test_each_video_is_decoded_once_whatever_the_number_of_dimensions(
    clips_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vbench_cn import video

    calls: list[str] = []
    original = video.VideoReader.read_views  # one decoding pass, every view of the frames

    def counting_read(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(self.path)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(video.VideoReader, "read_views", counting_read)
    specs = select_specs(
        load_specs(), ["temporal_flickering", "duration_seconds", "frame_rate", "resolution"]
    )
    items = discover([clips_dir], model="m")
    runner = Runner(specs, RunOptions(out_dir=tmp_path, progress=False))
    runner.run(items)
    assert sorted(calls) == sorted(it.path for it in items)
    assert len(read_records(tmp_path)) == 4 * len(items)


def test_chunked_and_whole_decoding_give_the_same_scores(clips_dir: Path, tmp_path: Path) -> None:
    a = evaluate(
        [clips_dir],
        model="m",
        dimensions=["temporal_flickering"],
        out_dir=tmp_path / "a",
        progress=False,
        chunk_frames=3,
    )
    b = evaluate(
        [clips_dir],
        model="m",
        dimensions=["temporal_flickering"],
        out_dir=tmp_path / "b",
        progress=False,
        chunk_frames=1000,
    )
    sa, sb = _scores(a, "temporal_flickering"), _scores(b, "temporal_flickering")
    assert sa.keys() == sb.keys() and all(sa[k] == pytest.approx(sb[k], abs=1e-12) for k in sa)


def test_rerun_skips_what_is_recorded(clips_dir: Path, tmp_path: Path) -> None:
    specs = select_specs(load_specs(), ["temporal_flickering"])
    items = discover([clips_dir], model="m")
    first = Runner(specs, RunOptions(out_dir=tmp_path, progress=False)).run(items)
    second = Runner(specs, RunOptions(out_dir=tmp_path, progress=False)).run(items)
    assert len(first) == len(items) and second == []


def _make_mixed_folder(root: Path) -> Path:
    folder = root / "mixed"
    s.write_video(folder / "good-0.mp4", s.static_clip(8, 32, 32))
    s.write_video(folder / "好视频-1.mp4", s.translating_clip(8, 32, 32))
    s.write_video(folder / "one-frame-0.mp4", s.static_clip(1, 32, 32))
    (folder / "zero.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("not a video at all", encoding="utf-8")
    (folder / "random.mp4").write_bytes(os.urandom(4096))
    good = (folder / "good-0.mp4").read_bytes()
    (folder / "truncated.mp4").write_bytes(good[: len(good) // 3])
    return folder


def test_cli_scores_good_videos_and_records_broken_ones(tmp_path: Path) -> None:
    folder = _make_mixed_folder(tmp_path)
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vbench_cn",
            "evaluate",
            str(folder),
            "--model",
            "m",
            "--dimensions",
            "temporal_flickering,duration_seconds",
            "--out",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    recs = {(Path(r["video"]).name, r["dimension"]): r for r in read_records(out)}
    for name in ("zero.mp4", "notes.mp4", "random.mp4", "truncated.mp4"):
        rec = recs[(name, "temporal_flickering")]
        assert rec["status"] == "error" and name in rec["error"] and "\n" not in rec["error"]
        assert name in proc.stderr  # one line per broken file before scoring
    assert recs[("good-0.mp4", "temporal_flickering")]["score"] == pytest.approx(1.0, abs=1e-6)
    assert recs[("好视频-1.mp4", "temporal_flickering")]["status"] == "ok"
    one = recs[("one-frame-0.mp4", "temporal_flickering")]
    assert one["status"] == "skipped" and "2 frames" in one["error"]
    assert recs[("one-frame-0.mp4", "duration_seconds")]["status"] == "ok"
    assert recs[("good-0.mp4", "duration_seconds")]["probe"]["num_frames"] == 8


def test_protocol_check_warns_about_departures(tmp_path: Path) -> None:
    folder = tmp_path / "long"
    s.write_video(folder / "long-0.mp4", s.static_clip(56, 16, 16), fps=8)  # 7 s > VBench's 5 s
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vbench_cn",
            "evaluate",
            str(folder),
            "--model",
            "m",
            "--dimensions",
            "temporal_flickering",
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert "longer than 5 s" in proc.stderr and "found m: 1 videos" in proc.stderr


def _run_cmd(folder: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "vbench_cn",
        "evaluate",
        str(folder),
        "--model",
        "m",
        "--dimensions",
        "temporal_flickering,duration_seconds,resolution",
        "--out",
        str(out),
        "--no-progress",
    ]


def test_sigkilled_run_resumes_to_the_same_records(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for i in range(30):
        s.write_video(folder / f"clip{i:02d}-0.mp4", s.translating_clip(120, 96, 96, seed=i))
    reference = tmp_path / "reference"
    subprocess.run(_run_cmd(folder, reference), check=True, capture_output=True, timeout=300)
    expected = {(r["video"], r["dimension"]): r["score"] for r in read_records(reference)}
    assert len(expected) == 90

    killed = tmp_path / "killed"
    shard = killed / "records" / "records-rank0.jsonl"
    proc = subprocess.Popen(
        _run_cmd(folder, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if shard.exists() and shard.read_text(encoding="utf-8").count("\n") >= 6:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = read_jsonl(shard) if shard.exists() else []
    assert 0 < len(partial) < 90, "the kill must land mid-run"

    subprocess.run(_run_cmd(folder, killed), check=True, capture_output=True, timeout=300)
    lines = read_jsonl(shard)
    keys = [(r["video"], r["dimension"]) for r in lines]
    assert len(keys) == len(set(keys)) == 90  # nothing duplicated
    got = {(r["video"], r["dimension"]): r["score"] for r in lines}
    assert got == expected  # nothing lost, nothing changed
    assert all(got[(p["video"], p["dimension"])] == p["score"] for p in partial)


def test_torn_last_line_is_repaired_on_resume(tmp_path: Path, clips_dir: Path) -> None:
    out = tmp_path / "run"
    evaluate([clips_dir], model="m", dimensions=["duration_seconds"], out_dir=out, progress=False)
    shard = out / "records" / "records-rank0.jsonl"
    text = shard.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    shard.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2], encoding="utf-8")
    records = evaluate(
        [clips_dir], model="m", dimensions=["duration_seconds"], out_dir=out, progress=False
    )
    assert len(records) == 5
    for line in shard.read_text(encoding="utf-8").splitlines():
        json.loads(line)  # every line valid again


def test_probe_all_reports_unreadable_files(tmp_path: Path) -> None:
    folder = _make_mixed_folder(tmp_path)
    items = discover([folder], model="m")
    probes, errors = probe_all(items)
    assert len(errors) == 4 and all(probes[p] is None for p in errors)


def test_runner_refuses_a_level_it_does_not_run(tmp_path: Path) -> None:
    """A spec is never dropped silently: a level other than video or set stops the run."""
    import dataclasses

    spec = dataclasses.replace(load_specs()["duration_seconds"], level="run")
    with pytest.raises(ValueError, match=r"levels video, set, not duration_seconds \(run\)"):
        Runner([spec], RunOptions(out_dir=tmp_path, progress=False))
