"""What the device check needs around its stages: a time budget, one JSON per stage, built
models reused between stages, GPU utilisation sampled, wheels installed, children killed.

Kept apart from the stages (``bench/gpu_check.py``) so that the guard that keeps the whole
check within its 7 minutes can be tested on its own (``tests/pipeline/test_gpu_check.py``).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import json
import os
import signal
import site
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------- JSON


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` atomically (a killed check leaves whole files only)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- time budget


class StageTimeout(BaseException):
    """A stage ran past its hard limit. A ``BaseException``, so that the runner's per-video
    ``except Exception`` guards let it through instead of recording it as a video's error."""


class Clock:
    """Seconds left to a stage: stages check :meth:`left` between steps (a backbone, a run)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        return self.left() <= 0


@contextlib.contextmanager
def hard_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`StageTimeout` in the main thread after ``seconds`` (SIGALRM): the safety
    net for one step that runs far past the stage's budget. Elsewhere than the main thread,
    or without SIGALRM, nothing is armed and only the stage's own checks hold it."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds <= 0:
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise StageTimeout(f"hard limit of {seconds:.0f} s reached")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


#: A stage: takes its clock and a dict it fills as it goes (what a cut-short stage still
#: reports), returns the rest of its result.
StageFn = Callable[[Clock, dict[str, Any]], dict[str, Any]]


class Check:
    """Runs stages in order under one total time limit, each writing ``stage-<X>.json``.

    Every stage has a planned share of the total. A stage may use its share, or more when
    earlier stages left time over, but never time the later stages' shares need: its limit
    is ``max(min(left, planned), left - later stages' planned)``. The stage stops itself at
    that limit (checked between its steps) and says so in its JSON (``timed_out``); a hard
    limit ``grace`` seconds later interrupts a single step that runs on. A stage that fails
    or is cut short still writes its JSON, and the next stage runs. With nothing left a
    stage is skipped and says why.
    """

    def __init__(
        self,
        out: Path,
        planned: dict[str, float],
        total: float,
        *,
        grace: float,
        on_stage_end: Callable[[str, dict[str, Any]], None] | None = None,
        usage: GpuUsage | None = None,
    ) -> None:
        self.out = out
        self.planned = planned
        self.total = total
        self.grace = grace
        self.start = time.monotonic()
        self.results: dict[str, dict[str, Any]] = {}
        self.on_stage_end = on_stage_end
        self.usage = usage

    def left(self) -> float:
        return self.total - (time.monotonic() - self.start)

    def limit_for(self, letter: str, later: list[str]) -> float:
        left = self.left()
        reserve = sum(self.planned[x] for x in later)
        return max(min(left, self.planned[letter]), left - reserve)

    def run(self, stages: list[tuple[str, str, StageFn]]) -> dict[str, dict[str, Any]]:
        letters = [s[0] for s in stages]
        for i, (letter, name, fn) in enumerate(stages):
            limit = self.limit_for(letter, letters[i + 1 :])
            self.results[letter] = self.run_stage(letter, name, fn, limit)
        return self.results

    def run_stage(self, letter: str, name: str, fn: StageFn, limit: float) -> dict[str, Any]:
        label = f"{letter} {name}"
        t0, started = time.perf_counter(), time.monotonic()
        partial: dict[str, Any] = {}
        result: dict[str, Any]
        if limit <= 0:
            result = {
                "ok": False,
                "skipped": f"the check's {self.total:.0f}-s time limit is spent",
            }
        else:
            clock = Clock(limit)
            try:
                with hard_limit(limit + self.grace):
                    returned = fn(clock, partial)  # fills ``partial`` as it goes
                result = {**partial, **returned}
            except StageTimeout as exc:
                result = {**partial, "ok": False, "timed_out": True, "error": str(exc)}
            except Exception as exc:
                result = {
                    **partial,
                    "ok": False,
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(limit=8),
                }
            result.setdefault("timed_out", bool(partial.get("timed_out")))
            result["limit_s"] = round(limit, 1)
            if self.usage is not None:
                result["gpu"] = self.usage.between(started, time.monotonic())
        result = {"stage": label, **result, "seconds": round(time.perf_counter() - t0, 2)}
        if hasattr(os, "getloadavg"):  # a shared machine's other work slows every stage
            result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        write_json(self.out / f"stage-{letter}.json", result)
        cut = " (cut short at its time limit)" if result.get("timed_out") else ""
        print(f"stage {label}: ok={result.get('ok')} in {result['seconds']} s{cut}", flush=True)
        if self.on_stage_end is not None:
            self.on_stage_end(letter, result)
        return result


# --------------------------------------------------------------------------- children


def run_child(
    args: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> tuple[int | None, float, str, bool]:
    """Run ``args`` in its own process group: ``(rc, seconds, stderr tail, timed_out)``.

    At ``timeout`` the group gets SIGTERM (the runner then writes the videos it finished),
    10 s later SIGKILL; whatever interrupts the wait (a stage's hard limit) kills the group
    too, so that no torchrun worker outlives the check.
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        args,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    timed_out = False
    try:
        try:
            _, err = proc.communicate(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            timed_out = True
            _signal_group(proc, signal.SIGTERM)
            try:
                _, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                _, err = proc.communicate()
    except BaseException:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
        raise
    return proc.returncode, time.perf_counter() - t0, (err or "")[-3000:], timed_out


def _signal_group(proc: subprocess.Popen[str], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


# --------------------------------------------------------------------------- models


class ModelReuse:
    """Random-weight modules built once per process and copied for each later build.

    ``vbench_cn.weights.build_random`` is seeded, so a second build of a name gives the same
    numbers; on a CPU, random initialisation of the ViT-L models takes seconds each and the
    in-process stages (smoke, throughput, parity on both sides, out-of-memory) build the
    same ones again. A pristine CPU copy is kept right after the first build and a deep
    copy of it is handed out instead (the extractor's own construction, the move to the
    device and everything after it still run). Modules over ``max_mb`` are not kept (the
    dry run's machine has little memory). :attr:`reused` counts what was handed out.
    """

    def __init__(self, max_mb: float | None) -> None:
        self.max_mb = max_mb
        self.kept: dict[tuple[str, int], Any] = {}
        self.reused: Counter[str] = Counter()

    @contextlib.contextmanager
    def active(self) -> Iterator[ModelReuse]:
        from vbench_cn import weights

        build = weights.build_random

        def build_or_copy(name: str, seed: int = 0) -> Any:
            key = (name, seed)
            if key in self.kept:
                self.reused[name] += 1
                return copy.deepcopy(self.kept[key])
            module = build(name, seed)
            if self.max_mb is None or _megabytes(module) <= self.max_mb:
                try:
                    self.kept[key] = copy.deepcopy(module)
                except Exception:  # a module that cannot be copied is simply rebuilt
                    self.kept.pop(key, None)
            return module

        weights.build_random = build_or_copy  # type: ignore[assignment]
        try:
            yield self
        finally:
            weights.build_random = build  # type: ignore[assignment]
            self.kept.clear()


def _megabytes(module: Any) -> float:
    tensors = list(module.parameters()) + list(module.buffers())
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


# --------------------------------------------------------------------------- GPU usage


class GpuUsage:
    """GPU utilisation and memory sampled twice a second by a thread calling ``nvidia-smi``
    (one query a sample: a looping ``nvidia-smi`` writes through a buffer that a stage's
    end would not yet see), and the mean over any interval of ``time.monotonic()``."""

    def __init__(self, path: Path, interval: float = 0.5) -> None:
        self.path = path
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, util %, MiB)
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
        self._gpu = visible or "0"  # nvidia-smi -i takes an index or a UUID

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="gpu-usage", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                line = subprocess.run(
                    [
                        "nvidia-smi",
                        "-i",
                        self._gpu,
                        "--query-gpu=utilization.gpu,memory.used",
                        "--format=csv,noheader,nounits",
                    ],
                    capture_output=True,
                    text=True,
                    timeout=5,
                    check=True,
                ).stdout.splitlines()[0]
                util, mem = (float(x) for x in line.split(",")[:2])
            except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
                self.error = f"nvidia-smi: {type(exc).__name__}: {exc}"[:300]
                return
            self.samples.append((t, util, mem))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - t)))

    def stop(self) -> None:
        """Stop sampling and write every sample to :attr:`path` (CSV)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        rows = ["seconds,utilization_percent,memory_used_mib"]
        t0 = self.samples[0][0] if self.samples else 0.0
        rows += [f"{t - t0:.2f},{u:g},{m:g}" for t, u, m in self.samples]
        self.path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    def between(self, start: float, end: float) -> dict[str, Any]:
        """Mean and peak utilisation (%) and peak memory (MiB) of the samples in the interval."""
        picked = [(u, m) for t, u, m in list(self.samples) if start <= t <= end]
        out: dict[str, Any] = {"samples": len(picked)}
        if self.error:
            out["error"] = self.error
        if picked:
            out.update(
                busy_percent_mean=round(sum(u for u, _ in picked) / len(picked), 1),
                busy_percent_max=max(u for u, _ in picked),
                memory_used_mib_max=max(m for _, m in picked),
            )
        return out


# --------------------------------------------------------------------------- wheels


#: What ``vbench_cn.evaluate`` imports beyond the GPU image's packages (torch, torchvision,
#: timm, transformers, opencv, pandas, scipy, typer, rich): module -> the requirement whose
#: wheel provides it (pinned to what this repository is tested with). gpu_check_prepare.py
#: downloads these wheels; :func:`install_wheels` installs them on the device.
NEEDED_MODULES = {
    "av": "av>=13",
    "open_clip": "open_clip_torch>=2.24",
    "ftfy": "ftfy",
    "wcwidth": "wcwidth",
}


def install_wheels(folder: Path) -> dict[str, Any]:
    """Install the prepared wheels whose module is missing, offline (no index, no deps)."""
    missing = [m for m in NEEDED_MODULES if importlib.util.find_spec(m) is None]
    if not missing:
        return {"missing": [], "installed": []}
    wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    if not wheels:
        return {"missing": missing, "error": f"{folder}: no wheels (bench/gpu_check_prepare.py)"}
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", *map(str, wheels)],
        capture_output=True,
        text=True,
        check=False,
    )
    importlib.invalidate_caches()
    user_site = site.getusersitepackages()
    if os.path.isdir(user_site) and user_site not in sys.path:  # pip fell back to --user
        site.addsitedir(user_site)
    out: dict[str, Any] = {"missing": missing, "installed": [w.name for w in wheels]}
    if proc.returncode != 0:
        out["error"] = f"pip exited {proc.returncode}: {proc.stderr[-1500:]}"
    still = [m for m in missing if importlib.util.find_spec(m) is None]
    if still:
        out["error"] = out.get("error") or f"still missing after install: {', '.join(still)}"
    return out
