"""``--decoder torchcodec``: its pixels against PyAV's, the option, its errors, its fallback,
run.json and resume.

The pixel tests need torchcodec and FFmpeg libraries it can load. Where torchcodec is installed
(the dev extra) but no FFmpeg is, as in CI, they run in a child process on the FFmpeg that
PyAV's wheel bundles; without torchcodec they are skipped, saying why. Everything else runs
everywhere: a stand-in replaces torchcodec's frames.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tests.footage import _clips as clips
from vbench_cn import synthetic as s
from vbench_cn import video_torchcodec as vt
from vbench_cn.api import evaluate
from vbench_cn.cli import app
from vbench_cn.inputs import changes
from vbench_cn.manifest import discover
from vbench_cn.preflight import SetupError, reads_native_frames
from vbench_cn.runner import Runner, RunOptions
from vbench_cn.specs import load_specs
from vbench_cn.video import VideoReader, _pyav_frames

#: Why torchcodec cannot run here (None: it can).
UNUSABLE = vt.torchcodec_problem()


def _pixel_tests_need_pyav_ffmpeg() -> str | None:
    """Why the pixel tests cannot be rerun on PyAV's FFmpeg (None: they can and must be)."""
    if UNUSABLE is None:
        return "torchcodec loads here: the pixel tests ran in this process"
    if "cannot load FFmpeg" not in UNUSABLE:
        return f"torchcodec cannot run here: {UNUSABLE}"
    import av

    if not (Path(av.__file__).resolve().parent.parent / "av.libs").is_dir():
        return "PyAV bundles no FFmpeg here (built against a system one)"
    return None


PYAV_FFMPEG_PROBLEM = _pixel_tests_need_pyav_ffmpeg()
#: Why the pixel tests are skipped in this process.
PIXEL_SKIP = f"torchcodec cannot run in this process: {UNUSABLE}" + (
    "; they run in a child on PyAV's FFmpeg" if PYAV_FFMPEG_PROBLEM is None else ""
)

#: torchcodec's CPU decoder converts to RGB with FFmpeg's swscale, as PyAV does: the same
#: pixels when both load the same FFmpeg (measured: 0 levels). A system FFmpeg other than
#: PyAV's bundled one may round the last bit differently: at most 1 level, rarely.
MAX_LEVELS = 1
MEAN_LEVELS = 0.01

SPECS = ("temporal_flickering", "duration_seconds")

#: The tests that compare torchcodec's pixels with PyAV's (they need torchcodec to load FFmpeg).
PIXEL_TESTS = (
    "test_torchcodec_frames_equal_pyav_frames",
    "test_torchcodec_decodes_sparse_samples_and_upright_orientation",
)
ROOT = Path(__file__).resolve().parents[2]


def _frames(reader: VideoReader, wanted: dict, decoder: str) -> dict:
    out: dict = {}
    for view, idx, frames in reader.read_views(wanted, chunk_frames=5, decoder=decoder):
        out.setdefault(view, ([], []))
        out[view][0].append(idx)
        out[view][1].append(frames)
    return {v: (np.concatenate(i), torch.cat(f)) for v, (i, f) in out.items()}


def _pixel_clips(folder: Path) -> dict[str, tuple[Path, int]]:
    """Name -> (clip, native frames torchcodec decodes: 0 where PyAV keeps them all)."""
    t = clips.textured(14, 48, 64)
    return {
        "even": (s.write_video(folder / "even.mp4", t, crf=18), 14),
        "odd": (s.write_video(folder / "odd.mp4", clips.textured(9, 37, 53), crf=18), 9),
        "tiny-odd": (s.write_video(folder / "tiny.mp4", clips.textured(6, 9, 7)), 6),
        "turned-90": (clips.encode(folder / "r90.mp4", t, rotation=90), 14),
        "turned-270": (clips.encode(folder / "r270.mp4", t, rotation=-90), 14),
        "turned-180-b-frames": (clips.encode(folder / "r180.mp4", t, rotation=180, b_frames=2), 14),
        "non-square": (
            clips.encode(folder / "pal.mp4", t, sample_aspect_ratio=Fraction(16, 11)),
            0,
        ),
    }


