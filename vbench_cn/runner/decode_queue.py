"""Bounded hand-off between decode threads and the scoring thread.

Decoded chunks differ in size by 100x between a 256x256 clip and a 1080p one, so the queue
is bounded in bytes, not in chunks: decoding runs ahead as far as the memory allows and no
further. With several decode workers each decodes its own videos; :func:`in_plan_order`
hands their events to the scoring thread video by video, in the plan's order, so a run's
records come out in the same order whatever the number of workers.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any


class ByteQueue:
    """A FIFO holding at most ``max_bytes`` of items (one item always fits, whatever its size).

    ``put`` blocks while the queue is full and raises :class:`queue.Full` after ``timeout``
    seconds, like :class:`queue.Queue`, so a producer can check for a stop request.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(1, int(max_bytes))
        self._items: deque[tuple[Any, int]] = deque()
        self._bytes = 0
        self._cond = threading.Condition()

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return self._bytes

    def put(self, item: Any, nbytes: int = 0, timeout: float | None = None) -> None:
        """Append ``item`` of ``nbytes``; waits while it would overflow a non-empty queue."""
        with self._cond:
            while self._items and self._bytes + nbytes > self.max_bytes:
                if not self._cond.wait(timeout):
                    raise queue.Full
            self._items.append((item, nbytes))
            self._bytes += nbytes
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> Any:
        """Remove and return the oldest item, waiting for one (:class:`queue.Empty` after
        ``timeout`` seconds)."""
        with self._cond:
            while not self._items:
                if not self._cond.wait(timeout):
                    raise queue.Empty
            item, nbytes = self._items.popleft()
            self._bytes -= nbytes
            self._cond.notify_all()
            return item

    def get_nowait(self) -> Any:
        """The oldest item, or :class:`queue.Empty` at once."""
        with self._cond:
            if not self._items:
                raise queue.Empty
        return self.get()


def event_bytes(event: tuple[Any, ...]) -> int:
    """Bytes of decoded frames a prefetcher event holds (0 for all but chunks)."""
    if event and event[0] == "chunk":
        frames = event[-1]
        return int(frames.numel() * frames.element_size())
    return 0


class PlanOrder:
    """Events of ``videos`` videos dealt round-robin to ``streams`` (video ``i`` to stream
    ``i % n``), yielded video by video in the original order.

    A stream's events for one video run from its ``open`` event to its ``end`` event. A
    stream that ends early has its later videos left out (its thread failed after saying so
    in an ``end`` event), unless ``stopped()`` says the run is stopping: then iteration ends
    where it is, and :meth:`resume` continues from the same video over what each worker had
    already queued (a video half taken goes on where it was).
    """

    def __init__(
        self,
        streams: list[Iterable[tuple[Any, ...]]],
        videos: int,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self.streams = [iter(s) for s in streams]
        self.videos = videos
        self.stopped = stopped
        self.next = 0  # the video being yielded
        self.dead = [False] * len(self.streams)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        n = len(self.streams)
        while self.next < self.videos:
            k = self.next % n
            if not self.dead[k]:
                for event in self.streams[k]:
                    yield event
                    if event[0] == "end":
                        break
                else:
                    if self.stopped():
                        return
                    self.dead[k] = True
            self.next += 1

    def resume(self, streams: list[Iterable[tuple[Any, ...]]]) -> Iterator[tuple[Any, ...]]:
        """Continue from the current video over new streams (what the workers still held)."""
        self.streams = [iter(s) for s in streams]
        self.dead = [False] * len(self.streams)
        self.stopped = lambda: False
        return iter(self)


def in_plan_order(
    workers: list[Iterable[tuple[Any, ...]]], videos: int
) -> Iterator[tuple[Any, ...]]:
    """:class:`PlanOrder` over ``workers``, for a run that is not stopped."""
    return iter(PlanOrder(workers, videos))
