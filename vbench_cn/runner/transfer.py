"""Forward outputs back to the host without stopping the thread that feeds the device.

A blocking ``.cpu()`` after every batch makes the host wait for the device to finish, so the
device then waits for the host to prepare the next batch. Here an output is copied into
pinned host memory with ``non_blocking=True`` and a CUDA event marks when the copy is done;
the runner resolves the event only when the video is scored (:meth:`Ready.wait`). At most
``in_flight`` batches are outstanding: starting one more first waits for the oldest, so the
device queue stays two batches deep and host memory stays bounded. On CPU nothing is
deferred: the output is the host tensor, as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import torch


class Ready:
    """Whether a host copy is complete; :meth:`wait` blocks until it is (no-op on CPU)."""

    def __init__(self, event: Any = None) -> None:
        self._event = event

    def wait(self) -> None:
        """Block until the copy this stands for has landed."""
        if self._event is not None:
            self._event.synchronize()
            self._event = None

    @property
    def done(self) -> bool:
        """True once the copy has landed (without blocking)."""
        return self._event is None or bool(self._event.query())


#: Already on the host: nothing to wait for.
READY = Ready()


class HostCopies:
    """Starts device-to-host copies of forward outputs; at most ``in_flight`` outstanding.

    Args:
        device: where the outputs are; copies are deferred only on CUDA.
        in_flight: outstanding copies (batches) before the oldest is waited for.
        new_event: event factory (tests pass a fake; default ``torch.cuda.Event``).
    """

    def __init__(
        self,
        device: torch.device,
        in_flight: int = 2,
        new_event: Callable[[], Any] | None = None,
    ) -> None:
        self.deferred = device.type == "cuda" or new_event is not None
        self.in_flight = max(1, in_flight)
        self._new_event = new_event or (lambda: torch.cuda.Event())
        self._pending: deque[Ready] = deque()

    def start(self, output: torch.Tensor) -> tuple[torch.Tensor, Ready]:
        """``(host tensor, ready)``: the float32 host copy of ``output``, valid once ``ready``
        is waited for (at once, on CPU)."""
        output = output.detach().float()
        if not self.deferred:
            return output.cpu(), READY
        while len(self._pending) >= self.in_flight:
            self._pending.popleft().wait()
        pin = output.device.type == "cuda"
        try:
            host = torch.empty(output.shape, dtype=output.dtype, pin_memory=pin)
        except RuntimeError:  # pinned host memory exhausted: a plain, blocking copy
            return output.cpu(), READY
        host.copy_(output, non_blocking=pin)
        event = self._new_event()
        event.record()
        ready = Ready(event)
        self._pending.append(ready)
        return host, ready

    def drain(self) -> None:
        """Wait for every outstanding copy."""
        while self._pending:
            self._pending.popleft().wait()
