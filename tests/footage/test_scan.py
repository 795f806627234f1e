"""Folder scans: every container real footage comes in, found by name or by content, and a
scan that names what it passed over."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.footage import _clips as clips
from vbench_cn.manifest import scan
from vbench_cn.video import VIDEO_EXTENSIONS, VideoReader, sniff_video

#: name -> (encoder, muxer, muxer options, frames per second)
CONTAINERS = {
    "a.mpg": ("mpeg2video", "mpeg", {}, 24.0),
    "b.mpeg": ("mpeg1video", "mpeg", {}, 24.0),
    "c.ts": ("mpeg2video", "mpegts", {}, 24.0),
    "d.m2ts": ("libx264", "mpegts", {"mpegts_m2ts_mode": "1"}, 24.0),
    "e.3gp": ("mpeg4", "3gp", {}, 8.0),
    "f.flv": ("flv", "flv", {}, 8.0),
    "g.wmv": ("wmv2", "asf", {}, 8.0),
    "h.ogv": ("libvpx", "ogg", {}, 8.0),
}


def _write(path: Path, name: str) -> Path:
    codec, fmt, options, fps = CONTAINERS[name]
    frames = clips.textured(8, 32, 32)
    return clips.encode(path, frames, fps, codec=codec, fmt=fmt, container_options=options)


def test_every_common_container_is_found_and_read(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    for name in CONTAINERS:
        _write(folder / name, name)
    found = scan([folder], model="m")
    assert sorted(Path(it.path).name for it in found.items) == sorted(CONTAINERS)
    assert found.skipped == [] and found.sniffed == []
    for it in found.items:
        assert VideoReader(it.path).info.num_frames == 8, it.path


def test_content_sniffing_finds_videos_whatever_their_name(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    for name, kind in (("a.mpg", "mpeg-ps"), ("d.m2ts", "mpeg-ts"), ("h.ogv", "ogg")):
        _write(tmp_path / name, name)
        assert sniff_video(tmp_path / name) == kind
    folder.mkdir()
    (folder / "recording.dat").write_bytes((tmp_path / "a.mpg").read_bytes())
    (folder / "download").write_bytes((tmp_path / "d.m2ts").read_bytes())
    clips.encode(folder / "clip.mp4", clips.textured(8, 32, 32))
    clips.raw_h264(folder / "camera.h264", clips.textured(8, 32, 32))  # no container at all
    (folder / "notes.txt").write_text("shot list", encoding="utf-8")
    (folder / "song.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(100))
    (folder / "voice.ogg").write_bytes(b"OggS\x00\x02" + bytes(22) + b"\x01vorbis" + bytes(50))
    (folder / ".DS_Store").write_bytes(bytes(64))
    found = scan([folder], model="m")
    assert sorted(Path(it.path).name for it in found.items) == [
        "camera.h264",
        "clip.mp4",
        "download",
        "recording.dat",
    ]
    assert sorted((Path(p).name, k) for p, k in found.sniffed) == [
        ("camera.h264", "h264"),
        ("download", "mpeg-ts"),
        ("recording.dat", "mpeg-ps"),
    ]
    reasons = {Path(p).name: r for p, r in found.skipped}
    assert reasons == {
        "notes.txt": "not a video by name or content",
        "song.m4a": "not a video by name or content",
        "voice.ogg": "not a video by name or content",
        ".DS_Store": "hidden",
    }
    lines = found.summary()
    assert any(
        line.startswith("skipped 3 files (not a video by name or content): ") for line in lines
    )
    assert any("read 3 files as video by their content" in line for line in lines)
    assert VideoReader(folder / "recording.dat").info.num_frames == 8
    assert VideoReader(folder / "camera.h264").info.num_frames == 8


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vbench_cn", *args], capture_output=True, text=True, timeout=180
    )


def test_no_video_found_names_the_files_and_what_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "notes.txt").write_text("x", encoding="utf-8")
    (folder / "meta.json").write_text("{}", encoding="utf-8")
    proc = _cli("evaluate", str(folder), "-d", "duration_seconds", "-o", str(tmp_path / "o"))
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: no video files found in {folder}; passed over ")
    assert str(folder / "notes.txt") in line and str(folder / "meta.json") in line
    assert " ".join(VIDEO_EXTENSIONS) in line and ".mpg" in line and ".ogv" in line


def test_cli_reports_the_scan_and_scores_what_it_found(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    _write(folder / "a.mpg", "a.mpg")
    (folder / "b.wmv").write_bytes(b"")  # a .wmv that is nothing: found, then an error record
    (folder / "readme [draft].txt").write_text("x", encoding="utf-8")
    (folder / "c.mp4").symlink_to(folder / "moved-away.mp4")  # a dangling link
    out = tmp_path / "o"
    proc = _cli("evaluate", str(folder), "-d", "duration_seconds", "-o", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "scan skipped 1 files (not a video by name or content): " in proc.stderr
    assert "readme [draft].txt" in proc.stderr  # escaped, not read as markup
    assert f"scan skipped 1 files (broken link): {folder / 'c.mp4'}" in proc.stderr
    from vbench_cn.results import read_records

    recs = {Path(r["video"]).name: r for r in read_records(out)}
    assert recs["a.mpg"]["status"] == "ok" and recs["a.mpg"]["score"] == pytest.approx(8 / 24)
    assert recs["b.wmv"]["status"] == "error" and "empty file" in recs["b.wmv"]["error"]
