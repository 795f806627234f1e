"""Sharding videos across processes (ranks), deterministic and balanced by cost."""

from __future__ import annotations

import contextlib
import heapq
import os
from collections.abc import Iterator, Sequence


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


@contextlib.contextmanager
def dist_context() -> Iterator[tuple[int, int]]:
    """``(rank, world_size)``: under torchrun, init the process group (gloo on CPU, nccl on
    CUDA) for the duration; without a launcher, ``(0, 1)`` and nothing is initialised."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        yield 0, 1
        return
    import torch
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    created = False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
        created = True
    try:
        yield rank, world_size
        dist.barrier()
    finally:
        if created:
            dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op without an initialised process group)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