@pytest.mark.skipif(UNUSABLE is not None, reason=PIXEL_SKIP)
def test_torchcodec_frames_equal_pyav_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torchcodec.decoders

    delivered: list[int] = []

    class Counted(torchcodec.decoders.VideoDecoder):
        def get_frames_at(self, indices):  # type: ignore[no-untyped-def]
            batch = super().get_frames_at(indices)
            delivered.append(len(batch.data))
            return batch

    monkeypatch.setattr(torchcodec.decoders, "VideoDecoder", Counted)
    view = (40, 30)
    for name, (path, native) in _pixel_clips(tmp_path).items():
        reader = VideoReader(path)
        n = reader.info.num_frames
        wanted = {None: np.arange(n), view: np.arange(0, n, 3)}
        delivered.clear()
        ours = _frames(reader, wanted, "torchcodec")
        assert sum(delivered) == native, name  # torchcodec decoded them, no silent fallback
        ref = _frames(reader, wanted, "pyav")
        for v in wanted:
            assert np.array_equal(ours[v][0], ref[v][0]), (name, v)
            assert ours[v][1].shape == ref[v][1].shape, (name, v)
            assert ours[v][1].shape[1:3] == (
                (reader.info.height, reader.info.width) if v is None else (view[1], view[0])
            )
            diff = (ours[v][1].int() - ref[v][1].int()).abs()
            assert int(diff.max()) <= MAX_LEVELS, (name, v, int(diff.max()))
            assert float(diff.float().mean()) <= MEAN_LEVELS, (name, v)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.skipif(UNUSABLE is not None, reason=PIXEL_SKIP)
def test_torchcodec_decodes_sparse_samples_and_upright_orientation(tmp_path: Path) -> None:
    path = clips.encode(tmp_path / "phone.mp4", clips.quadrants(30, 32, 64), rotation=-90)
    reader = VideoReader(path)
    idx = np.array([2, 17, 29])
    got = _frames(reader, {None: idx}, "torchcodec")[None]
    assert got[0].tolist() == [2, 17, 29]
    first = got[1][0].numpy().astype(int)
    # turned clockwise: red (top-left) goes top-right, blue (bottom-left) top-left
    assert first[4, -4, 0] > 200 and first[4, -4, 2] < 60  # red
    assert first[4, 4, 2] > 200 and first[4, 4, 0] < 60  # blue


@pytest.mark.skipif(PYAV_FFMPEG_PROBLEM is not None, reason=str(PYAV_FFMPEG_PROBLEM))
def test_the_pixel_tests_pass_on_pyavs_ffmpeg_where_no_ffmpeg_is_installed(
    tmp_path: Path,
) -> None:
    # torchcodec installed (the dev extra) but no FFmpeg on the machine, as in CI: the pixel
    # tests run in a child whose LD_LIBRARY_PATH holds PyAV's bundled FFmpeg, as
    # bench/README.md says, so they never go unrun where torchcodec is installed.
    bench = ROOT / "bench" / "torchcodec_bench.py"
    libs = subprocess.run(
        [sys.executable, str(bench), "--print-ffmpeg-dir"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"]
        + [f"{Path(__file__).resolve()}::{name}" for name in PIXEL_TESTS]
        + ["--basetemp", str(tmp_path / "child")],
        cwd=ROOT,
        env=dict(os.environ, LD_LIBRARY_PATH=libs),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stdout[-3000:] + child.stderr[-2000:]
    assert f"{len(PIXEL_TESTS)} passed" in child.stdout and "skipped" not in child.stdout


def test_the_decoder_option_is_checked(tmp_path: Path) -> None:
    assert vt.decoder_problem("pyav") is None
    problem = vt.decoder_problem("nvdec")
    assert problem == "--decoder must be one of pyav, torchcodec, got 'nvdec'"
    with pytest.raises(SetupError, match="--decoder must be one of"):
        Runner(_specs(), RunOptions(out_dir=tmp_path / "run", progress=False, decoder="nvdec"))
    folder = _videos(tmp_path, 1)
    args = ["evaluate", str(folder), "-m", "m", "-d", "duration_seconds", "--no-progress"]
    bad = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "bad"), "--decoder", "nvdec"])
    assert bad.exit_code == 2 and "--decoder must be one of pyav, torchcodec" in bad.output
    assert not (tmp_path / "bad").exists()  # refused before anything is written


