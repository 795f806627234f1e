"""One writer per run folder: a second run into the same ``--out`` is refused, not doubled.

Two processes appending to one run folder score every video twice and write every line
twice. Each process takes an exclusive ``flock`` on ``<out>/.lock-rank<r>`` for as long as
it writes (ranks of one torchrun job lock different files); the kernel drops the lock when
the process dies, so a killed run never leaves a stale lock behind. The lock is re-entrant
within one thread (the CLI takes it before probing, the runner again around the run).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, runs are not guarded
    fcntl = None  # type: ignore[assignment]


class RunLocked(RuntimeError):
    """Another run is writing into the folder; the message is one line saying what to do."""


_held: dict[str, tuple[int, int, int]] = {}  # path -> (fd, owner thread, depth)
_guard = threading.Lock()


def lock_path(out_dir: str | os.PathLike[str], rank: int = 0) -> Path:
    """The lock file of one rank of a run folder."""
    return Path(out_dir) / f".lock-rank{rank}"


@contextmanager
def run_lock(out_dir: str | os.PathLike[str], rank: int = 0) -> Iterator[None]:
    """Hold the lock of ``rank`` on a run folder (made if absent), or raise :class:`RunLocked`."""
    path = lock_path(out_dir, rank)
    key = os.path.abspath(path)
    me = threading.get_ident()
    with _guard:
        held = _held.get(key)
        if held is not None and held[1] == me:
            _held[key] = (held[0], me, held[2] + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                fd, owner, depth = _held[key]
                _held[key] = (fd, owner, depth - 1)
        return
    fd = _acquire(path)
    with _guard:
        _held[key] = (fd, me, 1)
    try:
        yield
    finally:
        with _guard:
            del _held[key]
        _release(fd)


def _acquire(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if fcntl is None:
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = _holder(fd)
        os.close(fd)
        raise RunLocked(
            f"{path.parent}: another vbench-cn run is writing into this folder{holder}; "
            "wait for it to finish, or choose another --out"
        ) from None
    info = {"pid": os.getpid(), "host": socket.gethostname(), "since": int(time.time())}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    return fd


def _holder(fd: int) -> str:
    """`` (pid N on HOST since HH:MM)`` from the lock file, or ``""`` when unreadable."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(int(info["since"])))
        return f" (pid {int(info['pid'])} on {info['host']}, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _release(fd: int) -> None:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
