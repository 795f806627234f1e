"""The probe on files that real footage is made of: every number sane, or an error naming it."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.footage import _clips as clips
from vbench_cn.video import (
    LIMITS,
    ProbeLimits,
    Sampling,
    VideoError,
    VideoReader,
    timestamp_problem,
)


def _decord_times(path: Path) -> np.ndarray:
    import decord

    vr = decord.VideoReader(str(path), num_threads=1)
    return vr.get_frame_timestamp(np.arange(len(vr)))[:, 0]


@pytest.mark.parametrize(
    "build, name",
    [(clips.xvid_avi, "xvid.avi"), (clips.mpeg_ps, "dvd.mpg")],
)
def test_broken_index_timestamps_fall_back_to_packet_timestamps(
    tmp_path: Path, build: object, name: str
) -> None:
    """decord says -3.8e17 s (AVI) or -1e14 s (MPEG-PS); the packets know 0..2 s."""
    path = build(tmp_path / name, clips.textured(48, 32, 48))  # type: ignore[operator]
    assert _decord_times(path).min() < -1e6  # the failure still reproduces with this decord
    reader = VideoReader(path)
    info = reader.info
    assert info.timestamps == "packets" and info.num_frames == 48
    assert info.duration_seconds == pytest.approx(2.0, abs=1e-6)
    assert info.fps == pytest.approx(24.0)
    assert len(info.warnings) == 1 and "index timestamps not increasing" in info.warnings[0]
    assert "packet timestamps used" in info.warnings[0]
    np.testing.assert_allclose(reader.timestamps, np.arange(48) / 24.0, atol=1e-6)
    # a time-based sampling (2 fps) takes 4 frames, not an np.arange of 7.7e17
    idx = Sampling("fps", 2).indices(info.num_frames, reader.timestamps, info.fps)
    assert idx.tolist() == [0, 12, 24, 36]
    assert reader.read_all(idx).shape == (4, 32, 48, 3)


def test_stream_without_timestamps_uses_index_over_frame_rate(tmp_path: Path) -> None:
    path = clips.raw_h264(tmp_path / "raw.h264", clips.textured(20, 32, 32))
    info = VideoReader(path).info
    assert info.timestamps == "frame_rate" and info.backend == "pyav"
    assert info.num_frames == 20 and info.fps == 25.0
    assert info.duration_seconds == pytest.approx(0.8)
    assert "packets without timestamps" in info.warnings[0]


def test_every_timestamp_source_broken_still_gives_a_sane_probe(tmp_path: Path) -> None:
    """Duplicated timestamps in the container: index and packets both refused, index / fps."""
    import av

    path = tmp_path / "dup.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=8)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        packets = []
        for rgb in clips.textured(12, 32, 32):
            packets += stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
        packets += stream.encode()
        for i, packet in enumerate(packets):
            packet.pts = packet.dts = i // 3  # three frames at each time
            out.mux(packet)
    reader = VideoReader(path)
    assert reader.info.timestamps == "frame_rate"
    assert reader.info.duration_seconds == pytest.approx(1.5)
    (note,) = reader.info.warnings
    assert "index timestamps not increasing" in note and "packet timestamps not increasing" in note
    np.testing.assert_allclose(reader.timestamps, np.arange(12) / 8.0)


def test_frame_rate_counts_coded_frames_not_drop_chunks(tmp_path: Path) -> None:
    """An AVI declaring 15 fps with a coded frame every 6 ticks: 2.5 frames per second."""
    path = clips.drop_chunk_avi(tmp_path / "drop.avi", clips.textured(12, 32, 32), every=6)
    sizes = clips.avi_index(path)
    assert len(sizes) >= 60 and sum(1 for s in sizes if s) == 12  # drop chunks are in the file
    info = VideoReader(path).info
    assert info.num_frames == 12 and info.container_fps == 15.0
    assert info.fps == pytest.approx(2.5, rel=1e-6)
    assert any("2.5 frames per second coded, the container declares 15" in w for w in info.warnings)


@pytest.mark.parametrize("backend", ["auto", "decord"])  # PyAV's pixels, decord's
@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_display_matrix_turns_frames_upright(tmp_path: Path, degrees: int, backend: str) -> None:
    original = clips.quadrants(4, 32, 64)
    path = clips.encode(tmp_path / f"rot{degrees}.mp4", original, rotation=degrees)
    reader = VideoReader(path, backend=backend)
    info = reader.info
    upright = np.rot90(original[0], degrees // 90)
    assert info.rotation == degrees and (info.height, info.width) == upright.shape[:2]
    frames = reader.read_all(np.arange(4)).numpy()
    assert frames.shape == (4, *upright.shape)
    assert np.abs(frames[0].astype(int) - upright).mean() < 8  # colours survive H.264
    assert info.to_dict()["rotation"] == degrees


def test_phone_clip_rotated_clockwise_is_portrait(tmp_path: Path) -> None:
    """A phone's portrait clip: landscape coded, display matrix -90° (clockwise)."""
    original = clips.quadrants(3, 32, 64)
    path = clips.encode(tmp_path / "phone.mp4", original, rotation=-90)
    reader = VideoReader(path)
    assert (reader.info.width, reader.info.height, reader.info.rotation) == (32, 64, 270)
    frame = reader.read_all([0])[0].numpy()
    # clockwise: the coded top-left (red) quadrant ends up top-right
    assert frame[5, -5].tolist() == pytest.approx([255, 0, 0], abs=40)
    assert frame[-5, 5].tolist() == pytest.approx([255, 255, 255], abs=40)


