"""Video input: probe metadata, plan which frames to sample, decode them once in chunks.

decord indexes a video (frame count and timestamps exactly as VBench sees them, without
decoding); PyAV decodes the pixels, sequentially, in chunks, so memory stays bounded by the
chunk size. Both libraries convert with FFmpeg's swscale and return identical RGB frames
(a test). Not decord for pixels: its reader decodes ahead in a background thread with an
unbounded queue whenever the caller pauses, so while our runner ran a slow forward pass a
10-minute 1080p video filled 24 GB (issue 9; bench/decode_bench.py). PyAV is also the
fallback for files decord cannot open, and decord for frames PyAV cannot decode. Frames
come out as ``uint8`` tensors ``(N, H, W, 3)`` in RGB order.

A backbone may need frames scaled by the decoder itself (VBench's scene reads frames through
``decord.VideoReader(width=384, height=384)``): such a *view* ``(width, height)`` is made in
the same decoding pass from each decoded frame, by an FFmpeg ``scale=W:H:flags=bilinear``
filter converting straight to RGB, which is what decord's filter graph does (FFmpeg 4's
default scale flags are bilinear); the frames are identical to decord's (a test).
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:  # torch is imported where frames become tensors, so specs load without it
    import torch

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif", ".m4v")

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


class VideoError(Exception):
    """A video cannot be read; the message names the file and the cause on one line."""


@dataclass(frozen=True)
class VideoInfo:
    """What the probe found in a video file, without decoding its frames."""

    path: str
    num_frames: int
    fps: float
    duration_seconds: float
    width: int
    height: int
    codec: str | None
    variable_frame_rate: bool
    backend: Literal["decord", "pyav"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (paths as strings, floats rounded for readability)."""
        d = asdict(self)
        d["fps"] = round(self.fps, 4)
        d["duration_seconds"] = round(self.duration_seconds, 4)
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
                f"unknown sampling {key!r}; "
                "allowed: fps='all', frames, every_seconds, fps, stride_fps"
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
    count = int(math.floor((end - start) / step_seconds + 1e-9)) + 1
    targets = start + step_seconds * np.arange(count)
    idx = np.searchsorted(timestamps, targets + 1e-9, side="right") - 1
    return np.unique(np.clip(idx, 0, len(timestamps) - 1)).astype(np.int64)


# --------------------------------------------------------------------------- readers


class VideoReader:
    """Opens a video once, knows its timestamps, and reads chosen frames in chunks."""

    def __init__(self, path: str | os.PathLike[str], *, backend: str = "auto") -> None:
        """Open ``path``; ``backend`` is ``auto`` (decord index, PyAV pixels), decord or pyav."""
        if backend not in ("auto", "decord", "pyav"):
            raise ValueError(f"backend must be auto, decord or pyav, got {backend!r}")
        self.path = os.fspath(path)
        self.backend = backend
        if not os.path.exists(self.path):
            raise VideoError(f"{self.path}: file not found")
        if os.path.getsize(self.path) == 0:
            raise VideoError(f"{self.path}: empty file (0 bytes)")
        errors: list[str] = []
        self._impl: _DecordImpl | _PyAVImpl | None = None
        # Container headers first (cheap, quiet): a file FFmpeg cannot open gets one clear
        # error here instead of decord's native log spam.
        header_error = _header_error(self.path)
        if header_error is not None:
            raise VideoError(f"{self.path}: not a readable video ({header_error})")
        if backend in ("auto", "decord"):
            try:
                self._impl = _DecordImpl(self.path)
            except Exception as exc:  # decord raises its own DECORDError and RuntimeError
                errors.append(f"decord: {_one_line(exc)}")
        if self._impl is None and backend in ("auto", "pyav"):
            try:
                self._impl = _PyAVImpl(self.path)
            except Exception as exc:  # av.error.* derive from various bases
                errors.append(f"pyav: {_one_line(exc)}")
        if self._impl is None:
            raise VideoError(f"{self.path}: cannot decode ({'; '.join(errors)})")
        if self._impl.num_frames == 0:
            raise VideoError(f"{self.path}: no decodable frames")
        self.timestamps = self._impl.timestamps
        self.info = self._impl.info()

    def read(
        self, indices: Sequence[int] | np.ndarray, *, chunk_frames: int = DEFAULT_CHUNK_FRAMES
    ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Yield ``(indices_chunk, frames)`` with frames ``uint8 (n, H, W, 3)`` RGB.

        ``indices`` may repeat (VBench pads short videos); each distinct frame is decoded once.
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
    ) -> Iterator[tuple[View, np.ndarray, torch.Tensor]]:
        """Decode once, yielding ``(view, indices_chunk, frames)`` for each view's wanted frames.

        Args:
            wanted: per view (None: native size; ``(w, h)``: scaled by the decoder), the frame
                indices it needs (may repeat).
            chunk_frames: frames per chunk, one number or one per view.
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
        # not (decord on 1-pixel frames, PyAV short of the frames decord indexed).
        decoders: list[Callable[..., Iterator[tuple[View, np.ndarray, torch.Tensor]]]]
        decoders = [functools.partial(_pyav_frames, self.path)]
        if isinstance(self._impl, _DecordImpl):
            decoders.insert(0 if self.backend == "decord" else 1, self._impl.read)
        done = dict.fromkeys(todo, 0)
        for attempt, decode in enumerate(decoders, start=1):
            try:
                rest = {v: idx[done[v] :] for v, idx in todo.items() if done[v] < len(idx)}
                for view, idx_chunk, frames in decode(rest, chunks):
                    done[view] += len(idx_chunk)
                    yield view, idx_chunk, frames
                return
            except VideoError:
                raise
            except Exception as exc:
                if attempt == len(decoders):
                    raise VideoError(f"{self.path}: decoding failed ({_one_line(exc)})") from exc
                log.debug(
                    "decoder %d failed on %s (%s); the next reads the rest",
                    attempt,
                    self.path,
                    _one_line(exc),
                )

    def read_all(self, indices: Sequence[int] | np.ndarray) -> torch.Tensor:
        """Decode the given frames into one tensor, in the order (and repeats) given."""
        import torch

        wanted = np.asarray(indices, dtype=np.int64)
        chunks = list(self.read(wanted))
        got = np.concatenate([c[0] for c in chunks])
        frames = torch.cat([c[1] for c in chunks])
        pos = np.searchsorted(got, wanted)
        return frames[torch.from_numpy(pos)]


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Probe a video's metadata (fps, frames, duration, size, codec) without decoding it."""
    return VideoReader(path).info


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


