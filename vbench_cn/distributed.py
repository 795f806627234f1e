"""Sharding videos across processes (ranks), deterministic and balanced by cost."""

from __future__ import annotations

import contextlib
import heapq
import os
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any, TypeVar

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


def balance_by_cost(costs: Sequence[float], world_size: int) -> list[list[int]]:
    """Assign item indices to ``world_size`` ranks, longest first to the least loaded rank.

    Greedy LPT scheduling: deterministic (ties broken by index and rank), and within 4/3 of
    the optimal makespan. Each rank's indices are returned in ascending order.

    Example:
        >>> balance_by_cost([5, 1, 1, 1, 1, 1], 2)
        [[0], [1, 2, 3, 4, 5]]
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    heap = [(0.0, rank) for rank in range(world_size)]
    shards: list[list[int]] = [[] for _ in range(world_size)]
    for idx in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        load, rank = heapq.heappop(heap)
        shards[rank].append(idx)
        heapq.heappush(heap, (load + float(costs[idx]), rank))
    return [sorted(s) for s in shards]


#: How long a rank waits at a barrier. Rank 0 alone scores the set-level dimensions (FVD,
#: FID, KID bootstraps) and merges while the others wait, which can outlast NCCL's and
#: gloo's defaults (10 and 30 min) on a large set; a rank that dies ends the job through
#: torchrun anyway, so a long wait costs nothing.
BARRIER_TIMEOUT = timedelta(hours=12)

_barrier_groups: dict[int, Any] = {}  # id(default group) -> the gloo group barriers use


@contextlib.contextmanager
def dist_context() -> Iterator[tuple[int, int]]:
    """``(rank, world_size)``: under torchrun, a gloo process group for the duration (made
    here unless the caller made one); without a launcher, ``(0, 1)`` and nothing is made.

    gloo even on CUDA: the runner exchanges no tensors, only barriers and a few small
    objects, and a gloo barrier has no NCCL watchdog to kill a rank that waits while rank 0
    scores set-level dimensions.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        yield 0, 1
        return
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    created = False
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo", timeout=BARRIER_TIMEOUT)
        created = True
    try:
        yield rank, world_size
    finally:
        if created:
            _barrier_groups.clear()
            dist.destroy_process_group()


def _group() -> Any:
    """The group barriers run in: the default one when it is gloo, else a gloo copy of it
    (made once, by every rank at its first barrier) so that an NCCL group of the caller's
    never waits in our barriers."""
    import torch.distributed as dist

    default = dist.group.WORLD
    if dist.get_backend() == "gloo":
        return None
    key = id(default)
    if key not in _barrier_groups:
        _barrier_groups[key] = dist.new_group(backend="gloo", timeout=BARRIER_TIMEOUT)
    return _barrier_groups[key]


def barrier() -> None:
    """Wait for every rank (no-op without an initialised process group)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier(group=_group())


def broadcast(value: T) -> T:
    """Rank 0's ``value`` on every rank (``value`` itself without a process group)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    box: list[Any] = [value]
    dist.broadcast_object_list(box, src=0, group=_group())
    return box[0]  # type: ignore[no-any-return]


def gather_dicts(part: dict[K, V]) -> dict[K, V]:
    """Every rank's ``part`` joined, on every rank (``part`` itself without a process group)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return part
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, part, group=_group())
    return {k: v for p in parts for k, v in p.items()}
