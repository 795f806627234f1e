"""What an exception raised by accelerator work means: retry smaller, or stop the run.

Two kinds matter to the runner:

* **Out of memory.** PyTorch raises :class:`torch.OutOfMemoryError` when its caching
  allocator fails, but cuBLAS workspace, cuDNN workspace and pinned-host allocations fail
  as plain :class:`RuntimeError` whose message names the cause
  (``CUBLAS_STATUS_ALLOC_FAILED``, ``CUDNN_STATUS_NOT_ENOUGH_WORKSPACE``, ``CUDA error: out
  of memory``). All of them go away with a smaller batch.
* **A poisoned context.** After a device-side assert or an illegal memory access, every
  later CUDA call on the process fails with the same error. Scoring on would write an error
  record for every remaining video; the run must stop instead, keep what it wrote, and be
  resumed in a fresh process (:class:`DeviceFailure`).
"""

from __future__ import annotations

import torch

#: Message fragments of out-of-memory failures that are not :class:`torch.OutOfMemoryError`.
OUT_OF_MEMORY_MARKERS: tuple[str, ...] = (
    "out of memory",
    "CUBLAS_STATUS_ALLOC_FAILED",
    "CUDNN_STATUS_NOT_ENOUGH_WORKSPACE",
    "CUDNN_STATUS_ALLOC_FAILED",
    "cudaErrorMemoryAllocation",
)

#: Message fragments of CUDA errors after which the process's context is unusable.
POISONED_CONTEXT_MARKERS: tuple[str, ...] = (
    "device-side assert triggered",
    "an illegal memory access was encountered",
    "an illegal instruction was encountered",
    "misaligned address",
    "unspecified launch failure",
    "uncorrectable ECC error",
    "CUDA error: unknown error",
)


class DeviceFailure(RuntimeError):
    """The accelerator's context is poisoned: the run stops, records written so far are kept.

    The runner lets it through every per-video guard; the CLI turns it into a non-zero exit
    with a line saying to rerun the same command, which resumes after the last record.
    """


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure that a smaller batch can avoid.

    Example:
        >>> is_out_of_memory(RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling"))
        True
        >>> is_out_of_memory(ValueError("out of memory"))
        False
    """
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    if not isinstance(exc, RuntimeError) or is_poisoned_context(exc):
        return False
    message = str(exc)
    return any(marker in message for marker in OUT_OF_MEMORY_MARKERS)


def is_poisoned_context(exc: BaseException) -> bool:
    """Whether ``exc`` leaves the CUDA context unusable (device-side assert, illegal access).

    Example:
        >>> is_poisoned_context(RuntimeError("CUDA error: device-side assert triggered"))
        True
    """
    if isinstance(exc, DeviceFailure):
        return True
    if not isinstance(exc, RuntimeError):
        return False
    message = str(exc)
    return any(marker in message for marker in POISONED_CONTEXT_MARKERS)


def device_failure(exc: BaseException, *, where: str) -> DeviceFailure:
    """The :class:`DeviceFailure` to raise for a poisoned-context ``exc`` seen in ``where``."""
    if isinstance(exc, DeviceFailure):
        return exc
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DeviceFailure(f"{where}: the CUDA context is unusable ({first[:200]})")
