"""Video input: probe metadata, plan which frames to sample, decode them once in chunks.

decord indexes a video (frame count and timestamps exactly as VBench sees them, without
decoding); PyAV decodes the pixels, sequentially, in chunks, so memory stays bounded by the
chunk size. Both libraries convert with FFmpeg's swscale and return identical RGB frames
(a test). Not decord for pixels: its reader decodes ahead in a background thread with an
unbounded queue whenever the caller pauses, so while our runner ran a slow forward pass a
10-minute 1080p video filled 24 GB (issue 9; bench/decode_bench.py). PyAV is also the
fallback for files decord cannot open, and decord for frames PyAV cannot decode. Frames
come out as ``uint8`` tensors ``(N, H, W, 3)`` in RGB order, turned upright by the
container's display matrix and stretched to square pixels (sample aspect ratio).

A backbone may need frames scaled by the decoder itself (VBench's scene reads frames through
``decord.VideoReader(width=384, height=384)``): such a *view* ``(width, height)`` is made in
the same decoding pass from each decoded frame, by an FFmpeg ``scale=W:H:flags=bilinear``
filter converting straight to RGB, which is what decord's filter graph does (FFmpeg 4's
default scale flags are bilinear); the frames are identical to decord's (a test). A view is
turned upright too (the decoder scales to the rotated size first).

The probe trusts no single number. Timestamps must be finite, increasing and within the
container's duration; decord's are tried first (VBench reads them), then PyAV's packet
timestamps, then ``index / fps``. A value no fallback makes plausible (duration, frame
rate, frame count, frame size beyond :data:`LIMITS`) is a :class:`VideoError` naming it,
never a number capped later; what was corrected is said in ``VideoInfo.warnings``.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # torch is imported where frames become tensors, so specs load without it
    import torch

log = logging.getLogger(__name__)

#: File name endings read as videos without looking inside; other files are sniffed
#: (:func:`sniff_video`).
VIDEO_EXTENSIONS = (
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".gif",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".ts",
    ".m2ts",
    ".mts",
    ".3gp",
    ".flv",
    ".wmv",
    ".ogv",
)

#: Frames per decode chunk: 64 frames of 1080p RGB are ~400 MB; callers may pass less.
DEFAULT_CHUNK_FRAMES = 64

#: FFmpeg threads per PyAV decoder; 0 lets FFmpeg start one per core. Set once per process
#: by :func:`vbench_cn.device_setup.setup_process`, so that ranks and decoders sharing a
#: machine do not each start a thread per core.
_decoder_threads = 0


def set_decoder_threads(count: int) -> None:
    """Cap the FFmpeg threads of every PyAV decoder opened from now on (0: FFmpeg's choice)."""
    global _decoder_threads
    if count < 0:
        raise ValueError(f"decoder threads must be >= 0, got {count}")
    _decoder_threads = count


#: What a decoded frame is turned into: None (native size) or a decoder-scaled ``(width, height)``.
View = tuple[int, int] | None


@dataclass(frozen=True)
class ProbeLimits:
    """What a plausible video stays within; beyond, the probe is an error, not a capped value.

    Wide enough for any real footage (a day-long recording, 1000-fps high-speed video,
    16K frames), narrow enough that every array sized from a probe fits in memory.
    """

    max_duration_seconds: float = 24 * 3600.0
    min_fps: float = 0.01
    max_fps: float = 1000.0
    max_frames: int = 5_000_000
    max_side: int = 16384
    max_pixels: int = 16384 * 8640  # 16K


LIMITS = ProbeLimits()


class VideoError(Exception):
    """A video cannot be read; the message names the file and the cause on one line."""


@dataclass(frozen=True)
class VideoInfo:
    """What the probe found in a video file, without decoding its frames.

    ``width``/``height`` are the frames as shown (and as the backbones see them): after the
    display matrix's rotation and the sample aspect ratio. ``fps`` is the rate of the
    coded frames (frames over duration, the container's rate when they agree within 1 %);
    ``container_fps`` is what the container declares (a drop-chunk AVI declares 15 fps for
    2.5 coded frames per second). ``timestamps`` says where the timestamps came from:
    ``index`` (decord), ``packets`` (PyAV's packet timestamps) or ``frame_rate``
    (``index / fps``); ``warnings`` lists what the probe corrected or could not honour.
    """

    path: str
    num_frames: int
    fps: float
    duration_seconds: float
    width: int
    height: int
    codec: str | None
    variable_frame_rate: bool
    backend: Literal["decord", "pyav"]
    container_fps: float | None = None
    rotation: int = 0
    sample_aspect_ratio: str = "1:1"
    timestamps: Literal["index", "packets", "frame_rate"] = "index"
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (paths as strings, floats rounded for readability)."""
        d = asdict(self)
        d["fps"] = round(self.fps, 4)
        d["duration_seconds"] = round(self.duration_seconds, 4)
        if self.container_fps is not None:
            d["container_fps"] = round(self.container_fps, 4)
        d["warnings"] = list(self.warnings)
        return d


# --------------------------------------------------------------------------- sampling


SamplingKind = Literal["all", "none", "frames", "every_seconds", "fps", "stride_fps"]


@dataclass(frozen=True)
class Sampling:
    """Which frames of a video a dimension needs.

    Kinds:
        ``all``: every frame.
        ``none``: no frame (dimensions that read only the probe).
        ``frames``: ``value`` frames, VBench's middle sampling (``vbench/utils.py``:
            split into ``value`` equal intervals and take the middle of each).
        ``every_seconds``: one frame every ``value`` seconds, by presentation timestamp.
        ``fps``: resample to ``value`` frames per second, by presentation timestamp.
        ``stride_fps``: every ``max(1, round(fps / value))``-th frame, VBench's dynamic-degree
            rule (``vbench/dynamic_degree.py``), which uses the average fps.
    """

    kind: SamplingKind = "all"
    value: float | None = None

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Sampling:
        """Build from a spec table such as ``{fps = "all"}`` or ``{frames = 16}``."""
        if not spec or spec.get("fps") == "all" or spec.get("all") is True:
            return cls("all")
        if spec.get("none") is True:
            return cls("none")
        if len(spec) != 1:
            raise ValueError(f"sampling takes exactly one key, got {sorted(spec)}")
        ((key, value),) = spec.items()
        if key not in ("frames", "every_seconds", "fps", "stride_fps"):
            raise ValueError(
                f"unknown sampling {key!r}; allowed: fps='all', frames, every_seconds, fps,"
                " stride_fps"
            )
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"sampling {key} must be a positive number, got {value!r}")
        if key == "frames" and int(value) != value:
            raise ValueError(f"sampling frames must be a whole number, got {value!r}")
        return cls(key, float(value))  # type: ignore[arg-type]

    @property
    def key(self) -> str:
        """A short stable string, used to share decoded frames and features."""
        return self.kind if self.value is None else f"{self.kind}={self.value:g}"

    def indices(self, num_frames: int, timestamps: np.ndarray, fps: float) -> np.ndarray:
        """Frame indices to read, sorted, for a video of ``num_frames`` frames.

        Args:
            num_frames: frames in the video.
            timestamps: ``(num_frames,)`` presentation time of each frame in seconds.
            fps: average frames per second (used by ``stride_fps`` only, as VBench does).
        """
        if num_frames <= 0:
            return np.zeros(0, dtype=np.int64)
        if self.kind == "all":
            return np.arange(num_frames, dtype=np.int64)
        if self.kind == "none":
            return np.zeros(0, dtype=np.int64)
        assert self.value is not None
        if self.kind == "frames":
            return middle_sample_indices(num_frames, int(self.value))
        if self.kind == "stride_fps":
            interval = max(1, round(fps / self.value)) if fps > 0 else 1
            return np.arange(0, num_frames, interval, dtype=np.int64)
        step = self.value if self.kind == "every_seconds" else 1.0 / self.value
        return times_to_indices(timestamps, step)


def middle_sample_indices(num_frames: int, count: int) -> np.ndarray:
    """VBench's ``get_frame_indices(count, num_frames, sample='middle')`` (``vbench/utils.py``).

    ``min(count, num_frames)`` bins from ``linspace(0, num_frames, bins + 1)`` truncated to
    integers; bin ``[a, b)`` gives frame ``(a + b - 1) // 2`` (the middle of ``a .. b-1``,
    rounded down). A video shorter than ``count`` gives each of its frames once, then the last
    one repeated, so the result always has ``count`` entries (not unique).

    Example:
        >>> middle_sample_indices(20, 4).tolist(), middle_sample_indices(3, 5).tolist()
        ([2, 7, 12, 17], [0, 1, 2, 2, 2])
    """
    bins = min(count, num_frames)
    edges = np.linspace(0, num_frames, bins + 1).astype(np.int64)
    idx = [int((a + b - 1) // 2) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    idx += [idx[-1]] * (count - len(idx))
    return np.asarray(idx, dtype=np.int64)


def times_to_indices(timestamps: np.ndarray, step_seconds: float) -> np.ndarray:
    """For each time ``0, step, 2·step, …`` within the video, the frame shown at that time.

    Uses presentation timestamps, so variable-frame-rate videos are sampled by real time.
    """
    if len(timestamps) == 0:
        return np.zeros(0, dtype=np.int64)
    start = float(timestamps[0])
    end = float(timestamps[-1])
    span = (end - start) / step_seconds
    if not math.isfinite(span) or span < 0 or span + 1 > LIMITS.max_frames:
        # The probe refuses such timestamps; this guards any other caller's allocation.
        raise ValueError(
            f"sampling every {step_seconds:g} s over {start:g}..{end:g} s would take "
            f"{span:.3g} frames (limit {LIMITS.max_frames})"
        )
    count = int(math.floor(span + 1e-9)) + 1
    targets = start + step_seconds * np.arange(count)
    idx = np.searchsorted(timestamps, targets + 1e-9, side="right") - 1
    return np.unique(np.clip(idx, 0, len(timestamps) - 1)).astype(np.int64)


# --------------------------------------------------------------------------- probe


@dataclass(frozen=True)
class _Stream:
    """What FFmpeg's headers and the first decoded frame say about a file's video stream."""

    codec: str | None
    coded_width: int
    coded_height: int
    sample_aspect_ratio: Fraction
    rotation: int  # degrees counter-clockwise that turn a coded frame upright: 0, 90, 180, 270
    container_fps: float | None
    duration: float | None  # seconds, from the stream or the container header
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class _Display:
    """How decoded frames become shown frames: scaled to ``(width, height)``, then rotated."""

    width: int  # before rotation
    height: int
    rotation: int
    stretched: bool = False  # non-square pixels: the coded width is scaled to ``width``

    @property
    def upright_size(self) -> tuple[int, int]:
        """``(width, height)`` of a shown frame: scaled, then turned."""
        return (
            (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)
        )

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """An ``(H, W, 3)`` frame of the scaled size turned upright."""
        return np.rot90(rgb, self.rotation // 90) if self.rotation else rgb

    def coded_view(self, view: tuple[int, int]) -> tuple[int, int]:
        """The size to scale a coded frame to so that, turned upright, it is ``view``."""
        return (view[1], view[0]) if self.rotation in (90, 270) else view


def _plausible_fps(fps: float | None) -> bool:
    return fps is not None and math.isfinite(fps) and LIMITS.min_fps <= fps <= LIMITS.max_fps


def _probe_stream(path: str) -> _Stream:
    """Open the container, read its video stream's headers and decode its first frame.

    Raises a one-line :class:`VideoError` when FFmpeg cannot open the file or finds no video
    stream (before decord, whose native errors are noisier). The first frame carries the
    display matrix (rotation), which the stream headers do not expose.
    """
    import av

    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: not a readable video (no video stream)")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else None
            duration = None
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / 1_000_000  # AV_TIME_BASE
            sar = stream.sample_aspect_ratio or ctx.sample_aspect_ratio
            stream.thread_count = _decoder_threads  # the process's cap, as for every decoder
            try:
                first = next(container.decode(stream), None)
            except Exception as exc:  # av.error.*: the reader says so later, frame by frame
                log.debug("first frame of %s not decodable: %s", path, exc)
                first = None
            width, height = int(ctx.width or 0), int(ctx.height or 0)
            if (not width or not height) and first is not None:
                width, height = int(first.width), int(first.height)
            codec = ctx.name
    except VideoError:
        raise
    except Exception as exc:  # av.error.* (InvalidDataError, ...) and OSError
        text = getattr(exc, "strerror", None) or str(exc)
        reason = str(text).splitlines()[0][:200] if text else type(exc).__name__
        raise VideoError(f"{path}: not a readable video ({reason})") from None
    warnings: list[str] = []
    rotation = 0
    if first is not None:
        rotation, note = _rotation(first)
        if note:
            warnings.append(note)
    sar_value = Fraction(sar) if sar else Fraction(1)
    if sar_value <= 0:
        sar_value = Fraction(1)
    if not Fraction(1, 4) <= sar_value <= 4:
        warnings.append(f"sample aspect ratio {sar_value} is implausible; ignored")
        sar_value = Fraction(1)
    return _Stream(
        codec, width, height, sar_value, rotation, fps, duration or None, tuple(warnings)
    )


def _rotation(frame: Any) -> tuple[int, str | None]:
    """Degrees counter-clockwise that turn ``frame`` upright, from its display matrix.

    The matrix is 9 int32 (16.16 fixed point); the angle is ``av_display_rotation_get``'s.
    A mirrored matrix or an angle off a multiple of 90 degrees is not applied; the second
    value says so.
    """
    for side in frame.side_data:
        if "DISPLAYMATRIX" not in str(side.type).upper():
            continue
        raw = bytes(side)
        if len(raw) < 36:
            return 0, "display matrix unreadable; not applied"
        m = struct.unpack("<9i", raw[:36])
        scale0, scale1 = math.hypot(m[0], m[3]), math.hypot(m[1], m[4])
        if not scale0 or not scale1:
            return 0, "display matrix degenerate; not applied"
        angle = -math.degrees(math.atan2(m[1] / scale1, m[0] / scale0)) % 360
        if m[0] * m[4] - m[1] * m[3] < 0:
            return 0, f"display matrix mirrors the picture (rotation {angle:.0f}°); not applied"
        quarter = round(angle / 90) % 4
        if abs(angle - 90 * round(angle / 90)) > 1:
            return 0, f"display matrix rotates by {angle:.0f}°, not a multiple of 90°; not applied"
        return 90 * quarter, None
    return 0, None


def _decord_index(path: str) -> tuple[Any, int, np.ndarray]:
    """decord's reader, frame count and per-frame timestamps (seconds; VBench's index)."""
    import decord

    decord.bridge.set_bridge("native")
    # decord's own FFmpeg writes to stderr ("partial file", "Invalid NAL unit size"): one
    # line per bad packet, on every rank. What matters reaches the record as one line.
    quiet = not log.isEnabledFor(logging.DEBUG)
    decord.logging.set_level(decord.logging.QUIET if quiet else decord.logging.INFO)
    vr = decord.VideoReader(path, num_threads=1)
    n = len(vr)
    if n > LIMITS.max_frames:
        raise VideoError(f"{path}: implausible frame count {n} (limit {LIMITS.max_frames})")
    ts = vr.get_frame_timestamp(np.arange(n))[:, 0] if n else np.zeros(0)
    return vr, n, np.asarray(ts, dtype=np.float64)


@dataclass(frozen=True)
class _Packets:
    """The coded (non-empty) packets of the video stream: how many, and their times in order."""

    count: int
    times: np.ndarray | None  # sorted seconds; None when some packet has no timestamp


def _packet_index(path: str) -> _Packets:
    """Demux (no decoding) the video stream: its non-empty packets and their timestamps.

    Empty packets are an AVI's "drop" chunks (the previous frame shown again): not frames.
    """
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        pts: list[float] = []
        count = 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            count += 1
            if count > LIMITS.max_frames:
                raise VideoError(f"{path}: implausible frame count (over {LIMITS.max_frames})")
            if packet.pts is not None and tb:
                pts.append(float(packet.pts * tb))
    if len(pts) < count:  # some packet has no timestamp
        return _Packets(count, None)
    return _Packets(count, np.sort(np.asarray(pts, dtype=np.float64)))


def timestamp_problem(timestamps: np.ndarray, container_seconds: float | None) -> str | None:
    """Why ``timestamps`` (seconds, presentation order) cannot be trusted; None when they can.

    Trusted timestamps are finite, strictly increasing, and within the container's duration
    (with room for headers that underestimate it: twice that plus 10 s), or within
    :data:`LIMITS` when the container declares none.

    Example:
        >>> timestamp_problem(np.array([0.0, 0.5, 1.0]), 1.5) is None
        True
        >>> timestamp_problem(np.array([-3.8e17, -3.8e17, 0.9]), 1.0)
        'not increasing (1 of 2 steps), -3.8e+17..0.9 s'
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    if len(ts) == 0:
        return None
    if not np.isfinite(ts).all():
        return f"not finite ({int((~np.isfinite(ts)).sum())} of {len(ts)})"
    where = f"{ts[0]:.3g}..{ts[-1]:.3g} s"
    steps = np.diff(ts)
    bad = int((steps <= 0).sum())
    if bad:
        return f"not increasing ({bad} of {len(steps)} steps), {where}"
    bound = LIMITS.max_duration_seconds
    if container_seconds:
        bound = min(bound, 2 * container_seconds + 10.0)
    if abs(ts[0]) > bound or ts[-1] - ts[0] > bound:
        said = f"the container's {container_seconds:.3g} s" if container_seconds else "the limit"
        return f"{where}, beyond {said}"
    return None