class _DecordImpl:
    def __init__(self, path: str) -> None:
        import decord

        decord.bridge.set_bridge("native")
        self.path = path
        self.vr = decord.VideoReader(path, num_threads=1)
        self.num_frames = len(self.vr)
        if self.num_frames:
            ts = self.vr.get_frame_timestamp(np.arange(self.num_frames))
            self.timestamps = np.asarray(ts[:, 0], dtype=np.float64)
        else:
            self.timestamps = np.zeros(0)
        meta = _container_meta(path)
        if meta is None:  # container headers unreadable by PyAV: decode one frame for the size
            shape = self.vr[0].shape if self.num_frames else (0, 0, 3)
            meta = (None, int(shape[1]), int(shape[0]))
        self.codec, self.width, self.height = meta
        self.fps = float(self.vr.get_avg_fps() or 0.0)

    backend = "decord"

    def info(self) -> VideoInfo:
        return _info(self)

    def read(
        self, wanted: dict[View, np.ndarray], chunks: dict[View, int]
    ) -> Iterator[tuple[View, np.ndarray, torch.Tensor]]:
        """Frame by frame (``vr[i]``: an accurate seek, free for the next frame), view by view.

        Only for ``backend="decord"`` and as PyAV's fallback: while the caller pauses between
        chunks, decord's decoder thread keeps decoding ahead into an unbounded queue (4.6 GB
        after 4.5 s idle on 1080p), so memory is bounded only if chunks are consumed at once.
        """
        import decord
        import torch

        for view, unique in wanted.items():
            if view is None:
                vr, (width, height) = self.vr, (self.width, self.height)
            else:
                vr, (width, height) = (
                    decord.VideoReader(self.path, width=view[0], height=view[1], num_threads=1),
                    view,
                )
            for start in range(0, len(unique), chunks[view]):
                idx = unique[start : start + chunks[view]]
                out = np.empty((len(idx), height, width, 3), dtype=np.uint8)
                for k, i in enumerate(idx.tolist()):
                    frame = vr[i].asnumpy()
                    if frame.shape != out.shape[1:]:  # e.g. 1-pixel frames: PyAV reads the rest
                        raise RuntimeError(
                            f"decord returned a {frame.shape} frame, expected {out.shape[1:]}"
                        )
                    out[k] = frame
                yield view, idx, torch.from_numpy(out)


