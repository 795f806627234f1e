"""Clips that reproduce what real footage does to a probe, built with PyAV inside the tests.

Each builder writes one small file whose defect is known: an XviD-style AVI with B-frames
(decord reports timestamps of about -3.8e17 s), an MPEG-PS ``.mpg`` (-1e14 s), a raw H.264
stream (no timestamps at all), an AVI whose muxer wrote "drop" chunks for frames it did not
code, a phone-style clip with a display matrix, a clip with non-square pixels, an upload cut
off before its last frames. No binary besides PyAV is needed.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np


def encode(
    path: Path,
    frames: np.ndarray,
    fps: float = 8.0,
    *,
    codec: str = "libx264",
    fmt: str | None = None,
    b_frames: int = 0,
    codec_tag: str | None = None,
    rotation: int | None = None,
    sample_aspect_ratio: Fraction | None = None,
    frame_pts: list[int] | None = None,
    time_base: Fraction | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Encode ``frames`` (T, H, W, 3) uint8 with PyAV; every option maps to one FFmpeg setting.

    ``frame_pts`` (in ``time_base`` units) leaves gaps in the timeline: the AVI muxer fills
    them with empty "drop" chunks. ``rotation`` writes a display matrix (degrees
    counter-clockwise, PyAV's convention).
    """
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    _, h, w, _ = frames.shape
    with av.open(str(path), "w", format=fmt, options=container_options or {}) as container:
        stream: Any = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "18"}
        if b_frames:
            stream.codec_context.max_b_frames = b_frames
        if codec_tag:
            stream.codec_context.codec_tag = codec_tag
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if sample_aspect_ratio is not None:
            stream.sample_aspect_ratio = sample_aspect_ratio
        if time_base is not None:
            stream.codec_context.time_base = time_base
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if frame_pts is not None:
                frame.pts, frame.time_base = frame_pts[i], time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def textured(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A detailed picture panning a few pixels a frame: every frame differs, none repeats."""
    rng = np.random.default_rng(seed)
    big = rng.integers(0, 256, (height // 4 + 2, (width + 3 * num_frames) // 4 + 2, 3))
    big = np.repeat(np.repeat(big, 4, axis=0), 4, axis=1).astype(np.uint8)
    return np.stack([big[:height, 3 * t : 3 * t + width] for t in range(num_frames)])


def xvid_avi(path: Path, frames: np.ndarray, fps: float = 24.0) -> Path:
    """MPEG-4 Part 2 in AVI with B-frames, tagged XVID: decord's timestamps come out broken."""
    return encode(path, frames, fps, codec="mpeg4", b_frames=2, codec_tag="XVID")


def mpeg_ps(path: Path, frames: np.ndarray, fps: float = 24.0) -> Path:
    """MPEG-2 video with B-frames in an MPEG program stream (``.mpg``)."""
    return encode(path, frames, fps, codec="mpeg2video", fmt="mpeg", b_frames=2)


def raw_h264(path: Path, frames: np.ndarray) -> Path:
    """An H.264 elementary stream: packets carry no timestamps, the rate is FFmpeg's guess."""
    return encode(path, frames, 25.0, fmt="h264")


def drop_chunk_avi(path: Path, frames: np.ndarray, *, fps: int = 15, every: int = 6) -> Path:
    """An AVI declaring ``fps`` with a coded frame every ``every`` ticks (drop chunks between)."""
    tb = Fraction(1, fps)
    pts = [i * every for i in range(len(frames))]
    return encode(path, frames, fps, codec="mpeg4", frame_pts=pts, time_base=tb)


def avi_index(path: Path) -> list[int]:
    """Sizes of the video chunks listed in an AVI's ``idx1`` index (0: a drop chunk)."""
    data = path.read_bytes()
    at = data.rfind(b"idx1")
    (size,) = struct.unpack("<I", data[at + 4 : at + 8])
    entries = data[at + 8 : at + 8 + size]
    sizes = []
    for k in range(0, len(entries), 16):
        chunk_id, _, _, length = struct.unpack("<4sIII", entries[k : k + 16])
        if chunk_id[2:] in (b"dc", b"db"):
            sizes.append(length)
    return sizes


def faststart_mp4(path: Path, frames: np.ndarray, fps: float = 24.0) -> Path:
    """H.264 MP4 with its index at the front, as phones and web uploads write it."""
    return encode(path, frames, fps, container_options={"movflags": "+faststart"})


def truncate(source: Path, dest: Path, cut_bytes: int) -> Path:
    """``source`` without its last ``cut_bytes`` bytes (an interrupted upload)."""
    data = source.read_bytes()
    dest.write_bytes(data[: len(data) - cut_bytes])
    return dest


def quadrants(num_frames: int, height: int, width: int) -> np.ndarray:
    """Red top-left, green top-right, blue bottom-left, white bottom-right: orientation shows."""
    img = np.zeros((height, width, 3), dtype=np.uint8)
    hh, hw = height // 2, width // 2
    img[:hh, :hw] = (255, 0, 0)
    img[:hh, hw:] = (0, 255, 0)
    img[hh:, :hw] = (0, 0, 255)
    img[hh:, hw:] = (255, 255, 255)
    return np.repeat(img[None], num_frames, axis=0)


def panning(num_frames: int, height: int, width: int, *, seed: int, speed: float) -> np.ndarray:
    """A smooth colourful picture panning ``speed`` pixels a frame (a camera moving fast)."""
    from vbench_cn.synthetic import smooth_texture

    wide = smooth_texture(height, width + int(np.ceil(speed * num_frames)) + 1, seed, scale=12)
    return np.stack([wide[:, int(speed * t) : int(speed * t) + width] for t in range(num_frames)])


def fast_shots(
    shots: int = 5, seconds_each: float = 3.2, fps: float = 24.0, *, speed: float = 4.0
) -> np.ndarray:
    """``shots`` fast pans of unrelated scenes joined by hard cuts (128x72).

    At 4 pixels a frame, half a second moves the picture by half its width: two samples of
    one shot taken 0.5 s apart differ as much as two shots do.
    """
    n = int(round(seconds_each * fps))
    return np.concatenate([panning(n, 72, 128, seed=10 + k, speed=speed) for k in range(shots)])


def fade(frames: np.ndarray, start: int, length: int, *, out: bool) -> np.ndarray:
    """``frames`` with a linear fade to black (``out``) or from black over ``length`` frames."""
    faded = frames.astype(np.float64)
    for i in range(length):
        level = (i + 1) / length
        faded[start + i] *= 1 - level if out else level
    if out:
        faded[start + length :] = 0
    else:
        faded[:start] = 0
    return np.clip(np.round(faded), 0, 255).astype(np.uint8)


def trailer(seconds: float, fps: float = 24.0, *, shots: int = 3, seed: int = 0) -> np.ndarray:
    """A short clip of ``shots`` fast pans with a bright block crossing: like a trailer's cut."""
    n = int(round(seconds * fps))
    per = int(np.ceil(n / shots))
    parts = []
    for k in range(shots):
        shot = panning(per, 72, 128, seed=seed + 7 * k, speed=3.0)
        for t in range(per):
            x = int(112 * (0.5 + 0.5 * np.sin(2 * np.pi * (k * per + t) / n)))
            y = int(56 * (0.5 + 0.5 * np.sin(4 * np.pi * (k * per + t) / n)))
            shot[t, y : y + 16, x : x + 16] = (255, 255, 40)
        parts.append(shot)
    return np.concatenate(parts)[:n]
