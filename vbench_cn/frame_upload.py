"""Decoded uint8 chunks onto the device, once per chunk, for every extractor of the video.

The runner hands one uploaded chunk to each extractor that prepares on the device (float
conversion, resizing, normalisation, pairs and triplets then run there); extractors whose
preparation is host code (``host_prepare``) keep reading the decoded host chunk. Frames
cross the bus as uint8, once, instead of as float items per extractor (4x the bytes each).
"""

from __future__ import annotations

import logging

import torch

from vbench_cn.device_errors import device_failure, is_out_of_memory, is_poisoned_context

log = logging.getLogger(__name__)


class FrameUploader:
    """Copies host chunks to ``device``: pinned, non-blocking, on a copy stream (CUDA).

    The copy is queued on a stream of its own and the current stream is made to wait for
    it, so the host thread goes on (decoding, preparing) while the bytes move; the device
    tensor is tied to the current stream (``record_stream``) so that the allocator does not
    reuse it before the work reading it is done. On the CPU it returns its input as is: the
    CPU path is the same code, with no copy.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.uploads = 0  # chunks copied (not counting ones already on the device)
        self.fallbacks = 0  # chunks left on the host because the device was out of memory
        self._stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def upload(self, frames: torch.Tensor) -> torch.Tensor:
        """``frames`` on the device (the same tensor when it is already there: NVDEC's chunks).

        Out of device memory, the chunk stays on the host: its extractors prepare it there
        and the batcher copies their items, as for host-prepared ones. A poisoned CUDA context
        raises :class:`~vbench_cn.device_errors.DeviceFailure` (the run stops, resumable).
        """
        if same_device(frames.device, self.device):
            return frames
        if frames.device.type != "cpu":  # decoded on another device: no host round trip
            return frames.to(self.device, non_blocking=True)
        try:
            out = self._copy(frames)
        except Exception as exc:
            if is_poisoned_context(exc):
                raise device_failure(exc, where="uploading frames") from exc
            if not is_out_of_memory(exc):
                raise
            self.fallbacks += 1
            log.warning("out of device memory for a decoded chunk; preparing it on the host")
            return frames
        self.uploads += 1
        return out

    def _copy(self, frames: torch.Tensor) -> torch.Tensor:
        if self._stream is None:  # another accelerator type, or meta in tests
            return frames.to(self.device)
        host = pinned(frames)
        with torch.cuda.stream(self._stream):
            out = host.to(self.device, non_blocking=True)
        consumer = torch.cuda.current_stream(self.device)
        consumer.wait_stream(self._stream)
        out.record_stream(consumer)
        return out


def pinned(frames: torch.Tensor) -> torch.Tensor:
    """``frames`` in page-locked memory, or as they are when pinned memory runs out (the copy
    is then a synchronous one from pageable memory: slower, same bytes)."""
    if frames.is_pinned():
        return frames
    try:
        return frames.pin_memory()
    except RuntimeError as exc:
        if not is_out_of_memory(exc):
            raise
        log.warning("out of pinned host memory; copying a chunk from pageable memory")
        return frames


def same_device(a: torch.device, b: torch.device) -> bool:
    """Whether ``a`` and ``b`` are one device; ``cuda`` without an index is the current GPU
    (the process's own, :mod:`vbench_cn.device_setup`), so ``cuda`` and ``cuda:0`` can be one.

    Example:
        >>> same_device(torch.device("cpu"), torch.device("cpu", 0))
        True
        >>> same_device(torch.device("cpu"), torch.device("meta"))
        False
    """
    if a.type != b.type:
        return False
    if a.index == b.index or a.type != "cuda":
        return True
    current = torch.cuda.current_device()
    return (current if a.index is None else a.index) == (current if b.index is None else b.index)