class _PyAVImpl:
    def __init__(self, path: str) -> None:
        import av

        self.path = path
        with av.open(path) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: no video stream")
            stream = container.streams.video[0]
            self.codec = stream.codec_context.name
            self.width = int(stream.codec_context.width)
            self.height = int(stream.codec_context.height)
            rate = stream.average_rate or stream.guessed_rate
            self.fps = float(rate) if rate else 0.0
            tb = float(stream.time_base) if stream.time_base else 0.0
            pts: list[float] = []
            for packet in container.demux(stream):  # packets carry timestamps: no decoding needed
                if packet.size == 0:
                    continue
                if packet.pts is not None and tb:
                    pts.append(float(packet.pts * tb))
                else:
                    pts.append(len(pts) / (self.fps or 1.0))
        ts = np.sort(np.asarray(pts, dtype=np.float64))
        self.timestamps = ts - ts[0] if len(ts) else ts
        self.num_frames = len(ts)
        if self.fps == 0.0 and len(ts) > 1 and ts[-1] > ts[0]:
            self.fps = (len(ts) - 1) / (ts[-1] - ts[0])

    backend = "pyav"

    def info(self) -> VideoInfo:
        return _info(self)


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


def _pyav_frames(
    path: str, wanted: dict[View, np.ndarray], chunks: dict[View, int]
) -> Iterator[tuple[View, np.ndarray, torch.Tensor]]:
    """Decode ``path`` in presentation order with PyAV, yielding each view's wanted frames.

    Sequential (no seeking): the decoder stops at the last wanted frame and holds at most a
    few frames besides the chunks being filled. Raises if the stream ends before a wanted
    index, so the caller can let decord read the rest.
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
            v: (lambda f: f.to_ndarray(format="rgb24")) if v is None else _scaler(stream, v)
            for v in wanted
        }
        for i, frame in enumerate(container.decode(stream)):
            for view, indices in sets.items():
                if i not in indices:
                    continue
                rgb = convert[view](frame)
                buf = bufs[view]
                if buf is None:
                    size = min(chunks[view], len(wanted[view]) - seen[view])
                    buf = bufs[view] = np.empty((size, *rgb.shape), dtype=np.uint8)
                elif buf.shape[1:] != rgb.shape:
                    raise ValueError(
                        f"frame {i} is {rgb.shape[1]}x{rgb.shape[0]}, "
                        f"not {buf.shape[2]}x{buf.shape[1]}"
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
        raise EOFError(f"PyAV decoded {got} of the {total} wanted frames before the stream ended")


def _info(impl: _DecordImpl | _PyAVImpl) -> VideoInfo:
    """The :class:`VideoInfo` of an opened decoder."""
    return VideoInfo(
        path=impl.path,
        num_frames=impl.num_frames,
        fps=impl.fps,
        duration_seconds=_duration(impl.timestamps, impl.fps, impl.num_frames),
        width=impl.width,
        height=impl.height,
        codec=impl.codec,
        variable_frame_rate=_is_vfr(impl.timestamps),
        backend=impl.backend,  # type: ignore[arg-type]
    )


def _duration(timestamps: np.ndarray, fps: float, num_frames: int) -> float:
    """Duration in seconds: last timestamp plus one frame period (the shown time of the video)."""
    if num_frames == 0:
        return 0.0
    if len(timestamps) > 1:
        period = float(np.median(np.diff(timestamps)))
        return float(timestamps[-1] - timestamps[0]) + period
    return 1.0 / fps if fps > 0 else 0.0


def _header_error(path: str) -> str | None:
    """Why FFmpeg cannot open the container or finds no video stream; None when it can."""
    try:
        import av

        with av.open(path) as container:
            if not container.streams.video:
                return "no video stream"
    except Exception as exc:  # av.error.* (InvalidDataError, ...) and OSError
        text = getattr(exc, "strerror", None) or str(exc)
        return str(text).splitlines()[0][:200] if text else type(exc).__name__
    return None


def _container_meta(path: str) -> tuple[str | None, int, int] | None:
    """(codec, width, height) from the container headers, without decoding a frame."""
    try:
        import av

        with av.open(path) as container:
            if not container.streams.video:
                return None
            ctx = container.streams.video[0].codec_context
            if not ctx.width or not ctx.height:
                return None
            return ctx.name, int(ctx.width), int(ctx.height)
    except Exception as exc:  # informative only: decord already opened the file
        log.debug("container probe failed for %s: %s", path, exc)
        return None


def is_video_file(path: str | os.PathLike[str]) -> bool:
    """True if the file name has a video extension we read."""
    return os.fspath(path).lower().endswith(VIDEO_EXTENSIONS)
