"""Decoding for the runner: probing, decode chunk sizes, and the decode workers that
run ahead of the forward passes into a queue bounded in bytes.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from vbench_cn.inputs import file_identity
from vbench_cn.manifest import VideoItem
from vbench_cn.runner.decode_queue import ByteQueue, event_bytes
from vbench_cn.runner.progress import Profile
from vbench_cn.specs import DimensionSpec
from vbench_cn.video import VideoError, VideoInfo, VideoProbe, VideoReader, View

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


#: Decoded bytes per chunk: with the prefetch queue (:data:`DECODE_QUEUE_BYTES`), the chunk
#: being decoded and the one in use, about 240 MB of frames at most, whatever the resolution
#: (8 frames at 1080p, 32 at 540p, 64 up to 480x270). Chunk size does not set batch sizes (the
#: batcher gathers items across chunks and videos), so small chunks cost no GPU throughput.
CHUNK_BYTES = 48 * 1024 * 1024


#: Decoded frames waiting for the scoring thread, shared by the decode workers (each holds at
#: least one chunk): three full chunks, bounded in bytes whatever the frame size.
DECODE_QUEUE_BYTES = 3 * CHUNK_BYTES


class Prefetcher:
    """Decodes upcoming videos in a background thread into a bounded queue.

    Events, in order per video: ``("open", plan_entry, VideoReader | VideoError, source)``
    (``source``: the file's identity, :func:`vbench_cn.inputs.file_identity`), then
    ``("chunk", view, indices, frames)`` for each decoded chunk of the frames the video's
    dimensions need (per view, the union of their samplings; a view is a decoder-scaled
    size some backbones read, see :data:`vbench_cn.video.View`), then ``("end", error |
    None, note | None)``, the note saying when a truncated file gave fewer frames than its
    index lists. The queue holds ``max_bytes`` of frames at most
    (:class:`vbench_cn.runner.decode_queue.ByteQueue`), so memory stays bounded while decoding
    overlaps the forward passes (decord and PyAV release the GIL while they decode); several
    prefetchers, each over its own videos, are read in plan order
    (:class:`vbench_cn.runner.decode_queue.PlanOrder`). Whatever goes wrong while one video is
    opened or decoded becomes that video's ``error``; the thread goes on with the next video.
    ``probes`` (by path, from :func:`probe_all`) spare each video a second probe: its reader
    starts from the probe and opens the file only to decode it.
    """

    _DONE = ("done",)

    def __init__(
        self,
        plan: Sequence[tuple[VideoItem, list[DimensionSpec], list[DimensionSpec]]],
        chunk_frames: int,
        profile: Profile,
        max_bytes: int = DECODE_QUEUE_BYTES,
        views: dict[str, View] | None = None,
        probes: dict[str, VideoProbe | None] | None = None,
        decoder: str = "pyav",
        decode_device: torch.device | None = None,
    ) -> None:
        import threading

        self.plan = list(plan)
        self.probes = probes or {}
        self.views = views or {}  # spec id -> view its backbone reads (absent: native size)
        self.decoder = decoder  # pixels: VideoReader.read_views(decoder=...)
        self.decode_device = decode_device  # where torchcodec decodes (None: the CPU)
        self.chunk_frames = chunk_frames
        self.profile = profile
        self.queue = ByteQueue(max_bytes)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, name="vbench-cn-decode", daemon=True)
        self.thread.start()

    def _put(self, event: tuple[Any, ...]) -> bool:
        import queue

        nbytes = event_bytes(event)
        while not self.stop.is_set():
            try:
                self.queue.put(event, nbytes, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for entry in self.plan:
                if not self._decode_one(entry):
                    return
        finally:
            self._put(self._DONE)

    def _decode_one(
        self, entry: tuple[VideoItem, list[DimensionSpec], list[DimensionSpec]]
    ) -> bool:
        """Open and decode one video into events; False once the consumer has stopped."""
        item, todo, todo_set = entry
        opened = False
        try:
            t0 = time.perf_counter()
            try:
                reader: VideoReader | VideoError = VideoReader(
                    item.path, probe=self.probes.get(item.path)
                )
            except VideoError as exc:
                reader = exc
            try:
                source: dict[str, Any] | None = file_identity(item.path)
            except OSError:
                source = None
            self.profile.add_background(probe=time.perf_counter() - t0)
            opened = True
            if not self._put(("open", entry, reader, source)):
                return False
            if isinstance(reader, VideoError):
                return self._put(("end", None, None))
            error = self._read(reader, todo + todo_set)
            return self._put(("end", error, reader.truncated))
        except Exception as exc:  # a crash in one video's decoding is that video's error
            log.debug("decoding %s crashed", item.path, exc_info=exc)
            message = f"{item.path}: decoding crashed ({one_line(exc)})"
            if not opened:
                return self._put(("open", entry, VideoError(message), None)) and self._put(
                    ("end", None, None)
                )
            return self._put(("end", message, None))

    def _read(self, reader: VideoReader, specs: Sequence[DimensionSpec]) -> str | None:
        info = reader.info
        wanted: dict[View, list[np.ndarray]] = defaultdict(list)
        for s in specs:
            idx = s.sampling.indices(info.num_frames, reader.timestamps, info.fps)
            wanted[self.views.get(s.id)].append(idx)
        needed = {v: np.unique(np.concatenate(i)) for v, i in wanted.items()}
        needed = {v: i for v, i in needed.items() if len(i)}
        if not needed:
            return None
        chunks = {
            v: chunk_frames_for(info if v is None else _sized(info, v), self.chunk_frames)
            for v in needed
        }
        t0 = time.perf_counter()
        try:
            for view, idx_chunk, frames in reader.read_views(
                needed, chunk_frames=chunks, decoder=self.decoder, device=self.decode_device
            ):
                self.profile.add_background(decode=time.perf_counter() - t0)
                if not self._put(("chunk", view, idx_chunk, frames)):
                    return None
                t0 = time.perf_counter()
        except VideoError as exc:
            return str(exc)
        self.profile.add_background(decode=time.perf_counter() - t0)
        return None

    def events(self, stop: Callable[[], bool] = lambda: False) -> Iterator[tuple[Any, ...]]:
        """The decode events in order, until the producer is done or ``stop()`` turns true."""
        import queue

        while not stop():
            t0 = time.perf_counter()
            try:
                event = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            finally:
                self.profile.wait_seconds += time.perf_counter() - t0
            if event is self._DONE:
                return
            yield event

    def drain(self) -> list[tuple[Any, ...]]:
        """After :meth:`close`: every event already queued (whole videos and partial ones).

        The consumer may stop before taking the ``open`` of a video whose ``end`` is queued
        too; that video is decoded and must be scored, so nothing is cut at an ``open``.
        """
        import queue

        out: list[tuple[Any, ...]] = []
        while True:
            try:
                event = self.queue.get_nowait()
            except queue.Empty:
                return out
            if event is self._DONE:
                return out
            out.append(event)

    def close(self) -> None:
        """Stop the producer (on errors or early exit) and wait for it."""
        self.stop.set()
        self.thread.join(timeout=5)


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``, at most 300 characters."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def chunk_frames_for(info: VideoInfo, max_frames: int, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Frames per decode chunk: at most ``max_frames``, and at most ``chunk_bytes`` of RGB.

    Example:
        >>> from vbench_cn.video import VideoInfo
        >>> hd = VideoInfo("a.mp4", 4800, 8.0, 600.0, 1920, 1080, "h264", False, "decord")
        >>> chunk_frames_for(hd, 64)
        8
    """
    frame_bytes = max(1, info.width * info.height * 3)
    return max(1, min(max_frames, chunk_bytes // frame_bytes))


def _sized(info: VideoInfo, view: tuple[int, int]) -> VideoInfo:
    """``info`` with the frame size of a decoder-scaled view (for chunk sizing)."""
    from dataclasses import replace

    return replace(info, width=view[0], height=view[1])


def probe_all(
    items: Iterable[VideoItem], workers: int | None = None
) -> tuple[dict[str, VideoProbe | None], dict[str, str]]:
    """Probe every video: probes by path, and one-line errors for those that cannot be read.

    A probe holds the metadata (``probe.info``) and what the decoder needs to start without
    opening the file again (:class:`vbench_cn.video.VideoProbe`); :func:`infos_of` keeps
    only the metadata.

    ``workers`` threads probe at once (default: up to 8, one per core): opening a container
    waits on the disk and FFmpeg's stream probe, both outside the GIL.
    """
    from concurrent.futures import ThreadPoolExecutor

    items = list(items)
    workers = workers or min(8, os.cpu_count() or 1, max(1, len(items)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vbench-cn-probe") as pool:
        results = list(pool.map(_probe_one, items))
    probes = {item.path: probe for item, (probe, _) in zip(items, results, strict=True)}
    errors = {item.path: err for item, (_, err) in zip(items, results, strict=True) if err}
    return probes, errors


def infos_of(probes: dict[str, VideoProbe | None]) -> dict[str, VideoInfo | None]:
    """The metadata of each probe (what the protocol check and the ranks' gather need)."""
    return {path: probe.info if probe else None for path, probe in probes.items()}


def _probe_one(item: VideoItem) -> tuple[VideoProbe | None, str | None]:
    """One video's probe, or its one-line error."""
    try:
        return VideoReader(item.path).probe, None
    except VideoError as exc:
        return None, str(exc)
    except Exception as exc:  # any other failure is this video's, not the run's
        return None, f"{item.path}: probe crashed ({one_line(exc)})"


def file_size(path: str) -> int:
    """Bytes of ``path`` (0 when it cannot be read: its probe will say why)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
