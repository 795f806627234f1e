"""Runs over real-footage files: no file stops the run or loses finished work.

Every test scores a folder in which one file is hostile, and checks that file's records
(status, message) and that every other video is scored.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.footage import _clips as clips
from vbench_cn.manifest import discover
from vbench_cn.protocol import check_protocol
from vbench_cn.results import read_records
from vbench_cn.runner import Runner, RunOptions, infos_of, probe_all
from vbench_cn.specs import load_specs, select_specs

#: Weight-free dimensions: probe-only, every frame, and the 2-fps samplings of issue 16.
DIMENSIONS = [
    "duration_seconds",
    "frame_rate",
    "resolution",
    "temporal_flickering",
    "unintended_cuts",
    "loop_detection",
    "motion_persistence",
]


def _run(folder: Path, out: Path, dims: list[str] = DIMENSIONS) -> dict[tuple[str, str], dict]:
    specs = select_specs(load_specs(), dims)
    items = discover([folder], model="m")
    Runner(specs, RunOptions(out_dir=out, progress=False, all_prompts=True)).run(items)
    return {(Path(r["video"]).name, r["dimension"]): r for r in read_records(out)}


def _good(folder: Path, name: str, seed: int = 0) -> Path:
    return clips.encode(folder / name, clips.textured(24, 32, 32, seed=seed), fps=8)


def test_real_footage_folder_is_scored_with_sane_probes(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    _good(folder, "a-good.mp4")
    clips.xvid_avi(folder / "b-xvid.avi", clips.textured(48, 32, 32, seed=1))
    clips.mpeg_ps(folder / "c-dvd.mpg", clips.textured(48, 32, 32, seed=2))
    clips.drop_chunk_avi(folder / "d-drop.avi", clips.textured(12, 32, 32, seed=3))
    whole = clips.faststart_mp4(tmp_path / "whole.mp4", clips.textured(48, 32, 32, seed=4))
    clips.truncate(whole, folder / "e-cut.mp4", 3000)
    clips.encode(folder / "f-phone.mp4", clips.quadrants(16, 32, 64), rotation=-90)
    _good(folder, "z-good.mp4", seed=5)
    recs = _run(folder, tmp_path / "run")
    names = sorted(p.name for p in folder.iterdir())
    assert set(recs) == {(n, d) for n in names for d in DIMENSIONS}  # every video, every dimension

    # 1-2: the XviD AVI and the MPEG-PS are 2 s long, not 3.8e17 s capped at 60
    for name in ("b-xvid.avi", "c-dvd.mpg"):
        rec = recs[(name, "duration_seconds")]
        assert rec["status"] == "ok" and rec["score"] == pytest.approx(2.0)
        assert rec["probe"]["timestamps"] == "packets" and rec["probe"]["warnings"]
        for dim in ("unintended_cuts", "loop_detection", "motion_persistence"):
            assert recs[(name, dim)]["status"] in ("ok", "skipped"), recs[(name, dim)]
    # 7: frame rate of the coded frames
    assert recs[("d-drop.avi", "frame_rate")]["score"] == pytest.approx(2.5)
    assert recs[("d-drop.avi", "frame_rate")]["probe"]["container_fps"] == 15.0
    # 6: a truncated upload is scored with the frames there are, and says so
    cut = recs[("e-cut.mp4", "temporal_flickering")]
    assert cut["status"] == "ok" and "the stream ends early" in cut["details"]["truncated"]
    assert recs[("e-cut.mp4", "duration_seconds")]["status"] == "ok"
    assert "truncated" not in recs[("e-cut.mp4", "duration_seconds")]["details"]
    # 9: the phone clip is portrait
    phone = recs[("f-phone.mp4", "resolution")]
    assert (phone["details"]["width"], phone["details"]["height"]) == (32, 64)
    for name in ("a-good.mp4", "z-good.mp4"):
        assert all(recs[(name, d)]["status"] != "error" for d in DIMENSIONS)

    items = discover([folder], model="m")
    probes, errors = probe_all(items)
    report = check_protocol(items, infos_of(probes), select_specs(load_specs(), DIMENSIONS))
    (summary,) = report.summary
    low, high = re.search(r"duration ([\d.]+)–([\d.]+) s", summary).groups()  # type: ignore[union-attr]
    assert 1.0 <= float(low) and float(high) == pytest.approx(4.8)  # the drop-chunk AVI
    assert any("b-xvid.avi: index timestamps not increasing" in w for w in report.warnings)
    assert any("1 videos turned upright by their display matrix" in w for w in report.warnings)


def test_implausible_probe_is_a_per_video_error_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vbench_cn.video import ProbeLimits

    folder = tmp_path / "m"
    _good(folder, "a.mp4")
    clips.encode(folder / "b-long.mp4", clips.textured(80, 32, 32), fps=8)  # 10 s
    _good(folder, "c.mp4", seed=1)
    monkeypatch.setattr("vbench_cn.video.LIMITS", ProbeLimits(max_duration_seconds=5.0))
    recs = _run(folder, tmp_path / "run", ["duration_seconds", "temporal_flickering"])
    items = discover([folder], model="m")
    probes, errors = probe_all(items)
    report = check_protocol(items, infos_of(probes), [], errors)
    assert report.warnings == [
        f"m: 1 videos with an implausible probe are scored as errors: {folder / 'b-long.mp4'}:"
        " implausible duration 10 s (limit 5 s)"
    ]
    for dim in ("duration_seconds", "temporal_flickering"):
        bad = recs[("b-long.mp4", dim)]
        assert bad["status"] == "error"
        assert bad["error"] == f"{folder / 'b-long.mp4'}: implausible duration 10 s (limit 5 s)"
        assert recs[("a.mp4", dim)]["status"] == recs[("c.mp4", dim)]["status"] == "ok"


@pytest.mark.parametrize("where", ["open", "read", "timestamps"])
def test_a_crash_decoding_one_video_is_its_error_and_the_rest_is_scored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Breaks the 3rd of 5 videos in the decode thread: at open, mid-read, or with -3.8e17 s."""
    from vbench_cn.runner import decode as runner_module  # where the decoder opens videos

    folder = tmp_path / "m"
    for i in range(5):
        _good(folder, f"v{i}.mp4", seed=i)
    broken = str(folder / "v2.mp4")
    real = runner_module.VideoReader

    class Breaking(real):  # type: ignore[misc, valid-type]
        def __init__(self, path: str, **kwargs: object) -> None:
            if where == "open" and str(path) == broken:
                raise MemoryError("simulated allocation failure")
            super().__init__(path, **kwargs)  # type: ignore[arg-type]
            if where == "timestamps" and str(path) == broken:  # the probe issue 16 found
                self.timestamps = np.full(self.info.num_frames, -3.8e17)
                self.timestamps[-1] = 1.0

        def read_views(self, wanted, **kwargs):  # type: ignore[no-untyped-def]
            if where == "read" and self.path == broken:
                yield from list(super().read_views(wanted, **kwargs))[:1]
                raise RuntimeError("simulated decoder crash")
            yield from super().read_views(wanted, **kwargs)

    monkeypatch.setattr(runner_module, "VideoReader", Breaking)
    dims = ["duration_seconds", "temporal_flickering", "unintended_cuts"]
    items = discover([folder], model="m")
    probes, errors = probe_all(items)  # the probe before the run is guarded too
    if where == "open":
        assert errors == {
            broken: f"{broken}: probe crashed (MemoryError: simulated allocation failure)"
        }
    assert sum(probe is not None for probe in probes.values()) == (4 if where == "open" else 5)
    recs = _run(folder, tmp_path / "run", dims)
    assert len(recs) == 5 * len(dims)
    for i in (0, 1, 3, 4):
        assert all(recs[(f"v{i}.mp4", d)]["status"] in ("ok", "skipped") for d in dims)
    frame_dims = ["temporal_flickering"] + (["unintended_cuts"] if where != "read" else [])
    expected = {
        "open": "decoding crashed (MemoryError: simulated allocation failure)",
        "read": "decoding crashed (RuntimeError: simulated decoder crash)",
        "timestamps": "would take",
    }[where]
    for dim in frame_dims:
        rec = recs[("v2.mp4", dim)]
        assert rec["status"] == "error" and broken in rec["error"] and expected in rec["error"]
        assert "\n" not in rec["error"]
    # the probe's own dimension needs no frame: scored unless the file could not be opened
    assert recs[("v2.mp4", "duration_seconds")]["status"] == ("error" if where == "open" else "ok")


