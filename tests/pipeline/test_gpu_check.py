"""The device check's harness (bench/gpu_check_harness.py): on the GPU machine nobody watches
the check, so a stage that fails or runs long must still leave its JSON and let the next
stage run within the total time, children must not outlive it, and reused models must be
copies."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from gpu_check_harness import (  # noqa: E402
    Check,
    Clock,
    GpuUsage,
    ModelReuse,
    run_child,
)


def _steps(count: int, step: float) -> Any:
    """A stage of ``count`` steps that stops itself when its clock runs out."""

    def stage(clock: Clock, partial: dict[str, Any]) -> dict[str, Any]:
        done = partial.setdefault("done", [])
        for i in range(count):
            if clock.expired():
                partial["timed_out"] = True
                break
            time.sleep(step)
            done.append(i)
        return {"ok": len(done) == count}

    return stage


def _fails(clock: Clock, partial: dict[str, Any]) -> dict[str, Any]:
    partial["before"] = "written"
    raise RuntimeError("broken stage")


def _hangs(clock: Clock, partial: dict[str, Any]) -> dict[str, Any]:
    partial["started"] = True
    time.sleep(30)  # one step that never checks its clock
    return {"ok": True}


def _json(out: Path, letter: str) -> dict[str, Any]:
    return json.loads((out / f"stage-{letter}.json").read_text(encoding="utf-8"))


def test_stages_that_fail_overrun_or_hang_still_write_json_and_the_rest_runs(
    tmp_path: Path,
) -> None:
    planned = {"A": 0.2, "B": 1.0, "C": 0.3, "D": 0.8}
    check = Check(tmp_path, planned, total=sum(planned.values()), grace=0.3)
    t0 = time.monotonic()
    check.run(
        [
            ("A", "long", _steps(100, 0.05)),  # wants 5 s, has 0.4 s
            ("B", "fails", _fails),
            ("C", "hangs", _hangs),
            ("D", "short", _steps(3, 0.05)),
        ]
    )
    assert time.monotonic() - t0 < 8  # the hanging step was interrupted
    a, b, c, d = (_json(tmp_path, x) for x in "ABCD")
    assert a["ok"] is False and a["timed_out"] is True and 0 < len(a["done"]) < 100
    # B failed at once: C may use B's unused share, never D's.
    assert b["ok"] is False and "broken stage" in b["error"] and b["before"] == "written"
    assert c["ok"] is False and c["timed_out"] is True and c["started"] is True
    assert c["limit_s"] > planned["C"]
    assert d["ok"] is True and d["done"] == [0, 1, 2] and d["timed_out"] is False


def test_a_stage_with_no_time_left_is_skipped_and_says_so(tmp_path: Path) -> None:
    check = Check(tmp_path, {"A": 1.0, "B": 1.0}, total=0.5, grace=0.2)
    check.run([("A", "long", _steps(100, 0.1)), ("B", "next", _steps(1, 0.0))])
    assert _json(tmp_path, "A")["timed_out"] is True
    b = _json(tmp_path, "B")
    assert b["ok"] is False and "time limit is spent" in b["skipped"]


def test_a_child_past_its_timeout_is_stopped_with_its_own_children(tmp_path: Path) -> None:
    grandchild_pid = tmp_path / "pid"
    script = (
        "import subprocess, sys, time, pathlib\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"pathlib.Path({str(grandchild_pid)!r}).write_text(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    rc, seconds, _, timed_out = run_child([sys.executable, "-c", script], cwd=tmp_path, timeout=3.0)
    assert timed_out and rc is not None and rc != 0 and seconds < 20
    pid = int(grandchild_pid.read_text())
    for _ in range(50):  # the grandchild (a torchrun worker) went with its group
        if not _alive(pid):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the child's own child outlived the timeout")


def _alive(pid: int) -> bool:
    """Running, not a zombie left for a container's PID 1 to reap."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_reused_models_are_copies_of_the_first_build() -> None:
    import torch

    import vbench_cn.features.raft  # noqa: F401  (registers raft_things)
    from vbench_cn import weights

    original = weights.build_random
    fresh = original("raft_things")
    reuse = ModelReuse(max_mb=None)
    with reuse.active():
        first = weights.build_random("raft_things")  # built, a pristine copy kept
        second = weights.build_random("raft_things")  # a copy of the kept one
        with torch.no_grad():  # what a later in-place move or edit does to what it was given
            for p in [*first.parameters(), *second.parameters()]:
                p.zero_()
        third = weights.build_random("raft_things")
    assert weights.build_random is original and reuse.reused["raft_things"] == 2
    assert third is not second
    expected, got = fresh.state_dict(), third.state_dict()
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_gpu_usage_is_averaged_over_a_stage(tmp_path: Path, monkeypatch: Any) -> None:
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho '40, 1000'\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    usage = GpuUsage(tmp_path / "gpu.csv", interval=0.05)
    t0 = time.monotonic()
    usage.start()
    time.sleep(0.5)
    usage.stop()
    window = usage.between(t0, time.monotonic())
    assert window["samples"] >= 2 and window["busy_percent_mean"] == 40.0
    assert window["memory_used_mib_max"] == 1000.0 and "error" not in window
    assert (tmp_path / "gpu.csv").read_text().count("\n") == window["samples"] + 1