@dataclass(frozen=True)
class _Timeline:
    """The timestamps chosen for a video, where they came from, and what was wrong before."""

    times: np.ndarray  # seconds from the first frame
    source: Literal["index", "packets", "frame_rate"]
    notes: tuple[str, ...]


def _timeline(
    path: str,
    num_frames: int,
    index_times: np.ndarray | None,
    stream: _Stream,
    packets: _Packets | None = None,
) -> _Timeline:
    """Sane timestamps: decord's index, else PyAV's packet timestamps, else ``index / fps``.

    ``packets``: the demuxed packets when the caller has them already (no second pass).
    """
    tried: list[str] = []
    if index_times is not None:
        problem = timestamp_problem(index_times, stream.duration)
        if problem is None:
            return _Timeline(index_times - index_times[0], "index", ())
        tried.append(f"index timestamps {problem}")
    if packets is None:
        try:
            packets = _packet_index(path)
        except VideoError:
            raise
        except Exception as exc:  # av.error.*: fall through to the frame rate
            tried.append(f"packets unreadable ({_one_line(exc)})")
    if packets is not None:
        if packets.times is None:
            tried.append("packets without timestamps")
        elif packets.count != num_frames:
            tried.append(f"{packets.count} packets for {num_frames} frames")
        else:
            problem = timestamp_problem(packets.times, stream.duration)
            if problem is None:
                notes = (f"{'; '.join(tried)}: packet timestamps used",) if tried else ()
                return _Timeline(packets.times - packets.times[0], "packets", notes)
            tried.append(f"packet timestamps {problem}")
    fps = stream.container_fps
    if not _plausible_fps(fps):
        raise VideoError(
            f"{path}: no usable timestamps ({'; '.join(tried)}) and no plausible frame rate"
            f" ({fps if fps is not None else 'none'})"
        )
    assert fps is not None
    times = np.arange(num_frames, dtype=np.float64) / fps
    return _Timeline(times, "frame_rate", (f"{'; '.join(tried)}: times = index / {fps:g} fps",))