def test_torchcodec_that_cannot_load_is_one_line_naming_the_libraries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # torchcodec's own message: one traceback per FFmpeg version it tried
    raw = "\n".join(
        f"FFmpeg version {v}:\nTraceback (most recent call last):\n  ...\n"
        f"OSError: libavutil.so.{u}: cannot open shared object file: No such file or directory"
        for v, u in ((8, 60), (7, 59), (6, 58))
    )
    raw += "\nOSError: libdrm-b0291a67.so.2.4.0: cannot open shared object file"
    line = vt.ffmpeg_load_failure(raw)
    assert "\n" not in line
    assert line.startswith(
        "not found: libavutil.so.60, libavutil.so.59, libavutil.so.58, libdrm-b0291a67.so.2.4.0;"
    )
    assert "undefined symbol _ZN3c10" in vt.ffmpeg_load_failure(
        "OSError: libavutil.so.59: cannot open shared object file\n"
        "OSError: libtorchcodec_core8.so: undefined symbol: _ZN3c10abc"
    )
    monkeypatch.setitem(sys.modules, "torchcodec", None)  # import torchcodec -> ImportError
    missing = vt.torchcodec_problem.__wrapped__()
    assert missing is not None and missing.startswith("torchcodec is not installed")
    monkeypatch.setattr(
        vt, "torchcodec_problem", lambda: f"torchcodec 0.17 cannot load FFmpeg: {line}"
    )
    folder = _videos(tmp_path, 1)
    result = CliRunner().invoke(
        app,
        ["evaluate", str(folder), "-m", "m", "-d", "duration_seconds", "--no-progress",
         "--out", str(tmp_path / "run"), "--decoder", "torchcodec"],
    )  # fmt: skip
    assert result.exit_code == 2
    said = [ln for ln in result.output.splitlines() if "torchcodec" in ln]
    assert len(said) == 1 and "--decoder torchcodec: torchcodec 0.17 cannot load FFmpeg" in said[0]
    assert "libavutil.so.60" in said[0]
    with pytest.raises(SetupError, match="cannot load FFmpeg"):
        Runner(_specs(), RunOptions(out_dir=tmp_path / "api", decoder="torchcodec"))


def test_a_file_torchcodec_cannot_decode_falls_back_to_pyav(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = s.write_video(tmp_path / "a.mp4", s.translating_clip(12, 32, 32))
    reader = VideoReader(path)
    wanted = {None: np.arange(12), (16, 16): np.arange(0, 12, 4)}
    ref = _frames(reader, wanted, "pyav")
    for after in (0, 1):  # fails at once, or after its first chunk
        monkeypatch.setattr(vt, "torchcodec_frames", _failing_after(after))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vbench_cn.video"):
            got = _frames(reader, wanted, "torchcodec")
        for v in wanted:
            assert np.array_equal(got[v][0], ref[v][0]) and torch.equal(got[v][1], ref[v][1])
        warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warned) == 1 and "\n" not in warned[0]
        assert warned[0].startswith(f"{path}: torchcodec cannot decode it (RuntimeError: ")
        assert "PyAV decodes it instead" in warned[0]


