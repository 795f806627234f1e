"""Time and peak memory of ``reference build`` on synthetic clips (random-weight detectors).

    python bench/fidelity_bench.py  # 100 clips, fvd + fid_frames + kid_frames
    python bench/fidelity_bench.py --clips 20 --dimensions fvd  # one detector
    python bench/fidelity_bench.py --dimensions fidelity --device cuda  # VideoMAE-v2 ViT-g (GPU)
    python bench/fidelity_bench.py --score-only --dim 2048 --samples 3000  # scorer cost alone

The scorer part times one Fréchet distance (scipy sqrtm) plus its bootstrap interval, and one
KID, on random features of the given size (the cost of scoring one model's set).

The clips (16 frames at 8 fps, 128x128, smooth textures sliding at different speeds) are
written first, outside the timing. The build runs in a child process so that its peak
resident memory (``os.wait4``) is its own; on CUDA the child also reports the peak
allocated GPU memory. Random weights: no checkpoint is needed, and compute equals the real
detectors' (same architectures). Results go to ``bench/out/fidelity_bench.json`` and a
summary to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, os, resource, sys, time
import torch
from vbench_cn.reference_build import build_reference
videos, name, dims, device = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4]
t0, c0 = time.perf_counter(), time.process_time()
folder = build_reference(
    [videos], name, dimensions=dims, random_weights=True, device=device, overwrite=True
)
out = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "folder": str(folder),
       "cuda_peak_bytes": torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None,
       "torch_threads": torch.get_num_threads()}
print("RESULT " + json.dumps(out))
"""


def write_clips(folder: Path, count: int, *, frames: int, size: int) -> None:
    """``count`` smooth clips: textures sliding 0-4 px per frame (seeded)."""
    from vbench_cn import synthetic as s

    for i in range(count):
        clip = s.translating_clip(frames, size, size, pixels_per_frame=i % 5, seed=i)
        s.write_video(folder / f"clip-{i:03d}.mp4", clip, fps=8.0)


def run_child(videos: Path, name: str, dims: str, device: str, home: Path) -> dict[str, Any]:
    env = dict(os.environ, VBENCH_CN_HOME=str(home), VBENCH_CN_OFFLINE="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(videos), name, dims, device],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    t0 = time.perf_counter()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    stdout, stderr = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    if status != 0:
        raise SystemExit(f"reference build failed (status {status}):\n{stderr[-3000:]}")
    result = json.loads(
        next(line for line in stdout.splitlines() if line.startswith("RESULT "))[7:]
    )
    result.update(
        process_wall_s=wall,
        peak_rss_bytes=usage.ru_maxrss * 1024,
        user_s=usage.ru_utime,
        system_s=usage.ru_stime,
    )
    return result


def time_scorers(samples: int, dim: int, bootstrap: int) -> dict[str, Any]:
    """Seconds for one Fréchet distance (``bootstrap`` replicates) and one KID, random features."""
    import numpy as np
    import torch

    from vbench_cn.scorers.fidelity import (
        ReferenceStats,
        frechet_distance_set,
        kid_set,
        mean_and_covariance,
    )

    rng = np.random.default_rng(0)
    ref_x = rng.normal(size=(samples, dim))
    mu, sigma = mean_and_covariance(ref_x)
    ref = ReferenceStats(
        name="bench",
        dimension="x",
        mu=mu,
        sigma=sigma,
        features=ref_x[:4096].astype(np.float32),
        count=samples,
        videos=None,
        extractor=None,
        weights_id="random",
        weights_sha256=None,
        sampling=None,
        dimension_version=None,
    )
    gen = [
        torch.from_numpy(rng.normal(0.1, 1.0, size=(16, dim))).float() for _ in range(samples // 16)
    ]
    out: dict[str, Any] = {"samples": samples, "dim": dim, "bootstrap": bootstrap}
    t0 = time.perf_counter()
    frechet_distance_set(gen, reference=ref, bootstrap=0)
    out["frechet_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    frechet_distance_set(gen, reference=ref, bootstrap=bootstrap)
    out["frechet_with_bootstrap_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    kid_set(gen, reference=ref, bootstrap=200)
    out["kid_with_bootstrap_s"] = round(time.perf_counter() - t0, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--dimensions", default="fvd,fid_frames,kid_frames")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "fidelity_bench.json")
    parser.add_argument(
        "--score-only", action="store_true", help="Only time the scorers on random features."
    )
    parser.add_argument("--dim", type=int, default=2048, help="Feature size for the scorer timing.")
    parser.add_argument(
        "--samples", type=int, default=3000, help="Feature vectors for the scorer timing."
    )
    parser.add_argument(
        "--bootstrap", type=int, default=30, help="Bootstrap replicates for the scorer timing."
    )
    args = parser.parse_args()
    if args.score_only:
        result = time_scorers(args.samples, args.dim, args.bootstrap)
        result.update(load_average_at_end=os.getloadavg(), cpu_count=os.cpu_count())
        print(json.dumps(result, indent=2))
        return

    with tempfile.TemporaryDirectory(prefix="fidelity-bench-") as tmp:
        videos, home = Path(tmp) / "videos", Path(tmp) / "home"
        t0 = time.perf_counter()
        write_clips(videos, args.clips, frames=args.frames, size=args.size)
        write_s = time.perf_counter() - t0
        res = run_child(videos, "bench", args.dimensions, args.device, home)
        meta = json.loads((Path(res["folder"]) / "meta.json").read_text(encoding="utf-8"))
        sizes = {p.name: p.stat().st_size for p in Path(res["folder"]).iterdir()}
    report = {
        "clips": args.clips,
        "frames_per_clip": args.frames,
        "size_px": args.size,
        "dimensions": args.dimensions,
        "device": args.device,
        "write_videos_s": round(write_s, 2),
        "build_wall_s": round(res["wall_s"], 2),
        "process_wall_s": round(res["process_wall_s"], 2),
        "cpu_user_s": round(res["user_s"], 2),
        "cpu_system_s": round(res["system_s"], 2),
        "peak_rss_mib": round(res["peak_rss_bytes"] / 2**20, 1),
        "cuda_peak_mib": None
        if res["cuda_peak_bytes"] is None
        else round(res["cuda_peak_bytes"] / 2**20, 1),
        "torch_threads": res["torch_threads"],
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average_at_end": os.getloadavg(),
        "per_dimension": {
            d: {
                "count": e["count"],
                "videos": e["videos"],
                "feature_dim": e["feature_dim"],
                "file_bytes": sizes.get(e["file"]),
            }
            for d, e in meta["dimensions"].items()
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