@pytest.mark.parametrize("backend", ["auto", "decord"])
def test_decoder_scaled_view_of_a_rotated_clip_is_upright(tmp_path: Path, backend: str) -> None:
    """A view (Tag2Text's 384x384 decoder scaling, here 40x24) is turned upright too."""
    original = clips.quadrants(3, 32, 64)
    path = clips.encode(tmp_path / "phone.mp4", original, rotation=-90)
    reader = VideoReader(path, backend=backend)
    ((view, idx, frames),) = list(reader.read_views({(24, 40): np.arange(3)}))
    assert view == (24, 40) and idx.tolist() == [0, 1, 2]
    assert tuple(frames.shape) == (3, 40, 24, 3)  # (height, width): portrait, as asked
    frame = frames[0].numpy()
    assert frame[3, -3].tolist() == pytest.approx([255, 0, 0], abs=40)  # red top-right
    assert frame[-3, 3].tolist() == pytest.approx([255, 255, 255], abs=40)


def test_non_square_pixels_are_stretched_to_the_display_aspect(tmp_path: Path) -> None:
    original = clips.quadrants(3, 32, 64)
    path = clips.encode(tmp_path / "pal.mp4", original, sample_aspect_ratio=Fraction(128, 117))
    reader = VideoReader(path)
    assert reader.info.sample_aspect_ratio == "128:117"
    assert (reader.info.width, reader.info.height) == (70, 32)  # round(64 * 128 / 117)
    assert reader.read_all(np.arange(3)).shape == (3, 32, 70, 3)


def test_truncated_upload_reads_the_frames_there_are(tmp_path: Path) -> None:
    whole = clips.faststart_mp4(tmp_path / "whole.mp4", clips.textured(48, 32, 32))
    cut = clips.truncate(whole, tmp_path / "cut.mp4", 3000)
    reader = VideoReader(cut)
    n = reader.info.num_frames
    chunks = list(reader.read(np.arange(n), chunk_frames=8))
    got = int(sum(len(idx) for idx, _ in chunks))
    assert 0 < got < n
    assert reader.truncated == (
        f"the stream ends early: {got} of the {n} frames wanted were decoded (the index lists {n})"
    )
    with pytest.raises(VideoError, match="cut.mp4: the stream ends early"):
        VideoReader(cut).read_all(np.arange(n))


def test_implausible_values_are_errors_naming_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = clips.encode(tmp_path / "ok.mp4", clips.textured(16, 32, 32), fps=8)
    assert VideoReader(path).info.duration_seconds == 2.0
    monkeypatch.setattr("vbench_cn.video.LIMITS", ProbeLimits(max_duration_seconds=1.0))
    with pytest.raises(VideoError) as err:
        VideoReader(path)
    assert str(err.value) == f"{path}: implausible duration 2 s (limit 1 s)"
    monkeypatch.setattr("vbench_cn.video.LIMITS", ProbeLimits(max_fps=4.0))
    with pytest.raises(VideoError, match=r"implausible frame rate 8 fps \(limits 0.01..4\)"):
        VideoReader(path)
    monkeypatch.setattr("vbench_cn.video.LIMITS", ProbeLimits(max_side=16))
    with pytest.raises(VideoError, match="implausible coded size 32x32"):
        VideoReader(path)


def test_timestamp_checks() -> None:
    assert timestamp_problem(np.arange(10) / 8.0, 1.25) is None
    assert timestamp_problem(np.array([0.0, np.nan, 1.0]), None) == "not finite (1 of 3)"
    assert timestamp_problem(np.array([0.0, 1.0, 0.5]), None) == (
        "not increasing (1 of 2 steps), 0..0.5 s"
    )
    assert timestamp_problem(np.array([0.0, 100.0]), 2.0) == "0..100 s, beyond the container's 2 s"
    assert timestamp_problem(np.array([0.0, 3.0]), 2.0) is None  # headers may underestimate
    long = np.array([0.0, LIMITS.max_duration_seconds + 1])
    assert timestamp_problem(long, None) == "0..8.64e+04 s, beyond the limit"


def test_time_sampling_refuses_an_unbounded_allocation() -> None:
    times = np.array([-3.8e17, 1.0])
    with pytest.raises(ValueError, match="would take 7.6e\\+17 frames"):
        Sampling("fps", 2).indices(2, times, 24.0)