def _implausible(info: VideoInfo, coded: tuple[int, int]) -> str | None:
    """Which probed value is beyond :data:`LIMITS`, in words; None when all are plausible."""
    lim = LIMITS
    if info.num_frames > lim.max_frames:
        return f"frame count {info.num_frames} (limit {lim.max_frames})"
    if not math.isfinite(info.duration_seconds) or info.duration_seconds > lim.max_duration_seconds:
        return f"duration {info.duration_seconds:.3g} s (limit {lim.max_duration_seconds:g} s)"
    if info.num_frames > 1 and not _plausible_fps(info.fps):
        return f"frame rate {info.fps:.3g} fps (limits {lim.min_fps:g}..{lim.max_fps:g})"
    for what, (w, h) in (("coded size", coded), ("shown size", (info.width, info.height))):
        if min(w, h) < 1 or max(w, h) > lim.max_side or w * h > lim.max_pixels:
            return f"{what} {w}x{h} (sides 1..{lim.max_side}, at most {lim.max_pixels} pixels)"
    return None


# --------------------------------------------------------------------------- readers


@dataclass(frozen=True)
class VideoProbe:
    """What opening a video found: enough for a decoder to start without opening it again.

    The runner probes every video before the run (protocol check, resume) and hands each
    probe to its decode worker; :class:`VideoReader` trusts it only while the file's size
    and modification time are those seen at the probe.
    """

    info: VideoInfo
    timestamps: np.ndarray = field(repr=False)  # seconds from the first frame
    display: _Display
    backend: str  # the reader's backend argument when probed
    stat: tuple[int, int]  # (bytes, mtime_ns) of the file when probed


