"""Decoding, probing and frame sampling on synthetic videos with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vbench_cn import synthetic as s
from vbench_cn.video import (
    Sampling,
    VideoError,
    VideoReader,
    middle_sample_indices,
    times_to_indices,
)


def test_probe_reports_known_metadata(tmp_path: Path) -> None:
    path = s.write_video(tmp_path / "a.mp4", s.static_clip(24, 48, 80), fps=12)
    info = VideoReader(path).info
    assert (info.num_frames, info.width, info.height) == (24, 80, 48)
    assert info.fps == pytest.approx(12)
    assert info.duration_seconds == pytest.approx(2.0, abs=1e-3)
    assert info.codec == "h264" and not info.variable_frame_rate


def test_lossless_static_clip_decodes_to_identical_frames(tmp_path: Path) -> None:
    path = s.write_video(tmp_path / "a.mp4", s.static_clip(8, 32, 32))
    frames = VideoReader(path).read_all(np.arange(8))
    assert str(frames.dtype) == "torch.uint8" and tuple(frames.shape) == (8, 32, 32, 3)
    assert bool((frames == frames[0]).all())


def test_middle_sampling_matches_vbench_rule() -> None:
    # vbench/utils.py get_frame_indices(sample="middle"): min(k, n) bins of linspace(0, n, bins+1)
    # cast to int; bin [a, b) -> (a + b - 1) // 2; a short video repeats its last frame.
    # Values printed by VBench 0.1.5's own function.
    assert middle_sample_indices(16, 4).tolist() == [1, 5, 9, 13]
    assert middle_sample_indices(10, 3).tolist() == [1, 4, 7]
    assert middle_sample_indices(100, 16).tolist() == [
        2, 8, 14, 21, 27, 33, 39, 46, 52, 58, 64, 71, 77, 83, 89, 96
    ]  # fmt: skip
    assert middle_sample_indices(33, 16).tolist() == list(range(0, 30, 2)) + [31]
    assert middle_sample_indices(5, 16).tolist() == [0, 1, 2, 3, 4] + [4] * 11
    assert middle_sample_indices(17, 16).tolist() == list(range(16))


def test_stride_fps_follows_vbench_dynamic_degree_interval() -> None:
    # interval = max(1, round(fps / 8)): 24 fps -> every 3rd frame; 8 fps -> every frame.
    ts = np.arange(12) / 24
    assert Sampling("stride_fps", 8).indices(12, ts, 24.0).tolist() == [0, 3, 6, 9]
    assert Sampling("stride_fps", 8).indices(5, ts[:5], 8.0).tolist() == [0, 1, 2, 3, 4]


def test_every_seconds_respects_variable_frame_rate(tmp_path: Path) -> None:
    times = [0.0, 0.1, 0.2, 1.0, 1.1, 2.5, 2.6, 3.0]
    path = s.write_video(
        tmp_path / "vfr.mp4", s.translating_clip(8, 32, 32), fps=8, timestamps_seconds=times
    )
    reader = VideoReader(path)
    assert reader.info.variable_frame_rate
    np.testing.assert_allclose(reader.timestamps, times, atol=2e-3)
    idx = Sampling("every_seconds", 1.0).indices(
        reader.info.num_frames, reader.timestamps, reader.info.fps
    )
    # frames shown at t = 0, 1, 2, 3 s
    assert idx.tolist() == [0, 3, 4, 7]
    assert times_to_indices(np.array([0.0, 0.5, 1.0]), 0.5).tolist() == [0, 1, 2]


def test_chunked_reading_is_bounded_and_complete(tmp_path: Path) -> None:
    path = s.write_video(tmp_path / "a.mp4", s.translating_clip(20, 32, 32))
    reader = VideoReader(path)
    chunks = list(reader.read(np.arange(20), chunk_frames=6))
    assert [len(c[0]) for c in chunks] == [6, 6, 6, 2]
    whole = reader.read_all(np.arange(20))
    assert bool((np.concatenate([c[0] for c in chunks]) == np.arange(20)).all())
    assert bool((whole[7] == chunks[1][1][1]).all())


@pytest.mark.parametrize("size", [(1, 1), (3, 5), (16, 4000), (7, 9)])
def test_odd_sizes_decode(tmp_path: Path, size: tuple[int, int]) -> None:
    h, w = size
    path = s.write_video(tmp_path / f"{h}x{w}.mp4", s.static_clip(4, h, w))
    frames = VideoReader(path).read_all(np.arange(4))
    assert tuple(frames.shape) == (4, h, w, 3)


def test_chinese_file_name(tmp_path: Path) -> None:
    path = s.write_video(tmp_path / "一只熊猫在竹林里吃竹子-0.mp4", s.static_clip(4, 16, 16))
    assert VideoReader(path).info.num_frames == 4


def test_one_frame_video(tmp_path: Path) -> None:
    path = s.write_video(tmp_path / "one.mp4", s.static_clip(1, 16, 16))
    reader = VideoReader(path)
    assert reader.info.num_frames == 1
    assert (
        Sampling("frames", 16).indices(1, reader.timestamps, reader.info.fps).tolist() == [0] * 16
    )


@pytest.mark.parametrize(
    "content, cause",
    [
        (b"", "empty file"),
        (b"this is not a video", "not a readable video"),
        (bytes(range(256)) * 40, "not a readable video"),
    ],
)
def test_broken_files_raise_one_line_errors(tmp_path: Path, content: bytes, cause: str) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError) as err:
        VideoReader(path)
    message = str(err.value)
    assert str(path) in message and cause in message and "\n" not in message


def test_truncated_file_is_an_error(tmp_path: Path) -> None:
    good = s.write_video(tmp_path / "good.mp4", s.static_clip(16, 32, 32))
    data = good.read_bytes()
    bad = tmp_path / "truncated.mp4"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match="truncated.mp4"):
        reader = VideoReader(bad)
        reader.read_all(np.arange(reader.info.num_frames))


def test_pyav_fallback_reads_the_same_frames(tmp_path: Path) -> None:
    path = s.write_video(tmp_path / "a.mp4", s.translating_clip(10, 32, 32))
    a = VideoReader(path, backend="decord")
    b = VideoReader(path, backend="pyav")
    assert a.info.num_frames == b.info.num_frames == 10
    assert b.info.backend == "pyav"
    fa, fb = a.read_all(np.arange(10)), b.read_all(np.arange(10))
    assert float((fa.float() - fb.float()).abs().mean()) < 1.0


def test_sampling_spec_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="unknown sampling"):
        Sampling.from_spec({"frame": 16})
    with pytest.raises(ValueError, match="positive"):
        Sampling.from_spec({"frames": 0})


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


@pytest.mark.parametrize("size, crf", [((48, 64), 23), ((33, 47), 23), ((64, 64), 0)])
def test_frames_equal_vbench_get_batch(tmp_path: Path, size: tuple[int, int], crf: int) -> None:
    """PyAV's pixels are exactly decord ``get_batch``'s (VBench's load_video), sparse, out of GOP
    order."""
    import decord

    path = s.write_video(tmp_path / "a.mp4", s.translating_clip(40, *size), crf=crf)
    wanted = np.array([0, 1, 5, 6, 17, 18, 19, 33, 39])
    reader = VideoReader(path)
    got = reader.read_all(wanted)
    ref = decord.VideoReader(str(path), num_threads=1).get_batch(wanted.tolist()).asnumpy()
    assert reader.info.num_frames == 40 and reader.info.backend == "decord"  # decord's index
    assert got.shape == ref.shape and bool((got.numpy() == ref).all())


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_pausing_between_chunks_does_not_grow_memory(tmp_path: Path) -> None:
    """The runner pauses between chunks (forward passes); decord decoded ahead meanwhile, unbounded.

    With decord's pixels (``backend="decord"``) this 720p clip grew RSS by ~700 MB over the
    pauses; with PyAV's it stays within a chunk or two.
    """
    import time

    frames = np.repeat(s.smooth_texture(720, 1280, seed=1)[None], 8, axis=0)
    path = s.write_video(tmp_path / "long.mp4", np.concatenate([frames] * 40), crf=30)
    reader = VideoReader(path)
    chunks = reader.read(np.arange(reader.info.num_frames), chunk_frames=16)
    for _ in range(2):  # warm up: codec buffers, first allocations
        next(chunks)
    start = _rss_mib()
    for _ in range(4):
        next(chunks)
        time.sleep(0.4)
    grown = _rss_mib() - start
    assert grown < 96, f"RSS grew {grown:.0f} MiB while the reader was paused"
    assert sum(len(c[0]) for c in chunks) == reader.info.num_frames - 6 * 16


@pytest.mark.parametrize(
    "codec, options, pix_fmt",
    [
        (
            "libx264",
            {"preset": "medium", "bf": "3"},
            "yuv420p",
        ),  # B-frames: decode order != display order
        ("mpeg4", {"bf": "2"}, "yuv420p"),
        ("libx265", {"log-level": "error"}, "yuv420p"),
        ("mjpeg", {}, "yuvj420p"),  # full-range
    ],
)
def test_pyav_pixels_equal_decord_across_codecs(
    tmp_path: Path, codec: str, options: dict[str, str], pix_fmt: str
) -> None:
    """Frame i from PyAV is decord's frame i, pixel for pixel, with B-frames and other codecs."""
    from fractions import Fraction

    import av
    import decord

    frames = s.translating_clip(40, 96, 128)
    path = tmp_path / ("a.avi" if codec == "mjpeg" else "a.mp4")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(8))
        stream.width, stream.height, stream.pix_fmt = 128, 96, pix_fmt
        stream.options = options
        for f in frames:
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            ):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    reader = VideoReader(path)
    wanted = np.arange(0, reader.info.num_frames, 3)
    ref = decord.VideoReader(str(path), num_threads=1).get_batch(wanted.tolist()).asnumpy()
    assert reader.info.num_frames == 40
    assert bool((reader.read_all(wanted).numpy() == ref).all())
