"""``vbench-cn demo`` runs offline end to end and ranks the pretend models as built."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vbench_cn.results import read_records


def test_demo_ranks_pretend_models(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vbench_cn", "demo", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "steady-cam" in proc.stdout and "flicker-gen" in proc.stdout
    recs = read_records(tmp_path / "run")
    flicker = {}
    for r in recs:
        if r["dimension"] == "temporal_flickering" and r["status"] == "ok":
            flicker.setdefault(r["model"], []).append(r["score"])
    mean = {m: sum(v) / len(v) for m, v in flicker.items()}
    assert mean["steady-cam"] > mean["flicker-gen"]
    dur = {r["model"]: r["score"] for r in recs if r["dimension"] == "duration_seconds"}
    assert dur["steady-cam"] > dur["short-clip"]