def _stat(path: str) -> tuple[int, int]:
    """``(size, mtime_ns)`` of ``path``: the file is the one probed while these hold."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


class VideoReader:
    """Opens a video once, knows its timestamps, and reads chosen frames in chunks.

    ``truncated`` is None, or after :meth:`read` stopped early because the stream ends
    before frames the index lists (a cut-off upload), says how many frames were read.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        backend: str = "auto",
        probe: VideoProbe | None = None,
    ) -> None:
        """Open ``path``; backend ``auto`` (decord index, PyAV pixels), ``decord`` or ``pyav``.

        ``probe``: this file's :attr:`probe` from an earlier reader. While the file is
        unchanged nothing is opened now: the decoders open it when frames are read.
        """
        if backend not in ("auto", "decord", "pyav"):
            raise ValueError(f"backend must be auto, decord or pyav, got {backend!r}")
        self.path = os.fspath(path)
        self.backend = backend
        self.truncated: str | None = None
        self._vr: Any = None
        if probe is not None and self._adopt(probe):
            return
        if not os.path.exists(self.path):
            raise VideoError(f"{self.path}: file not found")
        if os.path.getsize(self.path) == 0:
            raise VideoError(f"{self.path}: empty file (0 bytes)")
        # Container headers first (cheap, quiet): a file FFmpeg cannot open gets one clear
        # error here instead of decord's native log spam.
        stat = _stat(self.path)
        stream = _probe_stream(self.path)
        errors: list[str] = []
        index_times: np.ndarray | None = None
        num_frames = 0
        packets: _Packets | None = None
        if backend in ("auto", "decord"):
            try:
                self._vr, num_frames, index_times = _decord_index(self.path)
            except VideoError:
                raise
            except Exception as exc:  # decord raises its own DECORDError and RuntimeError
                errors.append(f"decord: {_one_line(exc)}")
        if self._vr is None:
            if backend == "decord":
                raise VideoError(f"{self.path}: cannot decode ({'; '.join(errors)})")
            try:
                packets = _packet_index(self.path)
                num_frames = packets.count
            except VideoError:
                raise
            except Exception as exc:  # av.error.* derive from various bases
                errors.append(f"pyav: {_one_line(exc)}")
                raise VideoError(f"{self.path}: cannot decode ({'; '.join(errors)})") from None
        if num_frames == 0:
            raise VideoError(f"{self.path}: no decodable frames")
        timeline = _timeline(self.path, num_frames, index_times, stream, packets)
        self.timestamps = timeline.times
        self._display = _display(stream)
        self.info = _info(self.path, num_frames, timeline, stream, self._display, self._vr)
        problem = _implausible(self.info, (stream.coded_width, stream.coded_height))
        if problem is not None:
            raise VideoError(f"{self.path}: implausible {problem}")
        for note in self.info.warnings:
            log.info("%s: %s", self.path, note)
        self.probe = VideoProbe(self.info, self.timestamps, self._display, backend, stat)

    def _adopt(self, probe: VideoProbe) -> bool:
        """Take ``probe`` as this file's; False when it is another file's or the file changed."""
        if probe.info.path != self.path or probe.backend != self.backend:
            return False
        try:
            if _stat(self.path) != probe.stat:
                log.debug("%s changed since it was probed; probing it again", self.path)
                return False
        except OSError:
            return False  # the full open below says why, in one line
        self.probe = probe
        self.info, self.timestamps, self._display = probe.info, probe.timestamps, probe.display
        return True

    def _decord_reader(self) -> Any:
        """decord's reader of this file, opened on first use when the probe did not keep it."""
        if self._vr is None:
            self._vr, count, _ = _decord_index(self.path)
            if count != self.info.num_frames:
                raise RuntimeError(
                    f"decord now indexes {count} frames, the probe {self.info.num_frames}"
                )
        return self._vr

    def read(
        self, indices: Sequence[int] | np.ndarray, *, chunk_frames: int = DEFAULT_CHUNK_FRAMES
    ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Yield ``(indices_chunk, frames)`` with frames ``uint8 (n, H, W, 3)`` RGB, upright.

        ``indices`` may repeat (VBench pads short videos); each distinct frame is decoded once.
        When the stream ends before the last wanted frames (a truncated file) the frames
        there are are yielded and :attr:`truncated` says so; nothing is raised.
        """
        for _, idx, frames in self.read_views(
            {None: np.asarray(indices)}, chunk_frames=chunk_frames
        ):
            yield idx, frames

    def read_views(
        self,
        wanted: dict[View, np.ndarray],
        *,
        chunk_frames: int | dict[View, int] = DEFAULT_CHUNK_FRAMES,
        decoder: str = "pyav",
        device: torch.device | str | None = None,
    ) -> Iterator[tuple[View, np.ndarray, torch.Tensor]]:
        """Decode once, yielding ``(view, indices_chunk, frames)`` for each view's wanted frames.

        Args:
            wanted: per view (None: native size; ``(w, h)``: scaled by the decoder), the frame
                indices it needs (may repeat).
            chunk_frames: frames per chunk, one number or one per view.
            decoder: ``pyav``, or ``torchcodec`` for the native-size frames of square-pixel
                videos (views stay with PyAV; :mod:`vbench_cn.video_torchcodec`).
            device: where torchcodec decodes (a CUDA device: NVDEC, frames left there).
        """
        todo = {v: np.unique(np.asarray(i, dtype=np.int64)) for v, i in wanted.items()}
        todo = {v: i for v, i in todo.items() if len(i)}
        if not todo:
            return
        for idx in todo.values():
            if idx.min() < 0 or idx.max() >= self.info.num_frames:
                raise VideoError(f"{self.path}: frame index out of range")
        chunks = {
            v: max(1, chunk_frames[v] if isinstance(chunk_frames, dict) else chunk_frames)
            for v in todo
        }
        # Pixels from PyAV unless decord was asked for; the next decoder reads what one could
        # not (decord on 1-pixel frames, PyAV short of the frames decord indexed). torchcodec,
        # when asked for, goes first and decodes native frames only; PyAV then makes the rest.
        decoders: list[tuple[str, Callable[..., Iterator[tuple[View, np.ndarray, torch.Tensor]]]]]
        decoders = [("pyav", functools.partial(_pyav_frames, self.path, display=self._display))]
        if self.info.backend == "decord":  # decord indexed the file: it can decode it too
            decoders.insert(0 if self.backend == "decord" else 1, ("decord", self._decord_frames))
        if decoder == "torchcodec" and self._timestamps_repaired():
            # torchcodec orders and seeks frames by the timestamps the probe rejected: its
            # frames could come in another order, silently. PyAV decodes in decode order.
            log.info("%s: decoded by PyAV, not torchcodec (broken frame timestamps)", self.path)
        elif decoder == "torchcodec":
            decoders.insert(0, ("torchcodec", self._torchcodec(device)))
        elif decoder != "pyav":
            raise ValueError(f"decoder must be pyav or torchcodec, got {decoder!r}")
        done = dict.fromkeys(todo, 0)
        failures: list[str] = []
        ended = False
        for attempt, (name, decode) in enumerate(decoders, start=1):
            rest = {v: idx[done[v] :] for v, idx in todo.items() if done[v] < len(idx)}
            if not rest:
                return
            try:
                for view, idx_chunk, frames in decode(rest, chunks):
                    done[view] += len(idx_chunk)
                    yield view, idx_chunk, frames
                if name != "torchcodec":  # torchcodec leaves views to PyAV
                    return
            except VideoError:
                raise
            except Exception as exc:
                ended = ended or isinstance(exc, EOFError)
                failures.append(_one_line(exc))
                log.debug("decoder %d failed on %s (%s)", attempt, self.path, failures[-1])
                if name == "torchcodec":
                    log.warning(
                        "%s: torchcodec cannot decode it (%s); PyAV decodes it instead",
                        self.path,
                        failures[-1],
                    )
        if ended and sum(done.values()) > 0:
            got, total = max(done.values()), max(len(idx) for idx in todo.values())
            self.truncated = (
                f"the stream ends early: {got} of the {total} frames wanted were decoded"
                f" (the index lists {self.info.num_frames})"
            )
            log.info("%s: %s", self.path, self.truncated)
            return
        raise VideoError(f"{self.path}: decoding failed ({'; '.join(failures)})"[:400])

    def _timestamps_repaired(self) -> bool:
        """Whether the probe rejected the file's own frame timestamps (decord's index, or
        PyAV's packets when decord did not index it) and used the next source instead."""
        first_choice = "index" if self.info.backend == "decord" else "packets"
        return self.info.timestamps != first_choice

    def _decord_frames(
        self, wanted: dict[View, np.ndarray], chunks: dict[View, int]
    ) -> Iterator[tuple[View, np.ndarray, torch.Tensor]]:
        """:func:`_decord_frames` on this file's decord reader (opened when first needed)."""
        yield from _decord_frames(
            self._decord_reader(), self.path, wanted, chunks, display=self._display
        )

    def _torchcodec(
        self, device: torch.device | str | None
    ) -> Callable[..., Iterator[tuple[View, np.ndarray, torch.Tensor]]]:
        """torchcodec's frame generator for this video (imported only when asked for)."""
        import torch

        from vbench_cn import video_torchcodec

        return functools.partial(
            video_torchcodec.torchcodec_frames,
            self.path,
            num_frames=self.info.num_frames,
            size=self._display.upright_size,
            rotation=self._display.rotation,
            stretched=self._display.stretched,
            device=torch.device(device or "cpu"),
            threads=_decoder_threads,
        )

    def read_all(self, indices: Sequence[int] | np.ndarray) -> torch.Tensor:
        """Decode the given frames into one tensor, in the order (and repeats) given."""
        import torch

        wanted = np.asarray(indices, dtype=np.int64)
        chunks = list(self.read(wanted))
        if self.truncated:
            raise VideoError(f"{self.path}: {self.truncated}")
        got = np.concatenate([c[0] for c in chunks])
        frames = torch.cat([c[1] for c in chunks])
        pos = np.searchsorted(got, wanted)
        return frames[torch.from_numpy(pos)]


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Probe a video's metadata (fps, frames, duration, size, codec) without decoding it."""
    return VideoReader(path).info


def _display(stream: _Stream) -> _Display:
    width = stream.coded_width
    if stream.sample_aspect_ratio != 1:
        width = max(1, round(stream.coded_width * stream.sample_aspect_ratio))
    return _Display(width, stream.coded_height, stream.rotation, width != stream.coded_width)


def _info(
    path: str, num_frames: int, timeline: _Timeline, stream: _Stream, display: _Display, vr: Any
) -> VideoInfo:
    """The :class:`VideoInfo` of an opened video."""
    times = timeline.times
    container_fps = stream.container_fps if _plausible_fps(stream.container_fps) else None
    if len(times) > 1:
        duration = float(times[-1] - times[0]) + float(np.median(np.diff(times)))
        fps = num_frames / duration
    else:
        fps = container_fps or 0.0
        duration = 1.0 / fps if fps > 0 else 0.0
    warnings = list(stream.warnings) + list(timeline.notes)
    if container_fps:
        off = abs(fps - container_fps) / container_fps
        if off <= 0.01:
            fps = container_fps  # the exact declared rate (e.g. 30000/1001), not a rounding of it
        elif off > 0.1:
            warnings.append(
                f"{fps:.3g} frames per second coded, the container declares {container_fps:.3g}"
            )
    width, height = display.width, display.height
    if display.rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        path=path,
        num_frames=num_frames,
        fps=fps,
        duration_seconds=duration,
        width=width,
        height=height,
        codec=stream.codec,
        variable_frame_rate=_is_vfr(times),
        backend="decord" if vr is not None else "pyav",
        container_fps=stream.container_fps,
        rotation=display.rotation,
        sample_aspect_ratio=f"{stream.sample_aspect_ratio.numerator}:{stream.sample_aspect_ratio.denominator}",
        timestamps=timeline.source,
        warnings=tuple(warnings),
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else ""
    return f"{type(exc).__name__}: {msg}"[:300]


def _is_vfr(timestamps: np.ndarray) -> bool:
    if len(timestamps) < 3:
        return False
    gaps = np.diff(timestamps)
    med = float(np.median(gaps))
    return med > 0 and float(np.max(np.abs(gaps - med))) > 0.25 * med


def _decord_frames(
    vr: Any,
    path: str,
    wanted: dict[View, np.ndarray],
    chunks: dict[View, int],
    *,
    display: _Display,
) -> Iterator[tuple[View, np.ndarray, torch.Tensor]]:
    """Frame by frame with decord (``vr[i]``, an accurate seek that is free for the next frame).

    Only for ``backend="decord"`` and as PyAV's fallback: while the caller pauses between
    chunks, decord's decoder thread keeps decoding ahead into an unbounded queue (4.6 GB
    after 4.5 s idle on 1080p), so memory is bounded only if chunks are consumed at once.
    decord 0.6 turns frames upright by the display matrix itself, a scaled reader after
    scaling to the upright size (measured, a test), though for some sizes it returns a
    malformed frame (a 48x80 clip turned by 90 degrees gave ``(80, 48, 4)``; its
    ``get_batch`` raises), refused here; the sample aspect ratio it ignores, so frames are
    stretched here. A view is read through a second, scaling decord reader, as VBench does.
    """
    import decord
    import torch

    upright = (display.height, display.width)
    if display.rotation in (90, 270):
        upright = (display.width, display.height)
    for view, unique in wanted.items():
        if view is None:
            reader, (height, width) = vr, upright
        else:
            width, height = view
            reader = decord.VideoReader(path, width=width, height=height, num_threads=1)
        for start in range(0, len(unique), chunks[view]):
            idx = unique[start : start + chunks[view]]
            out = np.empty((len(idx), height, width, 3), dtype=np.uint8)
            for k, i in enumerate(idx.tolist()):
                frame = reader[i].asnumpy()
                if frame.ndim != 3 or frame.shape[2] != 3 or min(frame.shape[:2]) < 1:
                    raise RuntimeError(f"decord returned a {frame.shape} frame")
                tall, want_tall = frame.shape[0] > frame.shape[1], height > width
                if display.rotation in (90, 270) and frame.shape[0] != frame.shape[1]:
                    if tall != want_tall:  # a decord build that ignores the display matrix
                        frame = display.apply(frame)
                if frame.shape[:2] != (height, width):
                    frame = _rescale(frame, width, height)
                out[k] = frame
            yield view, idx, torch.from_numpy(out)


def _rescale(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """An RGB frame scaled to ``width x height`` with FFmpeg's swscale (as PyAV's path does)."""
    import av

    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frame.to_ndarray(format="rgb24", width=width, height=height)


def _scaler(stream: Any, view: tuple[int, int]) -> Callable[[Any], np.ndarray]:
    """An FFmpeg filter graph scaling decoded frames to ``view`` and converting them to RGB.

    ``scale=W:H:flags=bilinear`` then ``rgb24``: one swscale call does both, as in decord's
    graph (``scale=W:H`` with FFmpeg 4's default bilinear flags, ``rgb24`` sink).
    """
    import av

    graph = av.filter.Graph()
    source = graph.add_buffer(template=stream)
    scale = graph.add("scale", f"{view[0]}:{view[1]}:flags=bilinear")
    rgb = graph.add("format", "rgb24")
    sink = graph.add("buffersink")
    source.link_to(scale)
    scale.link_to(rgb)
    rgb.link_to(sink)
    graph.configure()

    def apply(frame: Any) -> np.ndarray:
        graph.push(frame)
        return graph.pull().to_ndarray()

    return apply


def _native(display: _Display | None) -> Callable[[Any], np.ndarray]:
    """Decoded frame -> RGB at the display size (square pixels, also after a size change)."""

    def apply(frame: Any) -> np.ndarray:
        if display is None or (frame.width, frame.height) == (display.width, display.height):
            return frame.to_ndarray(format="rgb24")
        return frame.to_ndarray(format="rgb24", width=display.width, height=display.height)

    return apply


def _pyav_frames(
    path: str,
    wanted: dict[View, np.ndarray],
    chunks: dict[View, int],
    *,
    display: _Display | None = None,
) -> Iterator[tuple[View, np.ndarray, torch.Tensor]]:
    """Decode ``path`` in presentation order with PyAV, yielding each view's wanted frames.

    Sequential (no seeking): the decoder stops at the last wanted frame and holds at most a
    few frames besides the chunks being filled. Native frames are scaled to the display size
    (square pixels; also a mid-stream change of resolution), views to theirs, and both are
    turned upright. Raises EOFError if the stream ends before a wanted index, so the caller
    can let decord read the rest.
    """
    import av
    import torch

    wanted = {v: i for v, i in wanted.items() if len(i)}
    if not wanted:
        return
    sets = {v: set(i.tolist()) for v, i in wanted.items()}
    last = max(int(i[-1]) for i in wanted.values())
    buf_idx: dict[View, list[int]] = {v: [] for v in wanted}
    bufs: dict[View, np.ndarray | None] = dict.fromkeys(wanted)  # filled in place
    seen = dict.fromkeys(wanted, 0)
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.thread_count = _decoder_threads
        convert: dict[View, Callable[[Any], np.ndarray]] = {
            v: _native(display)
            if v is None
            else _scaler(stream, display.coded_view(v) if display else v)
            for v in wanted
        }
        corrupt: list[str] = []
        for i, frame in enumerate(_decoded_until_corrupt(container, stream, corrupt)):
            for view, indices in sets.items():
                if i not in indices:
                    continue
                rgb = convert[view](frame)
                if display is not None:
                    rgb = display.apply(rgb)
                buf = bufs[view]
                if buf is None:
                    size = min(chunks[view], len(wanted[view]) - seen[view])
                    buf = bufs[view] = np.empty((size, *rgb.shape), dtype=np.uint8)
                elif buf.shape[1:] != rgb.shape:
                    raise ValueError(
                        f"frame {i} is {rgb.shape[1]}x{rgb.shape[0]},"
                        f" not {buf.shape[2]}x{buf.shape[1]}"
                    )
                buf[len(buf_idx[view])] = rgb
                buf_idx[view].append(i)
                if len(buf_idx[view]) == buf.shape[0]:
                    seen[view] += len(buf_idx[view])
                    yield view, np.asarray(buf_idx[view]), torch.from_numpy(buf)
                    buf_idx[view], bufs[view] = [], None
            if i >= last:
                break
    for view, idx in buf_idx.items():
        buf = bufs[view]
        if idx and buf is not None:
            seen[view] += len(idx)
            yield view, np.asarray(idx), torch.from_numpy(buf[: len(idx)])
    short = {v: (seen[v], len(i)) for v, i in wanted.items() if seen[v] < len(i)}
    if short:
        got, total = next(iter(short.values()))
        why = f" ({corrupt[0]})" if corrupt else ""
        raise EOFError(
            f"PyAV decoded {got} of the {total} wanted frames before the stream ended{why}"
        )


def _decoded_until_corrupt(container: Any, stream: Any, corrupt: list[str]) -> Iterator[Any]:
    """``container.decode(stream)``, ending where FFmpeg finds data it cannot decode.

    A cut-off upload's last packet is partial: depending on the decoder's threading FFmpeg
    reports the end of the stream or invalid data there. Either way the stream ends; the
    reason is appended to ``corrupt``, and the caller says how many frames it got.
    """
    import av

    frames = container.decode(stream)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except av.error.InvalidDataError as exc:
            corrupt.append(_one_line(exc))
            return
        yield frame


# --------------------------------------------------------------------------- finding videos

#: ISO base media brands of still images and audio: an ``ftyp`` box alone does not make a video.
_NOT_VIDEO_BRANDS = {
    b"M4A ",
    b"M4B ",
    b"M4P ",
    b"F4A ",
    b"F4B ",
    b"avif",
    b"heic",
    b"heix",
    b"heim",
    b"heis",
    b"hevc",
    b"mif1",
}
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def sniff_video(path: str | os.PathLike[str]) -> str | None:
    """The video container a file's first bytes announce (``"mp4"``, ``"avi"``, ...), or None.

    For files whose name does not say: a folder scan finds an MPEG-PS recording saved as
    ``clip.dat``, a download without an extension, or a camera's raw H.264/H.265 stream.
    Audio-only and still-image variants of the same containers (``.m4a``, HEIC, an Ogg
    without a Theora/VP8 stream) are not videos.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile(suffix=".bin") as fh:
        ...     _ = fh.write(b"RIFF\\x00\\x00\\x00\\x00AVI LIST")
        ...     fh.flush()
        ...     sniff_video(fh.name)
        'avi'
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError:
        return None
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return None if head[8:12] in _NOT_VIDEO_BRANDS else "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "mov"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"\x00\x00\x01\xba":
        return "mpeg-ps"
    if head[:4] == b"\x00\x00\x01\xb3":
        return "mpeg-video"
    if head[:3] == b"FLV":
        return "flv"
    if head[:16] == _ASF_GUID:
        return "asf"
    if head[:4] == b"OggS" and any(m in head for m in (b"\x80theora", b"OVP80", b"BBCD")):
        return "ogg"
    for start in (b"\x00\x00\x00\x01", b"\x00\x00\x01"):  # Annex B elementary streams
        if head.startswith(start) and len(head) > len(start) and not head[len(start)] & 0x80:
            nal = head[len(start)]
            if nal & 0x1F in (7, 9):  # H.264 sequence parameter set, access unit delimiter
                return "h264"
            if (nal >> 1) & 0x3F in (32, 33, 35):  # H.265 VPS, SPS, access unit delimiter
                return "hevc"
    for offset, size in ((0, 188), (4, 192)):  # MPEG-TS, and M2TS with its 4-byte prefix
        if len(head) > offset + 2 * size and all(head[offset + k * size] == 0x47 for k in range(3)):
            return "mpeg-ts"
    return None


def is_video_file(path: str | os.PathLike[str]) -> bool:
    """True if the file name has a video extension we read."""
    return os.fspath(path).lower().endswith(VIDEO_EXTENSIONS)
