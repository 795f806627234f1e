"""Batching across videos: per-extractor batchers, out-of-memory back-off, autocast,
batch sizes from free memory, and the per-(video, extractor) group state.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vbench_cn.device_errors import (
    DeviceFailure,
    device_failure,
    is_out_of_memory,
    is_poisoned_context,
)
from vbench_cn.features import FeatureExtractor
from vbench_cn.runner.decode import one_line
from vbench_cn.runner.progress import Profile
from vbench_cn.runner.transfer import READY, HostCopies, Ready
from vbench_cn.specs import DimensionSpec

log = logging.getLogger(__name__)


@dataclass
class Group:
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


class Batcher:
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
        self.queue: list[tuple[Group, int, torch.Tensor]] = []
        self.queued_items = 0
        self._fits = 0  # batches that fitted since the last halving

    def add(self, group: Group, tensor: torch.Tensor) -> None:
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
        by_key: dict[tuple[Any, ...], list[tuple[Group, int, torch.Tensor]]] = defaultdict(list)
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
        self, entries: list[tuple[Group, int, torch.Tensor]], outs: torch.Tensor, ready: Ready
    ) -> None:
        start = 0
        for group, slot, tensor in entries:
            n = tensor.shape[0]
            group.outputs[slot] = outs[start : start + n]  # valid once ``ready`` is waited for
            group.ready.append(ready)
            group.pending -= 1
            start += n

    def _fail(self, group: Group, exc: Exception) -> None:
        log.debug("forward failed", exc_info=exc)
        group.error = f"{self.extractor.name} failed: {one_line(exc)}"
        for i, out in enumerate(group.outputs):
            if out is None:
                group.outputs[i] = torch.zeros(0)
        group.pending = 0

    def _forward_all(self, items: torch.Tensor) -> tuple[torch.Tensor, Ready]:
        """Forward in chunks of the current batch size; out of memory halves it and retries.

        The outputs stay on the device until the last chunk, then come back in one
        non-blocking copy (:class:`vbench_cn.runner.transfer.HostCopies`): ``(host, ready)``.
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
                with torch.inference_mode(), autocast_for(self.extractor):
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


def _device_span(device: torch.device) -> tuple[Any, Any] | None:
    """A (start, end) pair of timing events on CUDA, the start recorded; None elsewhere."""
    if device.type != "cuda":
        return None
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    return start, end


def autocast_for(extractor: FeatureExtractor) -> Any:
    if extractor.device.type == "cuda" and extractor.options.amp and extractor.amp_ok:
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast("cpu", enabled=False)


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


def select_frames(frames: torch.Tensor, positions: np.ndarray) -> torch.Tensor:
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