def test_files_whose_timestamps_the_probe_rejected_are_left_to_pyav(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # torchcodec orders frames by their timestamps: on an XviD AVI with B-frames (broken
    # index timestamps, packet timestamps used) it is not asked, and no warning is written.
    asked: list[str] = []
    _pretend_torchcodec(monkeypatch, asked=asked)
    frames = clips.textured(12, 48, 64)
    broken = VideoReader(clips.xvid_avi(tmp_path / "x.avi", frames))
    assert broken.info.timestamps != "index" and broken.info.backend == "decord"
    sane = VideoReader(s.write_video(tmp_path / "h.mp4", frames))
    assert sane.info.timestamps == "index"
    wanted = {None: np.arange(12)}
    with caplog.at_level(logging.INFO, logger="vbench_cn.video"):
        for reader in (broken, sane):
            got = _frames(reader, wanted, "torchcodec")[None]
            ref = _frames(reader, wanted, "pyav")[None]
            assert np.array_equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
    assert asked == [sane.path]
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert said == [f"{broken.path}: decoded by PyAV, not torchcodec (broken frame timestamps)"]


def test_a_run_with_torchcodec_writes_its_decoder_into_run_json_and_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pretend_torchcodec(monkeypatch, fail_on="clip1-0.mp4")
    folder, out = _videos(tmp_path, 3), tmp_path / "run"
    records = evaluate([folder], model="m", dimensions=list(SPECS), out_dir=out,
                       decoder="torchcodec", progress=False)  # fmt: skip
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert info["options"]["decoder"] == "torchcodec"
    assert info["runtime"]["decoder"] == "torchcodec-cpu"
    assert {r["status"] for r in records} == {"ok"}  # the file torchcodec refused: PyAV's
    by_dim = {r["dimension"]: r["inputs"] for r in records}
    assert by_dim["temporal_flickering"]["decoder"] == "torchcodec-cpu"
    assert "decoder" not in by_dim["duration_seconds"]  # reads no frame


def test_the_decoder_is_part_of_a_records_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, out = _videos(tmp_path, 2), tmp_path / "run"
    items = discover([folder], model="m")

    def run(**options: object) -> list[dict]:
        return Runner(_specs(), RunOptions(out_dir=out, progress=False, **options)).run(items)

    first = run()
    assert {r["inputs"].get("decoder") for r in first} == {"pyav", None}
    assert run() == []  # same decoder: everything reused
    _pretend_torchcodec(monkeypatch)
    again = run(decoder="torchcodec")  # other pixels: frame-reading records scored again
    assert sorted(r["dimension"] for r in again) == ["temporal_flickering"] * 2
    assert run(decoder="torchcodec") == []
    # records from before --decoder existed hold no decoder: they were PyAV's
    stored = {"precision": "fp32"}
    expect = {"spec_sha256": "x", "inputs": {"precision": "fp32", "decoder": "pyav"}}
    assert changes({"spec_sha256": "x", "inputs": stored}, expect) == []
    expect["inputs"]["decoder"] = "torchcodec-cuda"
    assert changes({"spec_sha256": "x", "inputs": stored}, expect) == [
        "decoder pyav → torchcodec-cuda"
    ]


def test_nvdec_only_under_fast_precision_and_views_do_not_depend_on_the_decoder() -> None:
    gpu = torch.device("cuda", 1)
    assert vt.decode_device("torchcodec", gpu, "fast") == gpu
    assert vt.decode_device("torchcodec", gpu, "parity").type == "cpu"
    assert vt.decode_device("pyav", gpu, "fast").type == "cpu"
    assert vt.decode_device("torchcodec", torch.device("cpu"), "fast").type == "cpu"
    assert vt.decoder_identity("torchcodec", gpu) == "torchcodec-cuda"
    assert vt.decoder_identity("pyav", torch.device("cpu")) == "pyav"
    specs = load_specs()
    for dim, native in [
        ("temporal_flickering", True),
        ("subject_consistency", True),
        ("scene", False),  # Tag2Text reads a 384x384 view, which PyAV makes
        ("duration_seconds", False),  # reads no frame
    ]:
        assert reads_native_frames(specs[dim], specs[dim].backbone) == native, dim


# --------------------------------------------------------------------------- helpers


def _specs() -> list:
    specs = load_specs()
    return [specs[d] for d in SPECS]


def _videos(root: Path, count: int) -> Path:
    folder = root / "videos"
    for i in range(count):
        s.write_video(folder / f"clip{i}-0.mp4", s.translating_clip(8 + 4 * i, 32, 32, seed=i))
    return folder


def _failing_after(chunks: int):  # type: ignore[no-untyped-def]
    """A torchcodec stand-in: PyAV's frames for ``chunks`` chunks, then a decoding error."""

    def frames(path: str, wanted: dict, chunk: dict, **_: object) -> Iterator:
        natives = {None: wanted[None]} if None in wanted else {}
        for k, event in enumerate(_pyav_frames(path, natives, chunk)):
            if k >= chunks:
                break
            yield event
        raise RuntimeError("Could not find a decoder for this stream")

    return frames


def _pretend_torchcodec(
    monkeypatch: pytest.MonkeyPatch, fail_on: str | None = None, asked: list[str] | None = None
) -> None:
    """torchcodec "installed": its frames are PyAV's (or an error for files named ``fail_on``);
    ``asked`` collects the paths it was asked to decode."""

    def frames(path: str, wanted: dict, chunk: dict, **_: object) -> Iterator:
        if asked is not None:
            asked.append(path)
        if fail_on and path.endswith(fail_on):
            raise RuntimeError("Could not find a decoder for this stream")
        yield from _pyav_frames(path, {None: wanted[None]} if None in wanted else {}, chunk)

    monkeypatch.setattr(vt, "torchcodec_problem", lambda: None)
    monkeypatch.setattr(vt, "torchcodec_frames", frames)
