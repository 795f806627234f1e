"""How this process uses its machine: which GPU, how many threads, which precision flags.

Run once per process, before any model is built (:class:`vbench_cn.runner.Runner` does it):

* **The rank's own GPU.** ``torch.cuda.set_device`` on the run's device, so that pinned
  memory, random weight building and collectives open no context on ``cuda:0`` from every
  rank of a torchrun job.
* **Threads.** Under torchrun (which sets ``OMP_NUM_THREADS=1``), each rank gets its share of
  the cores for intra-op work, minus its FFmpeg decoder threads; FFmpeg's own threads are
  capped per decoder in every run (it would start one per core in each of them).
* **Allocator.** ``expandable_segments`` (unless the user set ``PYTORCH_CUDA_ALLOC_CONF``,
  or CUDA already started in this process, e.g. in a training loop, where it would not take
  effect): about ten resident models and changing shapes fragment the caching allocator
  otherwise.
* **Precision** (``--precision``): ``parity`` pins what VBench runs with (PyTorch's
  defaults: full-float32 matmuls, TF32 cuDNN convolutions, no ``cudnn.benchmark``; fp16
  autocast only where an extractor's reference runs in half precision, ``amp_ok``);
  ``fast`` adds TF32 matmuls and ``cudnn.benchmark``, faster on Ampere and later but not
  VBench's rounding (AMT's and human_action's thresholds may move scores by ~1e-4).

What was chosen goes into ``run.json`` (:meth:`ProcessSetup.to_dict`).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

#: The choices of ``--precision``.
PRECISIONS: tuple[str, ...] = ("parity", "fast")

#: FFmpeg threads of one decoder at most: frame threading gains little past 4 at 720p.
MAX_DECODER_THREADS = 4

#: The allocator setting applied when the user has none.
ALLOC_CONF = "expandable_segments:True"


@dataclass(frozen=True)
class PrecisionFlags:
    """The numeric settings of CUDA work that change results or speed."""

    matmul_tf32: bool
    cudnn_tf32: bool
    cudnn_benchmark: bool
    autocast_fp16: bool  # fp16 autocast for the extractors whose reference runs in half


#: ``--precision`` name -> its flags. ``parity``: PyTorch's defaults, which VBench runs with.
PRECISION_FLAGS: dict[str, PrecisionFlags] = {
    "parity": PrecisionFlags(
        matmul_tf32=False, cudnn_tf32=True, cudnn_benchmark=False, autocast_fp16=True
    ),
    "fast": PrecisionFlags(
        matmul_tf32=True, cudnn_tf32=True, cudnn_benchmark=True, autocast_fp16=True
    ),
}


def precision_flags(name: str) -> PrecisionFlags:
    """The flags of precision ``name``; a clear error for an unknown one."""
    try:
        return PRECISION_FLAGS[name]
    except KeyError:
        raise ValueError(
            f"precision must be one of {', '.join(PRECISIONS)}, got {name!r}"
        ) from None


def apply_precision(flags: PrecisionFlags) -> None:
    """Pin the process-wide TF32 and cuDNN flags (harmless on a machine without CUDA)."""
    torch.backends.cuda.matmul.allow_tf32 = flags.matmul_tf32
    torch.backends.cudnn.allow_tf32 = flags.cudnn_tf32
    torch.backends.cudnn.benchmark = flags.cudnn_benchmark
    torch.backends.cudnn.deterministic = False


def thread_plan(cores: int, local_world_size: int) -> tuple[int, int]:
    """``(intra_op_threads, decoder_threads)`` for one of ``local_world_size`` processes.

    Each process's share of the cores; its decoder gets up to :data:`MAX_DECODER_THREADS`
    of them, and the rest (at least one) run PyTorch's intra-op work.

    Example:
        >>> thread_plan(16, 8)
        (1, 2)
        >>> thread_plan(64, 4)
        (12, 4)
        >>> thread_plan(2, 1)
        (1, 2)
    """
    share = max(1, cores // max(1, local_world_size))
    decoder = max(1, min(MAX_DECODER_THREADS, share))
    return max(1, share - decoder), decoder


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ProcessSetup:
    """What :func:`setup_process` chose, as recorded in ``run.json``."""

    device: str
    precision: str
    flags: PrecisionFlags
    local_rank: int
    local_world_size: int
    cores: int
    intra_op_threads: int
    decoder_threads: int
    cuda_alloc_conf: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, flags inlined."""
        out = asdict(self)
        out.update(out.pop("flags"))
        return out


def setup_process(
    device: torch.device,
    precision: str = "parity",
    *,
    environ: MutableMapping[str, str] | None = None,
) -> ProcessSetup:
    """Bind this process to ``device``, size its threads, pin its precision flags.

    Args:
        device: the run's device (``cuda:N`` is made current; CPU and others are left).
        precision: one of :data:`PRECISIONS`.
        environ: the environment to read torchrun's variables from and to write the
            allocator setting to (``os.environ`` by default).
    """
    from vbench_cn.video import set_decoder_threads

    env: MutableMapping[str, str] = os.environ if environ is None else environ
    flags = precision_flags(precision)
    local_rank = int(env.get("LOCAL_RANK", "0"))
    local_world_size = int(env.get("LOCAL_WORLD_SIZE", "1"))
    cores = available_cores()
    intra, decoder = thread_plan(cores, local_world_size)
    if "LOCAL_WORLD_SIZE" in env:  # torchrun: replace its OMP_NUM_THREADS=1 by this share
        torch.set_num_threads(intra)
    set_decoder_threads(decoder)
    if device.type == "cuda":
        if "PYTORCH_CUDA_ALLOC_CONF" not in env and not torch.cuda.is_initialized():
            env["PYTORCH_CUDA_ALLOC_CONF"] = ALLOC_CONF  # read when CUDA starts, not later
        torch.cuda.set_device(device)
    apply_precision(flags)
    return ProcessSetup(
        device=str(device),
        precision=precision,
        flags=flags,
        local_rank=local_rank,
        local_world_size=local_world_size,
        cores=cores,
        intra_op_threads=torch.get_num_threads(),
        decoder_threads=decoder,
        cuda_alloc_conf=env.get("PYTORCH_CUDA_ALLOC_CONF"),
    )
