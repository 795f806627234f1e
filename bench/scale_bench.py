"""Scale-out benchmark: the same videos scored by 1 and by 2 processes (torchrun, gloo on CPU).

Writes bench/out/scale.json and prints a table: wall seconds, videos/s and the speed-up.
On a 2-core CPU one process already uses both cores for its matrix work, so expect a
speed-up near 1 there; the point of ranks is one process per GPU (run it on a GPU box with
``--nproc 8 --device cuda``).

Usage:
    python bench/scale_bench.py --videos 12 --dimensions temporal_flickering,subject_consistency
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_videos(folder: Path, count: int, size: int, frames: int) -> None:
    """Synthetic clips named by subject-consistency prompt ids (so the quality dims apply)."""
    from vbench_cn import synthetic as s

    for i in range(count):
        path = folder / "bench-model" / f"sc-{i % 80 + 1:04d}-{i // 80}.mp4"
        if not path.exists():
            s.write_video(
                path, s.translating_clip(frames, size, size, pixels_per_frame=1 + i % 3, seed=i)
            )


def run(nproc: int, videos: Path, out: Path, dimensions: str, device: str) -> float:
    """Wall seconds of one evaluate run with ``nproc`` processes."""
    shutil.rmtree(out, ignore_errors=True)
    args = [
        "-m",
        "vbench_cn",
        "evaluate",
        str(videos),
        "--dimensions",
        dimensions,
        "--out",
        str(out),
        "--random-weights",
        "--no-progress",
        "--device",
        device,
        "--profile",
    ]
    if nproc > 1:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            str(nproc),
            "--master-port",
            "29533",
            *args,
        ]
    else:
        cmd = [sys.executable, *args]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // nproc))}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def main() -> None:
    """Run 1 and N processes on the same videos and report the speed-up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--dimensions", default="temporal_flickering,subject_consistency,motion_smoothness"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "scale")
    opts = parser.parse_args()
    videos = opts.out / "videos"
    make_videos(videos, opts.videos, opts.size, opts.frames)
    rows = []
    for nproc in (1, opts.nproc):
        wall = run(nproc, videos, opts.out / f"run-{nproc}", opts.dimensions, opts.device)
        rows.append(
            {
                "processes": nproc,
                "wall_s": round(wall, 2),
                "videos_per_s": round(opts.videos / wall, 3),
            }
        )
    rows[-1]["speedup"] = round(rows[0]["wall_s"] / rows[-1]["wall_s"], 3)
    (opts.out / "scale.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