def test_sigterm_mid_run_keeps_every_finished_video(tmp_path: Path) -> None:
    """SIGTERM (a scheduler's kill) while decoding the 5th video: the 4 before are on disk.

    The weight-free backbones batch many videos before a forward pass, so without the
    runner's handling the 4 finished videos would still sit in a batcher and be lost.
    """
    folder = tmp_path / "m"
    for i in range(8):
        _good(folder, f"v{i}.mp4", seed=i)
    out = tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from vbench_cn import runner
        from vbench_cn.runner import decode
        from vbench_cn.manifest import discover
        from vbench_cn.specs import load_specs, select_specs

        real = decode.VideoReader

        class Killing(real):
            def __init__(self, path, **kwargs):
                if os.path.basename(str(path)) == "v4.mp4":
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(30)  # the main thread handles the signal meanwhile
                super().__init__(path, **kwargs)

        decode.VideoReader = Killing
        specs = select_specs(load_specs(), {DIMENSIONS!r})
        items = discover([{str(folder)!r}], model="m")
        options = runner.RunOptions(out_dir={str(out)!r}, progress=False, all_prompts=True)
        try:
            runner.Runner(specs, options).run(items)
        except KeyboardInterrupt:
            sys.exit(143)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 143, proc.stderr
    recs = read_records(out)
    done = {Path(r["video"]).name for r in recs}
    assert done == {f"v{i}.mp4" for i in range(4)}
    assert len(recs) == 4 * len(DIMENSIONS) and all(r["status"] != "error" for r in recs)
    # resuming scores the other four, nothing twice
    again = _run(folder, out)
    assert len(again) == 8 * len(DIMENSIONS)
    lines = (out / "records" / "records-rank0.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8 * len(DIMENSIONS)


def test_extractor_refusing_a_size_is_not_applicable_with_the_reason(tmp_path: Path) -> None:
    """A 4000x16 strip: RAFT (min side) is skipped, the probe's dimensions are scored."""
    folder = tmp_path / "m"
    _good(folder, "a.mp4")
    clips.encode(folder / "strip.mp4", clips.textured(8, 16, 4000), fps=8)
    os.environ.setdefault("VBENCH_CN_OFFLINE", "1")
    specs = select_specs(load_specs(), ["dynamic_degree", "resolution"])
    items = discover([folder], model="m")
    options = RunOptions(out_dir=tmp_path / "run", progress=False, random_weights=True)
    Runner(specs, options).run(items)
    recs = {(Path(r["video"]).name, r["dimension"]): r for r in read_records(tmp_path / "run")}
    rec = recs[("strip.mp4", "dynamic_degree")]
    assert rec["status"] == "skipped"
    assert rec["error"] == (
        "raft_things needs frames of at least 121 px a side; this video is 4000x16"
    )
    assert recs[("strip.mp4", "resolution")]["status"] == "ok"


def test_ffmpeg_log_lines_stay_off_the_console(tmp_path: Path) -> None:
    """decord's FFmpeg printed "[mov,mp4,... @ 0x...] stream 0, offset ...: partial file"."""
    folder = tmp_path / "m"
    clips.xvid_avi(folder / "xvid.avi", clips.textured(24, 32, 32))
    whole = clips.faststart_mp4(tmp_path / "whole.mp4", clips.textured(48, 32, 32))
    clips.truncate(whole, folder / "cut.mp4", 3000)
    proc = subprocess.run(
        [sys.executable, "-m", "vbench_cn", "evaluate", str(folder), "-d", "temporal_flickering"]
        + ["-o", str(tmp_path / "run"), "--no-progress", "--model", "m"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert not re.search(r"@ 0x[0-9a-f]+\]", proc.stderr), proc.stderr
    recs = {Path(r["video"]).name: r for r in read_records(tmp_path / "run")}
    assert recs["cut.mp4"]["status"] == "ok" and "truncated" in recs["cut.mp4"]["details"]
    assert recs["xvid.avi"]["status"] == "ok"
