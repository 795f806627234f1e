"""Where a run's time goes (:class:`Profile`, ``--profile``) and its progress bar."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


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
    build_seconds: float = 0.0  # building the extractors (loading or initialising weights)
    wait_seconds: float = 0.0  # main thread idle, waiting for decoded frames
    wall_seconds: float = 0.0
    videos: int = 0
    oom_retries: int = 0
    #: (extractor, start, end) CUDA events of forward passes not yet added to
    #: ``forward_seconds``: on a GPU the host does not wait for a forward to end, so its time
    #: is the device's, read once the events have passed (:meth:`settle`).
    device_spans: list[tuple[str, Any, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_background(self, *, probe: float = 0.0, decode: float = 0.0) -> None:
        """Add seconds spent by a decode worker (several add at once: ``+=`` alone loses some)."""
        with self._lock:
            self.probe_seconds += probe
            self.decode_seconds += decode

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
        busy = fwd + prep + self.score_seconds + self.wait_seconds + self.build_seconds
        return {
            "wall_s": round(self.wall_seconds, 3),
            "videos": self.videos,
            "videos_per_s": round(self.videos / self.wall_seconds, 3)
            if self.wall_seconds
            else None,
            "decode_s": round(self.decode_seconds, 3),  # in the background decode thread
            "wait_for_decode_s": round(self.wait_seconds, 3),
            "probe_s": round(self.probe_seconds, 3),
            "build_s": round(self.build_seconds, 3),
            "prepare_s": round(prep, 3),
            "forward_s": round(fwd, 3),
            "score_s": round(self.score_seconds, 3),
            "other_s": round(max(0.0, self.wall_seconds - busy), 3),
            "forward_share": round(fwd / self.wall_seconds, 4) if self.wall_seconds else None,
            "oom_retries": self.oom_retries,
            "extractors": self.rows(),
        }


class NullProgress:
    def advance(self) -> None:
        pass

    def close(self) -> None:
        pass


class RichProgress:
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


def progress_bar(total: int, *, enabled: bool) -> Any:
    return RichProgress(total) if enabled and total > 0 else NullProgress()


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
    columns = (
        "extractor",
        "frames",
        "batches",
        "forward_s",
        "prepare_s",
        "frames_per_s",
        "forward_share",
    )
    for col in columns:
        table.add_column(col)
    for row in s["extractors"]:
        table.add_row(*(str(row[c]) for c in columns))
    Console(file=file).print(table)
