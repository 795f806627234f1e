"""The runner: plan, decode each video once, batch backbones across videos, score, record.

For each video the selected dimensions are grouped by feature key (extractor, sampling):
dimensions that share a key share the decoded frames and the extractor's outputs. The
union of the frames every group needs is decoded once, chunk by chunk; on an accelerator
each chunk is uploaded once (:mod:`vbench_cn.frame_upload`) and shared by the extractors that
prepare on the device. Each chunk is prepared per group and queued in a per-extractor batcher
that mixes videos, so a forward pass sees full batches. When all of a video's outputs are
back its scorers run and its records are written (flushed) at once: a killed run loses at
most the videos in flight.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vbench_cn import __version__
from vbench_cn.decode_queue import ByteQueue, PlanOrder, event_bytes
from vbench_cn.device_errors import (
    DeviceFailure,
    device_failure,
    is_out_of_memory,
    is_poisoned_context,
)
from vbench_cn.device_setup import precision_flags, setup_process
from vbench_cn.features import (
    ExtractorOptions,
    FeatureExtractor,
    build_extractor,
    extractor_class,
)
from vbench_cn.frame_upload import FrameUploader
from vbench_cn.host_copies import READY, HostCopies, Ready
from vbench_cn.inputs import changes, digest, file_changed, file_identity
from vbench_cn.manifest import VideoItem
from vbench_cn.preflight import Expectations, SetupError, resolve_device
from vbench_cn.reference import load_reference_for
from vbench_cn.results import (
    Record,
    RecordWriter,
    make_record,
    record_key,
    shard_path,
    update_run_info,
)
from vbench_cn.run_lock import run_lock
from vbench_cn.scorers import NotApplicable, Score, get_scorer
from vbench_cn.specs import LEVELS, DimensionSpec
from vbench_cn.video import DEFAULT_CHUNK_FRAMES, VideoError, VideoInfo, VideoReader, View

log = logging.getLogger(__name__)

#: Decoded bytes per chunk: with the prefetch queue (:data:`DECODE_QUEUE_BYTES`), the chunk
#: being decoded and the one in use, about 240 MB of frames at most, whatever the resolution
#: (8 frames at 1080p, 32 at 540p, 64 up to 480x270). Chunk size does not set batch sizes (the
#: batcher gathers items across chunks and videos), so small chunks cost no GPU throughput.
CHUNK_BYTES = 48 * 1024 * 1024
#: Decoded frames waiting for the scoring thread, shared by the decode workers (each holds at
#: least one chunk): three full chunks, bounded in bytes whatever the frame size.
DECODE_QUEUE_BYTES = 3 * CHUNK_BYTES


@dataclass
class RunOptions:
    """Everything a run needs besides the videos and the specs."""

    out_dir: Path
    device: str = "auto"
    random_weights: bool = False
    weights_dir: str | None = None
    weights_overrides: dict[str, str] = field(default_factory=dict)
    chunk_frames: int = DEFAULT_CHUNK_FRAMES
    max_pending_videos: int = 8
    retry_errors: bool = False
    all_prompts: bool = False
    rank: int = 0
    world_size: int = 1
    reference: str | None = None
    progress: bool = True
    profile: bool = False
    amp: bool = True
    precision: str = "parity"  # vbench_cn.device_setup.PRECISIONS
    batch_sizes: dict[str, int] = field(default_factory=dict)
    decode_workers: int = 0  # 0: Runner.decode_workers decides
    decode_queue_bytes: int = 0  # 0: DECODE_QUEUE_BYTES; decoded frames waiting, all workers


# --------------------------------------------------------------------------- profiling


@dataclass
class Profile:
    """Where the time went: decode, CPU preparation, forward passes per extractor, scoring."""

    decode_seconds: float = 0.0
    prepare_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    forward_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    items: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    frames: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    batches: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    score_seconds: float = 0.0
    probe_seconds: float = 0.0
    wait_seconds: float = 0.0  # main thread idle, waiting for decoded frames
    wall_seconds: float = 0.0
    videos: int = 0
    oom_retries: int = 0
    #: (extractor, start, end) CUDA events of forward passes not yet added to
    #: ``forward_seconds``: on a GPU the host does not wait for a forward to end, so its time
    #: is the device's, read once the events have passed (:meth:`settle`).
    device_spans: list[tuple[str, Any, Any]] = field(default_factory=list)

    def settle(self) -> None:
        """Add the device time of finished CUDA forward passes to ``forward_seconds``."""
        for name, start, end in self.device_spans:
            end.synchronize()
            self.forward_seconds[name] += start.elapsed_time(end) / 1000
        self.device_spans = []

    def rows(self) -> list[dict[str, Any]]:
        """One row per extractor: frames/s, items/s, share of wall time in forward passes."""
        self.settle()
        out = []
        for name in sorted(set(self.forward_seconds) | set(self.prepare_seconds)):
            fwd = self.forward_seconds.get(name, 0.0)
            out.append(
                {
                    "extractor": name,
                    "frames": self.frames.get(name, 0),
                    "items": self.items.get(name, 0),
                    "batches": self.batches.get(name, 0),
                    "forward_s": round(fwd, 3),
                    "prepare_s": round(self.prepare_seconds.get(name, 0.0), 3),
                    "frames_per_s": round(self.frames.get(name, 0) / fwd, 2) if fwd > 0 else None,
                    "forward_share": round(fwd / self.wall_seconds, 4)
                    if self.wall_seconds > 0
                    else None,
                }
            )
        return out

    def summary(self) -> dict[str, Any]:
        """Totals plus per-extractor rows, JSON-ready."""
        self.settle()
        fwd = sum(self.forward_seconds.values())
        prep = sum(self.prepare_seconds.values())
        busy = fwd + prep + self.score_seconds + self.wait_seconds
        return {
            "wall_s": round(self.wall_seconds, 3),
            "videos": self.videos,
            "videos_per_s": round(self.videos / self.wall_seconds, 3)
            if self.wall_seconds
            else None,
            "decode_s": round(self.decode_seconds, 3),  # in the background decode thread
            "wait_for_decode_s": round(self.wait_seconds, 3),
            "probe_s": round(self.probe_seconds, 3),
            "prepare_s": round(prep, 3),
            "forward_s": round(fwd, 3),
            "score_s": round(self.score_seconds, 3),
            "other_s": round(max(0.0, self.wall_seconds - busy), 3),
            "forward_share": round(fwd / self.wall_seconds, 4) if self.wall_seconds else None,
            "oom_retries": self.oom_retries,
            "extractors": self.rows(),
        }


# --------------------------------------------------------------------------- per-video state


@dataclass
class _Group:
    """One (extractor, sampling) of one video and the dimensions that read it."""

    extractor: FeatureExtractor
    indices: np.ndarray
    specs: list[DimensionSpec]
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))  # clip fraction per index
    outputs: list[torch.Tensor | None] = field(default_factory=list)
    pending: int = 0
    cursor: int = 0  # next position in indices
    carry: torch.Tensor | None = None
    error: str | None = None
    skip: str | None = None  # why the extractor does not take this video (not applicable)
    frames_prepared: int = 0
    ready: list[Ready] = field(default_factory=list)  # host copies of ``outputs`` in flight

    def stacked_outputs(self) -> torch.Tensor:
        """This group's outputs, in order, on the host (waits for copies still in flight)."""
        for ready in self.ready:
            ready.wait()
        outs = [o for o in self.outputs if o is not None and o.numel() > 0]
        return torch.cat(outs) if outs else torch.zeros(0)


