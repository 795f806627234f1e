"""``vbench-cn demo`` from a built wheel (not the checkout) runs offline and ranks the pretend
models as built: the specs, prompts and labels it needs ship inside the wheel.

The wheel is installed with ``--no-deps`` into a fresh venv that sees this environment's
dependencies through a ``.pth`` file (so the test needs no network and no second copy of
torch); the demo runs from an empty folder with the network switched off.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from vbench_cn.results import read_records

ROOT = Path(__file__).resolve().parents[2]


def _wheel_venv(tmp_path: Path, wheel: Path) -> Path:
    """Install the built wheel into a new venv; returns that venv's python."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    # Dependencies from this environment; directories named in a .pth file are searched after
    # the venv's own site-packages and their own .pth files (our editable finder) are not run.
    ours = {sysconfig.get_paths()["purelib"], *[p for p in sys.path if "site-packages" in p]}
    (purelib / "deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
        + ["--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return python


def test_demo_runs_offline_from_the_installed_wheel(tmp_path: Path, built_wheel: Path) -> None:
    python = _wheel_venv(tmp_path, built_wheel)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {
        **os.environ,
        "VBENCH_CN_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "VBENCH_CN_HOME": str(tmp_path / "home"),
    }
    env.pop("PYTHONPATH", None)
    where = subprocess.check_output(
        [str(python), "-c", "import vbench_cn; print(vbench_cn.__file__)"],
        cwd=work,
        env=env,
        text=True,
    )
    assert where.startswith(str(tmp_path / "venv")), where  # the wheel, not the checkout
    proc = subprocess.run(
        [str(python), "-m", "vbench_cn", "demo", "--out", str(work / "demo")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=work,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "steady-cam" in proc.stdout and "flicker-gen" in proc.stdout
    recs = read_records(work / "demo" / "run")
    flicker: dict[str, list[float]] = {}
    for r in recs:
        if r["dimension"] == "temporal_flickering" and r["status"] == "ok":
            flicker.setdefault(r["model"], []).append(r["score"])
    mean = {m: sum(v) / len(v) for m, v in flicker.items()}
    assert mean["steady-cam"] > mean["flicker-gen"]
    dur = {r["model"]: r["score"] for r in recs if r["dimension"] == "duration_seconds"}
    assert dur["steady-cam"] > dur["short-clip"]
    assert any(r["dimension"] == "text_rendering" and r["status"] == "ok" for r in recs)