@dataclass
class _Job:
    """One video in flight: its groups, and what went wrong while opening or decoding it.

    ``error`` (the file cannot be opened) fails every dimension; ``decode_error`` only those
    that read frames, so the probe's dimensions (duration, frame rate) are still scored.
    ``note`` says the file ended before frames its index lists (scored on those there are).
    """

    item: VideoItem
    info: VideoInfo | None
    groups: list[_Group]
    started: float
    decoded: bool = False
    error: str | None = None
    source: dict[str, Any] | None = None
    decode_error: str | None = None
    note: str | None = None


class _Batcher:
    """Queues prepared items of one extractor from many videos and runs full batches.

    Out of memory (caching allocator, cuBLAS, cuDNN or pinned-host allocations) halves the
    batch and retries; after :attr:`GROW_AFTER` batches that fit it doubles again, up to the
    starting size. A poisoned CUDA context raises :class:`DeviceFailure`, which no per-video
    guard catches: the run stops and is resumed in a fresh process.
    """

    #: Batches that fit at a reduced size before the batch size doubles again.
    GROW_AFTER = 8

    def __init__(
        self,
        extractor: FeatureExtractor,
        batch_size: int,
        profile: Profile,
        copies: HostCopies | None = None,
    ) -> None:
        self.extractor = extractor
        self.batch_size = max(1, batch_size)
        self.max_batch_size = self.batch_size
        self.profile = profile
        self.copies = copies or HostCopies(extractor.device)
        self.queue: list[tuple[_Group, int, torch.Tensor]] = []
        self.queued_items = 0
        self._fits = 0  # batches that fitted since the last halving

    def add(self, group: _Group, tensor: torch.Tensor) -> None:
        slot = len(group.outputs)
        group.outputs.append(None)
        group.pending += 1
        self.queue.append((group, slot, tensor))
        self.queued_items += tensor.shape[0]
        if self.queued_items >= self.batch_size:
            self.flush()

    def discard(self, group_ids: set[int]) -> None:
        """Drop the queued items of the given groups (``id(group)``: videos left unfinished)."""
        self.queue = [e for e in self.queue if id(e[0]) not in group_ids]
        self.queued_items = sum(e[2].shape[0] for e in self.queue)

    def flush(self) -> None:
        """Run everything queued, grouped by item shape (and by video where the extractor
        asks for ``batch_per_video``), in batches of ``batch_size``."""
        if not self.queue:
            return
        queue, self.queue, self.queued_items = self.queue, [], 0
        per_video = self.extractor.batch_per_video
        by_key: dict[tuple[Any, ...], list[tuple[_Group, int, torch.Tensor]]] = defaultdict(list)
        for entry in queue:
            by_key[(tuple(entry[2].shape[1:]), id(entry[0]) if per_video else None)].append(entry)
        for entries in by_key.values():
            outs, failure = self._try_forward([e[2] for e in entries])
            if failure is None:
                self._store(entries, *outs)
            elif len(entries) == 1:
                self._fail(entries[0][0], failure)
            else:  # isolate the failing video: retry entry by entry
                for entry in entries:
                    outs, failure = self._try_forward([entry[2]])
                    if failure is None:
                        self._store([entry], *outs)
                    else:
                        self._fail(entry[0], failure)

    def _try_forward(self, tensors: list[torch.Tensor]) -> tuple[Any, Exception | None]:
        """``(outputs, None)``, or ``(None, error)`` with the error's traceback dropped, so
        that the activations its frames hold are freed before anything is retried."""
        try:
            return self._forward_all(torch.cat(tensors) if len(tensors) > 1 else tensors[0]), None
        except DeviceFailure:
            raise
        except Exception as exc:
            log.debug("forward failed", exc_info=exc)
            return None, exc.with_traceback(None)

    def _store(
        self, entries: list[tuple[_Group, int, torch.Tensor]], outs: torch.Tensor, ready: Ready
    ) -> None:
        start = 0
        for group, slot, tensor in entries:
            n = tensor.shape[0]
            group.outputs[slot] = outs[start : start + n]  # valid once ``ready`` is waited for
            group.ready.append(ready)
            group.pending -= 1
            start += n

    def _fail(self, group: _Group, exc: Exception) -> None:
        log.debug("forward failed", exc_info=exc)
        group.error = f"{self.extractor.name} failed: {_one_line(exc)}"
        for i, out in enumerate(group.outputs):
            if out is None:
                group.outputs[i] = torch.zeros(0)
        group.pending = 0

    def _forward_all(self, items: torch.Tensor) -> tuple[torch.Tensor, Ready]:
        """Forward in chunks of the current batch size; out of memory halves it and retries.

        The outputs stay on the device until the last chunk, then come back in one
        non-blocking copy (:class:`vbench_cn.host_copies.HostCopies`): ``(host, ready)``.
        """
        name = self.extractor.name
        outs: list[torch.Tensor] = []
        start = 0
        while start < items.shape[0]:
            chunk = items[start : start + self.batch_size]
            t0 = time.perf_counter()
            out_of_memory = False
            span = _device_span(self.extractor.device)
            try:
                with torch.inference_mode(), _autocast(self.extractor):
                    out = self.extractor.forward(self.extractor.to_device(chunk)).detach()
            except Exception as exc:
                if is_poisoned_context(exc):
                    raise device_failure(exc, where=f"{name} forward") from exc
                if not is_out_of_memory(exc) or self.batch_size == 1:
                    raise
                out_of_memory = True
            if out_of_memory:  # outside the except: its traceback no longer pins activations
                self.batch_size = max(1, self.batch_size // 2)
                self._fits = 0
                self.profile.oom_retries += 1
                log.warning("%s: out of memory; batch size halved to %d", name, self.batch_size)
                _release_cached_memory(self.extractor.device)
                continue
            if span is None:
                self.profile.forward_seconds[name] += time.perf_counter() - t0
            else:
                span[1].record()
                self.profile.device_spans.append((name, *span))
            self.profile.items[name] += chunk.shape[0]
            self.profile.batches[name] += 1
            outs.append(out)
            start += chunk.shape[0]
            self._grow_back(chunk.shape[0])
        if not outs:
            return torch.zeros(0), READY
        return self.copies.start(torch.cat(outs) if len(outs) > 1 else outs[0])

    def _grow_back(self, ran: int) -> None:
        """Count a batch that fitted; double the size after ``GROW_AFTER`` full ones."""
        if self.batch_size >= self.max_batch_size or ran < self.batch_size:
            return
        self._fits += 1
        if self._fits >= self.GROW_AFTER:
            self.batch_size = min(self.max_batch_size, self.batch_size * 2)
            self._fits = 0
            log.info("%s: batch size back to %d", self.extractor.name, self.batch_size)


def _release_cached_memory(device: torch.device) -> None:
    """Return the caching allocator's free blocks to the device (after an out-of-memory)."""
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()


class _Prefetcher:
    """Decodes upcoming videos in a background thread into a bounded queue.

    Events, in order per video: ``("open", plan_entry, VideoReader | VideoError, source)``
    (``source``: the file's identity, :func:`vbench_cn.inputs.file_identity`), then
    ``("chunk", view, indices, frames)`` for each decoded chunk of the frames the video's
    dimensions need (per view, the union of their samplings; a view is a decoder-scaled
    size some backbones read, see :data:`vbench_cn.video.View`), then ``("end", error |
    None, note | None)``, the note saying when a truncated file gave fewer frames than its
    index lists. The queue holds ``max_bytes`` of frames at most
    (:class:`vbench_cn.decode_queue.ByteQueue`), so memory stays bounded while decoding
    overlaps the forward passes (decord and PyAV release the GIL while they decode); several
    prefetchers, each over its own videos, are read in plan order
    (:class:`vbench_cn.decode_queue.PlanOrder`). Whatever goes wrong while one video is
    opened or decoded becomes that video's ``error``; the thread goes on with the next video.
    """

    _DONE = ("done",)

    def __init__(
        self,
        plan: Sequence[tuple[VideoItem, list[DimensionSpec], list[DimensionSpec]]],
        chunk_frames: int,
        profile: Profile,
        max_bytes: int = DECODE_QUEUE_BYTES,
        views: dict[str, View] | None = None,
    ) -> None:
        import threading

        self.plan = list(plan)
        self.views = views or {}  # spec id -> view its backbone reads (absent: native size)
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
                reader: VideoReader | VideoError = VideoReader(item.path)
            except VideoError as exc:
                reader = exc
            try:
                source: dict[str, Any] | None = file_identity(item.path)
            except OSError:
                source = None
            self.profile.probe_seconds += time.perf_counter() - t0
            opened = True
            if not self._put(("open", entry, reader, source)):
                return False
            if isinstance(reader, VideoError):
                return self._put(("end", None, None))
            error = self._read(reader, todo + todo_set)
            return self._put(("end", error, reader.truncated))
        except Exception as exc:  # a crash in one video's decoding is that video's error
            log.debug("decoding %s crashed", item.path, exc_info=exc)
            message = f"{item.path}: decoding crashed ({_one_line(exc)})"
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
            for view, idx_chunk, frames in reader.read_views(needed, chunk_frames=chunks):
                self.profile.decode_seconds += time.perf_counter() - t0
                if not self._put(("chunk", view, idx_chunk, frames)):
                    return None
                t0 = time.perf_counter()
        except VideoError as exc:
            return str(exc)
        self.profile.decode_seconds += time.perf_counter() - t0
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


def _one_line(exc: BaseException) -> str:
    """``Type: first line of the message``, at most 300 characters."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


class _StopSignal:
    """SIGTERM asks the run to stop between two steps; a second SIGTERM interrupts at once.

    SIGTERM is how schedulers, ``timeout`` and ``docker stop`` end a job; by default it ends
    the process at once, losing the videos whose features were batched but not yet written.
    Here the runner finishes the step it is in, takes the rest of the videos already
    decoded, writes every finished video and raises KeyboardInterrupt (a re-run resumes).
    Installed only in the main thread (signal handlers cannot be set elsewhere).
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopSignal:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt(f"signal {signum}")
        self.requested = True
        log.warning("signal %d: stopping; the videos already decoded are written first", signum)


def _device_span(device: torch.device) -> tuple[Any, Any] | None:
    """A (start, end) pair of timing events on CUDA, the start recorded; None elsewhere."""
    if device.type != "cuda":
        return None
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    return start, end


def _autocast(extractor: FeatureExtractor) -> Any:
    if extractor.device.type == "cuda" and extractor.options.amp and extractor.amp_ok:
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast("cpu", enabled=False)


# --------------------------------------------------------------------------- runner


class Runner:
    """Scores videos along the given dimension specs into a run directory."""

    def __init__(self, specs: Sequence[DimensionSpec], options: RunOptions) -> None:
        if not specs:
            raise ValueError("no dimension selected")
        not_run = [f"{s.id} ({s.level})" for s in specs if s.level not in LEVELS]
        if not_run:
            raise ValueError(
                f"the runner scores levels {', '.join(LEVELS)}, not {', '.join(not_run)}"
            )
        self.specs = list(specs)
        self.options = options
        self.device = resolve_device(options.device)
        self.setup = setup_process(self.device, options.precision)
        self.uploader = FrameUploader(self.device)
        self.expect = Expectations(self._extractor_options())
        #: Why records were scored again this run (reason -> records), said before the run.
        self.rescored: Counter[str] = Counter()
        self.profile = Profile()
        self._extractors: dict[str, FeatureExtractor] = {}
        self._build_errors: dict[str, Exception] = {}
        self._batchers: dict[str, _Batcher] = {}
        self._text_cache: dict[tuple[str, str, str], torch.Tensor] = {}

    # -- extractors

    def extractor(self, name: str) -> FeatureExtractor:
        """Build (once) and return the extractor ``name``; a build that failed is not retried.

        Retrying per video would reload (and re-hash) the checkpoints of a model that cannot
        be built for every video of the run, only to fail the same way.
        """
        if name in self._build_errors:
            raise self._build_errors[name]
        if name not in self._extractors:
            try:
                self._build(name)
            except Exception as exc:
                self._build_errors[name] = exc
                raise
        return self._extractors[name]

    def _extractor_options(self) -> ExtractorOptions:
        return ExtractorOptions(
            device=self.device,
            random_weights=self.options.random_weights,
            weights_dir=self.options.weights_dir,
            weights_overrides=dict(self.options.weights_overrides),
            amp=self.options.amp and precision_flags(self.options.precision).autocast_fp16,
            precision=self.options.precision,
        )

    def _build(self, name: str) -> None:
        ext = build_extractor(name, self._extractor_options())
        self._extractors[name] = ext
        bs = self.options.batch_sizes.get(name) or (
            scaled_batch_size(ext.batch_size, self.device)
            if self.device.type == "cuda"
            else min(ext.batch_size, ext.cpu_batch_size)
        )
        self._batchers[name] = _Batcher(ext, bs, self.profile)
        self._save_runtime()

    def _save_runtime(self) -> None:
        """Device, threads, precision flags and batch sizes into ``run.json`` (rank 0)."""
        if self.options.rank != 0:
            return
        runtime = {
            **self.setup.to_dict(),
            "amp": self.options.amp,
            "batch_sizes": {n: b.max_batch_size for n, b in sorted(self._batchers.items())},
        }
        update_run_info(self.options.out_dir, "runtime", runtime)

    def backbone_for(self, spec: DimensionSpec, item: VideoItem) -> str:
        """The extractor serving ``spec`` on this video.

        A language router (an extractor with ``routes = {"en": ..., "zh": ...}``, e.g.
        ``video_text``) names the extractor for the prompt's language, so a Chinese prompt is
        scored by a model that reads Chinese and dimensions routed to the same extractor
        share its features (vbench_cn/features/cnclip.py).
        """
        name = spec.backbone or "none"
        if spec.backbone is None:
            return name
        try:  # the class routes: nothing is built here
            route = getattr(extractor_class(name), "route", None)
        except KeyError:  # an unknown backbone is reported when it is built
            return name
        return (
            route(item.prompt.lang if item.prompt is not None else None)
            if route is not None
            else name
        )

    # -- planning

    @staticmethod
    def views(specs: Sequence[DimensionSpec]) -> dict[str, View]:
        """Spec id -> the decoder-scaled size its backbone reads, for backbones that have one."""
        out: dict[str, View] = {}
        for spec in specs:
            try:
                size = (
                    getattr(extractor_class(spec.backbone), "decode_size", None)
                    if spec.backbone
                    else None
                )
            except (KeyError, ImportError):  # reported when the extractor is built
                size = None
            if size is not None:
                out[spec.id] = (int(size[0]), int(size[1]))
        return out

    def applies(self, spec: DimensionSpec, item: VideoItem) -> bool:
        """Whether ``spec`` is scored on this video: suite prompts follow the spec's tag."""
        if spec.prompts == "any" or self.options.all_prompts:
            return True
        if item.prompt is None or not item.prompt.known:
            return True  # custom prompt: the scorer decides (NotApplicable when metadata lacks)
        return spec.prompts in item.prompt.tags

    def shard(self, items: Sequence[VideoItem]) -> list[VideoItem]:
        """This rank's videos: greedy balance by file size (largest first), deterministic.

        File size, not duration, so that a rank can shard before probing anything and probe
        only its own videos; bytes also follow decode cost better than seconds do.
        """
        if self.options.world_size <= 1:
            return list(items)
        from vbench_cn.distributed import balance_by_cost

        costs = [float(max(1, _file_size(it.path))) for it in items]
        return [
            items[i] for i in balance_by_cost(costs, self.options.world_size)[self.options.rank]
        ]

    def decode_workers(self, videos: int) -> int:
        """Decode threads, each on its own videos: ``options.decode_workers``, or by default
        one on CPU (the cores are busy with the forward passes) and four on an accelerator
        (one PyAV thread cannot feed a GPU), never more than the videos."""
        wanted = self.options.decode_workers or (1 if self.device.type == "cpu" else 4)
        return max(1, min(wanted, videos))

    # -- main loop

    def run(
        self,
        items: Sequence[VideoItem],
        *,
        infos: dict[str, VideoInfo | None] | None = None,
        on_video_done: Callable[[VideoItem], None] | None = None,
    ) -> list[Record]:
        """Score ``items``; returns the records written by this call (resumed ones excluded).

        With several ranks, each scores its shard of the videos. Set-level dimensions are
        only prepared here (per-video features saved in the run folder); :meth:`score_sets`
        scores them in one pass after the run, on rank 0 once every rank is done
        (:func:`vbench_cn.api.evaluate` places the barrier).
        """
        with run_lock(self.options.out_dir, self.options.rank):
            return self._run(items, infos=infos, on_video_done=on_video_done)

    def _run(
        self,
        items: Sequence[VideoItem],
        *,
        infos: dict[str, VideoInfo | None] | None,
        on_video_done: Callable[[VideoItem], None] | None,
    ) -> list[Record]:
        t_start = time.perf_counter()
        self.rescored = Counter()
        self._save_runtime()
        infos = infos or {}
        items = self.shard(items)
        writer = RecordWriter(shard_path(self.options.out_dir, self.options.rank))
        if self.options.retry_errors:
            writer.done = {k for k in writer.done if k not in self._error_keys()}
        written: list[Record] = []
        jobs: list[_Job] = []
        progress: Any = _NullProgress()
        prefetchers: list[_Prefetcher] = []
        finished = False
        try:
            plan = self._plan(items, infos, writer)
            self._say_rescored()
            self._build_all(plan)  # every model before the first video: setup fails here, once
            progress = _progress(len(items), enabled=self.options.progress)
            for _ in range(len(items) - len(plan)):
                progress.advance()
            workers = self.decode_workers(len(plan))
            queue_bytes = self.options.decode_queue_bytes or DECODE_QUEUE_BYTES
            prefetchers = [
                _Prefetcher(
                    plan[k::workers],
                    self.options.chunk_frames,
                    self.profile,
                    max_bytes=max(CHUNK_BYTES, queue_bytes // workers),
                    views=self.views(self.specs),
                )
                for k in range(workers)
            ]
            with _StopSignal() as stop:
                order = PlanOrder(
                    [p.events(stop=lambda: stop.requested) for p in prefetchers],
                    len(plan),
                    stopped=lambda: stop.requested,
                )
                for event in order:
                    self._on_event(event, jobs)
                    if event[0] == "end":
                        if len(jobs) >= self.options.max_pending_videos:
                            self._flush_all()
                        jobs = self._finish_ready(jobs, writer, written, progress, on_video_done)
                if stop.requested:  # finish the videos already decoded, then leave
                    for prefetcher in prefetchers:
                        prefetcher.close()
                    for event in order.resume([p.drain() for p in prefetchers]):
                        self._on_event(event, jobs)
                    raise KeyboardInterrupt("SIGTERM")
                for job in jobs:  # the decode thread stopped without ending these
                    if not job.decoded:
                        job.decoded = True
                        job.decode_error = job.decode_error or "decoding stopped before the end"
                self._flush_all()
                jobs = self._finish_ready(jobs, writer, written, progress, on_video_done)
                assert not jobs, "every job must finish once all batches are flushed"
                finished = True
        except DeviceFailure:
            finished = True  # nothing more runs on a poisoned device; a re-run resumes
            raise
        finally:
            for prefetcher in prefetchers:
                prefetcher.close()
            if not finished:  # interrupted or failed: write what is finished before leaving
                self._save_finished(jobs, writer, written, progress, on_video_done)
            progress.close()
            writer.close()
        self.profile.wall_seconds += time.perf_counter() - t_start
        return written

    def _plan(
        self,
        items: Sequence[VideoItem],
        infos: dict[str, VideoInfo | None],
        writer: RecordWriter,
    ) -> list[tuple[VideoItem, list[DimensionSpec], list[DimensionSpec]]]:
        """Per video, the dimensions to score: unrecorded, or recorded from other inputs."""
        video_specs = [s for s in self.specs if s.level == "video"]
        set_specs = [s for s in self.specs if s.level == "set"]
        plan: list[tuple[VideoItem, list[DimensionSpec], list[DimensionSpec]]] = []
        memo: dict[Any, str | None] = {}
        for item in items:
            info = infos.get(item.path)
            probe = info.to_dict() if info is not None else None
            todo = [
                s
                for s in video_specs
                if self.applies(s, item) and self._needs_scoring(writer, item, s, probe, memo)
            ]
            todo_set = [
                s
                for s in set_specs
                if self.applies(s, item) and not self._set_features_valid(s, item)
            ]
            if todo or todo_set:
                plan.append((item, todo, todo_set))
        return plan

    def _needs_scoring(
        self,
        writer: RecordWriter,
        item: VideoItem,
        spec: DimensionSpec,
        probe: dict[str, Any] | None,
        memo: dict[Any, str | None],
    ) -> bool:
        """True unless a record of (video, dimension) exists whose inputs all still hold."""
        key = (item.model, item.rel_path, spec.id, spec.version)
        record = writer.records.get(key)
        if key not in writer or record is None:
            return True
        expected = self.expect.expected(spec, item, self.backbone_for(spec, item))
        reasons = changes(record, expected, path=item.path, probe=probe, memo=memo)
        if reasons:
            self.rescored[reasons[0]] += 1
        return bool(reasons)

    def _say(self, message: str) -> None:
        """A status line on stderr (when progress is shown): what the run is doing and why."""
        if self.options.progress:
            print(message, file=sys.stderr, flush=True)

    def _say_rescored(self) -> None:
        """Why records are scored again (always said: a silent rescore looks like a bug)."""
        if self.rescored:
            reasons = ", ".join(f"{why} ({n})" for why, n in self.rescored.most_common())
            print(
                f"scoring again {sum(self.rescored.values())} records whose inputs changed: "
                f"{reasons}",
                file=sys.stderr,
                flush=True,
            )

    def _build_all(
        self, plan: Sequence[tuple[VideoItem, list[DimensionSpec], list[DimensionSpec]]]
    ) -> None:
        """Build every backbone the plan needs, saying which, before any video is decoded.

        Raises:
            SetupError: a backbone cannot be built (missing checkpoint, library, device).
        """
        needed: dict[str, str] = {}
        for item, todo, todo_set in plan:
            for spec in todo + todo_set:
                needed.setdefault(self.backbone_for(spec, item), spec.id)
        for name, dimension in sorted(needed.items()):
            if name in self._extractors:
                continue
            self._say(f"building {name} (for {dimension}) on {self.device} ...")
            t0 = time.perf_counter()
            try:
                self.extractor(name)
            except Exception as exc:
                cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise SetupError(
                    f"backbone {name} (for {dimension}) cannot be built: {cause}"
                ) from None
            if time.perf_counter() - t0 > 1.0:
                self._say(f"built {name} in {time.perf_counter() - t0:.1f} s")

    def score_sets(self, items: Sequence[VideoItem]) -> list[Record]:
        """The set-level pass after the run: score set-level dimensions on every rank's saved
        features (rank 0, after a barrier; ``items``: all of the run's videos)."""
        set_specs = [s for s in self.specs if s.level == "set"]
        if not set_specs:
            return []
        with (
            run_lock(self.options.out_dir, self.options.rank),
            RecordWriter(shard_path(self.options.out_dir, self.options.rank)) as writer,
        ):
            return self._score_sets(set_specs, items, writer)

    def _error_keys(self) -> set[tuple[Any, ...]]:
        from vbench_cn.results import read_records

        return {
            record_key(r) for r in read_records(self.options.out_dir) if r.get("status") == "error"
        }

    def _on_event(self, event: tuple[Any, ...], jobs: list[_Job]) -> None:
        """Apply one decode event to the video in flight (the last of ``jobs``).

        Every step is guarded: a failure is recorded on the video (or one of its groups)
        and the run goes on with the next event.
        """
        kind = event[0]
        if kind == "open":
            _, (item, todo, todo_set), opened, source = event
            try:
                job = self._start_job(item, todo, todo_set, opened)
            except DeviceFailure:
                raise
            except Exception as exc:
                log.debug("planning %s failed", item.path, exc_info=exc)
                failure = VideoError(f"{item.path}: planning failed ({_one_line(exc)})")
                job = self._start_job(item, todo, todo_set, failure)
            job.source = source
            jobs.append(job)
            return
        job = jobs[-1]
        if kind == "chunk":
            _, view, idx_chunk, frames = event
            on_device: torch.Tensor | None = None  # uploaded once, shared
            for group in job.groups:
                ext = group.extractor
                if ext is None or group.skip is not None or group.error is not None:
                    continue
                if ext.decode_size != view:
                    continue
                try:
                    if ext.host_prepare:
                        self._feed(group, idx_chunk, frames, job.info)  # type: ignore[arg-type]
                        continue
                    if on_device is None:
                        on_device = self.uploader.upload(frames)
                    self._feed(group, idx_chunk, on_device, job.info)  # type: ignore[arg-type]
                except DeviceFailure:  # a poisoned context stops the run (it resumes)
                    raise
                except Exception as exc:
                    log.debug("feeding %s failed", ext.name, exc_info=exc)
                    group.error = f"{ext.name}: {_one_line(exc)}"
            return
        _, error, note = event  # "end"
        if error is not None and job.error is None:
            job.decode_error = error
        job.note = note
        for group in job.groups:  # the last carry never forms a new item
            group.carry = None
        job.decoded = True

    def _save_finished(
        self,
        jobs: list[_Job],
        writer: RecordWriter,
        written: list[Record],
        progress: Any,
        on_video_done: Callable[[VideoItem], None] | None,
    ) -> None:
        """On the way out of a failed or interrupted run: score and write every decoded video.

        Items of videos still decoding are dropped from the batchers (a resumed run scores
        those videos again); the rest run, so nothing already decoded is lost.
        """
        unfinished = {id(g) for job in jobs if not job.decoded for g in job.groups}
        try:
            for batcher in self._batchers.values():
                batcher.discard(unfinished)
            self._flush_all()
            left = self._finish_ready(jobs, writer, written, progress, on_video_done)
        except BaseException as exc:  # a second interrupt: leave with what is written
            log.warning("could not write every finished video on exit: %s", _one_line(exc))
            return
        if left:
            log.warning("%d videos in flight were not written; a re-run scores them", len(left))

    def _start_job(
        self,
        item: VideoItem,
        todo: list[DimensionSpec],
        todo_set: list[DimensionSpec],
        opened: VideoReader | VideoError,
    ) -> _Job:
        job = _Job(item=item, info=None, groups=[], started=time.perf_counter())
        if isinstance(opened, VideoError):
            job.error = str(opened)
            job.groups = [_Group(extractor=None, indices=np.zeros(0, np.int64), specs=todo)]  # type: ignore[arg-type]
            return job
        job.info = opened.info
        by_key: dict[tuple[str, str], list[DimensionSpec]] = defaultdict(list)
        for spec in todo + todo_set:
            by_key[(self.backbone_for(spec, item), spec.sampling.key)].append(spec)
        for (backbone, _), specs in by_key.items():
            try:
                ext = self.extractor(backbone)
            except Exception as exc:  # a model that cannot be built fails its dims, not the run
                if is_poisoned_context(exc):
                    raise device_failure(exc, where=f"building {backbone}") from exc
                job.groups.append(
                    _Group(
                        extractor=None,
                        indices=np.zeros(0, np.int64),
                        specs=specs,  # type: ignore[arg-type]
                        error=f"{backbone}: {exc}",
                    )
                )
                continue
            skip = ext.input_problem(opened.info)
            if skip is not None:  # e.g. a 4000x16 video, whose resized input would explode
                job.groups.append(
                    _Group(extractor=ext, indices=np.zeros(0, np.int64), specs=specs, skip=skip)
                )
                continue
            try:
                idx = specs[0].sampling.indices(
                    opened.info.num_frames, opened.timestamps, opened.info.fps
                )
            except Exception as exc:  # a sampling beyond the allocation limit
                job.groups.append(
                    _Group(
                        extractor=ext,
                        indices=np.zeros(0, np.int64),
                        specs=specs,
                        error=f"{item.path}: sampling {specs[0].sampling.key}: {_one_line(exc)}",
                    )
                )
                continue
            times = clip_fractions(np.asarray(opened.timestamps), idx)
            job.groups.append(_Group(extractor=ext, indices=idx, specs=specs, times=times))
        return job

    def _feed(
        self, group: _Group, idx_chunk: np.ndarray, frames: torch.Tensor, info: VideoInfo
    ) -> None:
        if group.error is not None:
            return
        end = int(np.searchsorted(group.indices, idx_chunk[-1], side="right"))
        if end <= group.cursor:
            return
        wanted = group.indices[group.cursor : end]
        sel = _select(frames, np.searchsorted(idx_chunk, wanted))
        position = group.cursor
        if group.carry is not None:
            sel = torch.cat([group.carry, sel])
            position -= group.carry.shape[0]
        group.cursor = end
        ext = group.extractor
        t0 = time.perf_counter()
        try:
            items = ext.prepare(sel, position=position, info=info)
        except Exception as exc:
            if is_poisoned_context(exc):
                raise device_failure(exc, where=f"{ext.name} preprocessing") from exc
            group.error = f"{ext.name} preprocessing failed: {type(exc).__name__}: {exc}"[:300]
            return
        finally:
            self.profile.prepare_seconds[ext.name] += time.perf_counter() - t0
        self.profile.frames[ext.name] += int(
            sel.shape[0] - (0 if group.carry is None else group.carry.shape[0])
        )
        # clone: a view would keep the whole chunk alive until the next one
        group.carry = sel[-ext.overlap :].clone() if ext.overlap > 0 else None
        if items is not None and items.shape[0] > 0:
            self._batchers[ext.name].add(group, items)

    def _flush_all(self) -> None:
        for batcher in self._batchers.values():
            batcher.flush()

    def _finish_ready(
        self,
        jobs: list[_Job],
        writer: RecordWriter,
        written: list[Record],
        progress: Any,
        on_video_done: Callable[[VideoItem], None] | None,
    ) -> list[_Job]:
        remaining = []
        for job in jobs:
            if not job.decoded or any(g.pending for g in job.groups):
                remaining.append(job)
                continue
            t0 = time.perf_counter()
            try:
                recs = self._score_job(job)
            except DeviceFailure:
                raise
            except Exception as exc:  # never lose the run over one video's scoring
                log.debug("scoring %s failed", job.item.path, exc_info=exc)
                recs = self._failed_records(job, f"scoring failed: {_one_line(exc)}")
            self.profile.score_seconds += time.perf_counter() - t0
            for rec in recs:
                writer.write(rec)
            written.extend(recs)
            self.profile.videos += 1
            progress.advance()
            if on_video_done:
                on_video_done(job.item)
        return remaining

    # -- scoring

    def _base(
        self,
        item: VideoItem,
        spec: DimensionSpec,
        info: VideoInfo | None,
        ext: FeatureExtractor | None,
        source: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        backbone = self.backbone_for(spec, item)
        expected = self.expect.expected(spec, item, backbone)
        return dict(
            model=item.model,
            video=item.rel_path,
            prompt_id=item.prompt_id,
            prompt_lang=item.prompt.lang if item.prompt else None,
            sample=item.sample,
            dimension=spec.id,
            dimension_version=spec.version,
            spec_sha256=spec.sha256,
            level="video",
            weights=ext.weights_id if ext else expected["weights"],
            random_weights=self.options.random_weights,
            probe=info.to_dict() if info else None,
            source=source,
            inputs=expected["inputs"],
            suite_version=__version__,
        )

    def _score_job(self, job: _Job) -> list[Record]:
        item, info = job.item, job.info
        elapsed = time.perf_counter() - job.started
        records: list[Record] = []
        for group in job.groups:
            specs = [s for s in group.specs if s.level == "video"]
            reads_frames = len(group.indices) > 0
            # A decoding failure fails what reads frames; the probe's dimensions still score.
            error = job.error or group.error or (job.decode_error if reads_frames else None)
            seconds = elapsed / max(1, len(specs))
            if error is None and group.skip is not None:
                for spec in specs:
                    base = self._base(item, spec, info, group.extractor, job.source)
                    records.append(
                        make_record(**base, status="skipped", error=group.skip, seconds=seconds)
                    )
                continue
            if not specs and all(s.level == "set" for s in group.specs) and error is None:
                self._save_set_features(group, item, info, source=job.source)
                continue
            feats: Any = None
            if error is None:
                try:
                    feats = group.extractor.finalize(group.stacked_outputs(), info=info)
                except Exception as exc:
                    if is_poisoned_context(exc):
                        raise device_failure(exc, where=f"{group.extractor.name}") from exc
                    error = f"{group.extractor.name} failed: {type(exc).__name__}: {exc}"[:300]
            for spec in specs:
                base = self._base(item, spec, info, group.extractor, job.source)
                if error is not None:
                    rec = make_record(**base, status="error", error=error, seconds=seconds)
                else:
                    rec = self._apply_scorer(
                        spec, feats, item, info, group.extractor, base, seconds, times=group.times
                    )
                if job.note is not None and reads_frames:
                    rec["details"] = {**rec["details"], "truncated": job.note}
                records.append(rec)
            if any(s.level == "set" for s in group.specs) and error is None:
                self._save_set_features(group, item, info, feats=feats, source=job.source)
        return records

    def _failed_records(self, job: _Job, error: str) -> list[Record]:
        """One error record per video-level dimension of ``job`` (scoring itself crashed)."""
        return [
            make_record(
                **self._base(job.item, spec, job.info, group.extractor, job.source),
                status="error",
                error=error,
            )
            for group in job.groups
            for spec in group.specs
            if spec.level == "video"
        ]

    def _apply_scorer(
        self,
        spec: DimensionSpec,
        feats: Any,
        item: VideoItem,
        info: VideoInfo | None,
        ext: FeatureExtractor,
        base: dict[str, Any],
        seconds: float,
        times: np.ndarray | None = None,
    ) -> Record:
        entry = get_scorer(spec.scorer)
        kwargs: dict[str, Any] = dict(spec.params)
        try:
            if "video" in entry.context:
                kwargs["video"] = info
            if "prompt" in entry.context:
                kwargs["prompt"] = item.prompt
            if "frame_times" in entry.context:
                kwargs["frame_times"] = torch.from_numpy(
                    np.asarray(times if times is not None else [], dtype=np.float32)
                )
            if "text_features" in entry.context:
                kwargs["text_features"] = self._text_features(spec, item, ext)
            score: Score = entry.fn(feats, **kwargs)
        except NotApplicable as exc:
            return make_record(**base, status="skipped", error=str(exc), seconds=seconds)
        except Exception as exc:
            if is_poisoned_context(exc):
                raise device_failure(exc, where=spec.scorer) from exc
            log.debug("scorer failed", exc_info=exc)
            return make_record(
                **base,
                status="error",
                error=f"{spec.scorer}: {type(exc).__name__}: {exc}"[:300],
                seconds=seconds,
            )
        return make_record(
            **base, score=float(score.value), details=dict(score.details), seconds=seconds
        )

    def _text_features(
        self, spec: DimensionSpec, item: VideoItem, ext: FeatureExtractor
    ) -> torch.Tensor:
        lang = item.prompt.lang if item.prompt else "en"
        if ext.text_langs is not None and lang not in ext.text_langs:
            lang = ext.text_langs[0]  # e.g. OWLv2 reads English: the English twin of the name
        text = prompt_text_field(spec.text or "prompt", item, lang=lang)
        texts = [text] if isinstance(text, str) else text  # a list field: one row per element
        key = (ext.name, lang, "\x1f".join(texts))
        if key not in self._text_cache:
            with torch.inference_mode():
                self._text_cache[key] = ext.encode_text(texts, lang=lang).float().cpu()
        return self._text_cache[key]

    # -- set-level dimensions (fidelity)

    def _set_feature_path(self, spec: DimensionSpec, item: VideoItem) -> Path:
        digest = hashlib.sha1(f"{item.model}/{item.rel_path}".encode()).hexdigest()[:16]
        return (
            Path(self.options.out_dir)
            / "features"
            / spec.id
            / _safe(item.model)
            / f"{digest}.safetensors"
        )

    def _set_features_valid(self, spec: DimensionSpec, item: VideoItem) -> bool:
        """Whether this video's saved features for a set-level dimension still hold.

        They carry the video file's identity, the weights and the spec they came from; a
        regenerated video or other weights mean extracting them again.
        """
        path = self._set_feature_path(spec, item)
        if not path.is_file():
            return False
        meta = _feature_metadata(path)
        try:
            source = json.loads(meta.get("source") or "null")
        except ValueError:
            return False
        return (
            file_changed(source, item.path) is None
            and meta.get("weights") == str(self.expect.weights(spec.backbone))
            and meta.get("spec") == spec.sha256
        )

    def _save_set_features(
        self,
        group: _Group,
        item: VideoItem,
        info: VideoInfo | None,
        feats: Any = None,
        source: dict[str, Any] | None = None,
    ) -> None:
        from safetensors.torch import save_file

        if feats is None:
            feats = group.extractor.finalize(group.stacked_outputs(), info=info)
        for spec in group.specs:
            if spec.level != "set" or not isinstance(feats, torch.Tensor) or feats.numel() == 0:
                continue
            path = self._set_feature_path(spec, item)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            meta = {
                "source": json.dumps(source, sort_keys=True),
                "weights": str(group.extractor.weights_id),
                "spec": spec.sha256,
            }
            save_file({"features": feats.contiguous().float()}, str(tmp), metadata=meta)
            os.replace(tmp, path)

    def _score_sets(
        self, specs: Sequence[DimensionSpec], items: Sequence[VideoItem], writer: RecordWriter
    ) -> list[Record]:
        from safetensors.torch import load_file

        records: list[Record] = []
        models = sorted({it.model for it in items})
        for spec in specs:
            entry = get_scorer(spec.scorer)
            for model in models:
                folder = Path(self.options.out_dir) / "features" / spec.id / _safe(model)
                files = sorted(folder.glob("*.safetensors"))
                expected = self.expect.expected(spec, None, spec.backbone)
                expected["inputs"]["reference"] = self.options.reference
                expected["inputs"]["videos"] = digest(
                    [[p.name, _feature_metadata(p).get("source")] for p in files]
                )
                key = (model, None, spec.id, spec.version)
                stored = writer.records.get(key)
                if key in writer and stored is not None:
                    reasons = changes(stored, expected)
                    if not reasons:
                        continue
                    self.rescored[reasons[0]] += 1
                feats = [load_file(str(p))["features"] for p in files]
                ext = self._extractors.get(spec.backbone or "")
                base = dict(
                    model=model,
                    video=None,
                    prompt_id=None,
                    prompt_lang=None,
                    sample=None,
                    dimension=spec.id,
                    dimension_version=spec.version,
                    spec_sha256=spec.sha256,
                    level="set",
                    weights=ext.weights_id if ext else expected["weights"],
                    random_weights=self.options.random_weights,
                    probe=None,
                    inputs=expected["inputs"],
                    suite_version=__version__,
                )
                t0 = time.perf_counter()
                try:
                    kwargs: dict[str, Any] = dict(spec.params)
                    if "reference" in entry.context:
                        # The run's detector id, so that statistics of other weights are refused.
                        run_weights = base["weights"] or (
                            "random" if self.options.random_weights else None
                        )
                        kwargs["reference"] = load_reference_for(
                            spec, self.options.reference, weights_id=run_weights
                        )
                    score = entry.fn(feats, **kwargs)
                    rec = make_record(
                        **base,
                        score=float(score.value),
                        details=dict(score.details),
                        seconds=time.perf_counter() - t0,
                    )
                except NotApplicable as exc:
                    rec = make_record(**base, status="skipped", error=str(exc))
                except Exception as exc:
                    rec = make_record(
                        **base,
                        status="error",
                        error=f"{spec.scorer}: {type(exc).__name__}: {exc}"[:300],
                    )
                writer.write(rec)
                records.append(rec)
        return records


#: Free device memory the extractors' default batch sizes are tuned for.
BATCH_REFERENCE_FREE_BYTES = 10 * 1024**3


def scaled_batch_size(base: int, device: torch.device, free_bytes: int | None = None) -> int:
    """Batch size from free accelerator memory: ``base`` at 10 GiB free, linear, 1/4×–4×.

    On CPU the base is kept (the runner uses the extractor's ``cpu_batch_size`` there).
    Out-of-memory still halves it at run time, so this is a starting point, not a promise.

    Example:
        >>> scaled_batch_size(32, torch.device("cuda"), free_bytes=40 * 1024**3)
        128
        >>> scaled_batch_size(32, torch.device("cpu"))
        32
    """
    if device.type != "cuda":
        return base
    if free_bytes is None:
        free_bytes, _ = torch.cuda.mem_get_info(device)
    factor = min(4.0, max(0.25, free_bytes / BATCH_REFERENCE_FREE_BYTES))
    return max(1, int(base * factor))


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


def _select(frames: torch.Tensor, positions: np.ndarray) -> torch.Tensor:
    """``frames[positions]``, as a strided view (no copy) when positions are evenly spaced.

    A dimension sampled at 1 fps out of a 2-fps union takes every other decoded frame: a
    view instead of an index copy per chunk and per group (tens of MB at 1080p).
    """
    if len(positions) == 0:
        return frames[:0]
    step = int(positions[1] - positions[0]) if len(positions) > 1 else 1
    if step > 0 and np.array_equal(positions, positions[0] + step * np.arange(len(positions))):
        return frames[int(positions[0]) : int(positions[-1]) + 1 : step]
    return frames[torch.as_tensor(positions, device=frames.device)]


def prompt_text_field(
    field_name: str, item: VideoItem, *, lang: str | None = None
) -> str | list[str]:
    """The text a semantic dimension embeds: ``prompt`` or ``meta.<key>`` (bilingual dicts by lang).

    A list in the metadata (``meta.events``: ordered ``[{"en", "zh"}]``) gives one text per
    element, in order; the scorer's ``text_features`` then has one row per element. A
    dotted key walks nested metadata (``meta.motion.objects``: each object's name).
    ``lang`` picks the language of bilingual texts (default: the prompt's); the prompt text
    itself is only ever given in its own language.
    """
    if item.prompt is None:
        raise NotApplicable("no prompt known for this video")
    lang = lang or item.prompt.lang
    if field_name == "prompt":
        if not item.prompt.text:
            raise NotApplicable("empty prompt")
        if lang != item.prompt.lang:
            raise NotApplicable(f"the prompt is in {item.prompt.lang}, the model reads {lang}")
        return item.prompt.text
    key = field_name.removeprefix("meta.")
    value: Any = item.prompt.meta
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, (list, tuple)):
        texts = [_in_lang(v, lang) for v in value]
        if not texts or not all(texts):
            raise NotApplicable(f"prompt has no {key!r} metadata")
        return texts
    value = _in_lang(value, lang)
    if not value:
        raise NotApplicable(f"prompt has no {key!r} metadata")
    return value


def _in_lang(value: Any, lang: str) -> str:
    """A metadata text in ``lang``: bilingual dicts by language (English fallback), else ``str``."""
    if isinstance(value, dict):
        value = value.get(lang) or value.get("en")
    return str(value) if value else ""


def _feature_metadata(path: Path) -> dict[str, str]:
    """The metadata a saved feature file carries (empty when unreadable or absent)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as fh:
            return dict(fh.metadata() or {})
    except Exception:  # a torn or foreign file: treated as absent, extracted again
        return {}


def clip_fractions(timestamps: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Where each sampled frame lies in the clip: 0 at the first frame, 1 at the last.

    From presentation timestamps, so variable frame rates are placed by real time.

    Example:
        >>> clip_fractions(np.array([0.0, 0.5, 1.0, 2.0]), np.array([0, 2, 3])).tolist()
        [0.0, 0.5, 1.0]
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    if len(ts) < 2 or ts[-1] <= ts[0]:
        return np.zeros(len(indices))
    return np.clip((ts[np.asarray(indices, dtype=np.int64)] - ts[0]) / (ts[-1] - ts[0]), 0, 1)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"


class _NullProgress:
    def advance(self) -> None:
        pass

    def close(self) -> None:
        pass


class _RichProgress:
    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._p = Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._start = time.perf_counter()
        self._done = 0
        self._task = self._p.add_task("videos", total=total, rate="")
        self._p.start()

    def advance(self) -> None:
        self._done += 1
        rate = self._done / max(1e-9, time.perf_counter() - self._start)
        self._p.update(self._task, advance=1, rate=f"{rate:.2f} videos/s")

    def close(self) -> None:
        self._p.stop()


def _progress(total: int, *, enabled: bool) -> Any:
    return _RichProgress(total) if enabled and total > 0 else _NullProgress()


def probe_all(
    items: Iterable[VideoItem], workers: int | None = None
) -> tuple[dict[str, VideoInfo | None], dict[str, str]]:
    """Probe every video: infos by path, and one-line errors for those that cannot be read.

    ``workers`` threads probe at once (default: up to 8, one per core): opening a container
    waits on the disk and FFmpeg's stream probe, both outside the GIL.
    """
    from concurrent.futures import ThreadPoolExecutor

    items = list(items)
    workers = workers or min(8, os.cpu_count() or 1, max(1, len(items)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vbench-cn-probe") as pool:
        results = list(pool.map(_probe_one, items))
    infos = {item.path: info for item, (info, _) in zip(items, results, strict=True)}
    errors = {item.path: err for item, (_, err) in zip(items, results, strict=True) if err}
    return infos, errors


def _probe_one(item: VideoItem) -> tuple[VideoInfo | None, str | None]:
    """One video's probe, or its one-line error."""
    try:
        return VideoReader(item.path).info, None
    except VideoError as exc:
        return None, str(exc)
    except Exception as exc:  # any other failure is this video's, not the run's
        return None, f"{item.path}: probe crashed ({_one_line(exc)})"


def _file_size(path: str) -> int:
    """Bytes of ``path`` (0 when it cannot be read: its probe will say why)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def print_profile(profile: Profile, file: Any = sys.stderr) -> None:
    """A short table of where the time went, on stderr."""
    from rich.console import Console
    from rich.table import Table

    s = profile.summary()
    table = Table(
        title=f"profile: {s['wall_s']} s wall, {s['videos']} videos, decode {s['decode_s']} s, "
        f"(background), waiting for frames {s['wait_for_decode_s']} s, score {s['score_s']} s, "
        f"other {s['other_s']} s"
    )
    for col in (
        "extractor",
        "frames",
        "batches",
        "forward_s",
        "prepare_s",
        "frames_per_s",
        "forward_share",
    ):
        table.add_column(col)
    for row in s["extractors"]:
        table.add_row(
            *(
                str(row[c])
                for c in (
                    "extractor",
                    "frames",
                    "batches",
                    "forward_s",
                    "prepare_s",
                    "frames_per_s",
                    "forward_share",
                )
            )
        )
    Console(file=file).print(table)
