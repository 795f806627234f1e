"""Time VBench's seven quality dimensions two ways on the same videos and the same random weights.

    python bench/quality_bench.py                  # 12 clips, all seven dimensions, both sides
    python bench/quality_bench.py --clips 4 --dimensions temporal_flickering,motion_smoothness
    python bench/quality_bench.py --skip-vbench    # only our side

Side A, vbench-cn: one process, ``vbench-cn evaluate VIDEOS --dimensions <all> --weights NAME=PATH
… --profile`` (decode once, batches across videos). Side B, VBench 0.1.5: its own code in
``.venv-parity`` (``tests/parity/reference_runner.py``: ``VBench('cpu', …).evaluate`` per
dimension, as its CLI loop does). Both load the same seeded checkpoint files
(``tests/parity/harness.py``) and use torch's default thread count. Peak RSS comes from
``os.wait4`` on each child. Results go to ``bench/out/`` (git-ignored): ``bench.json`` plus
the two runs' outputs; a summary table goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "parity"))
import harness  # noqa: E402

QUALITY = (
    "subject_consistency",
    "background_consistency",
    "temporal_flickering",
    "motion_smoothness",
    "dynamic_degree",
    "aesthetic_quality",
    "imaging_quality",
)


# --------------------------------------------------------------------------- videos


def bench_clips(count: int, seed: int, fps: float = 6.0) -> list[tuple[str, np.ndarray, float]]:
    """``count`` clips of 2-3 s at ``fps``, 256-480 px: moving, static, cut, jittery, flickering."""
    from vbench_cn import synthetic as s

    sizes = [(256, 256), (256, 320), (320, 256), (256, 384), (288, 288), (256, 480)]
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(count):
        h, w = sizes[i % len(sizes)]
        frames = int(round(fps * (2.0, 2.5, 3.0)[i % 3]))
        kind = i % 6
        if kind == 0:
            video = s.translating_clip(frames, h, w, pixels_per_frame=2 + i % 3)
        elif kind == 1:
            video = s.static_clip(frames, h, w, seed=i)
        elif kind == 2:
            video = s.scene_cut_clip(frames, h, w, cut_at=frames // 2)
        elif kind == 3:  # texture moving by random steps
            base = s.smooth_texture(h + 64, w + 64, seed=i)
            steps = np.cumsum(rng.integers(0, 6, size=frames))
            video = np.stack([np.roll(base, int(d), axis=1)[:h, :w] for d in steps])
        elif kind == 4:  # slow brightness flicker on a static texture
            base = s.smooth_texture(h, w, seed=i).astype(np.float32)
            gain = 1.0 + 0.08 * np.sin(np.arange(frames) * 1.7)
            video = np.clip(base[None] * gain[:, None, None, None], 0, 255).astype(np.uint8)
        else:
            video = s.translating_clip(frames, h, w, pixels_per_frame=6)
        clips.append((f"clip{i:02d}-{h}x{w}-{frames}f-0.mp4", video, fps))
    return clips


# --------------------------------------------------------------------------- running


def run_child(cmd: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run ``cmd``; its wall time, exit status and peak RSS (``os.wait4``)."""
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{cmd[:4]} failed ({proc.returncode}); see {log}:\n{log.read_text()[-3000:]}"
        )
    return {
        "wall_s": wall,
        "peak_rss_bytes": usage.ru_maxrss * 1024,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "command": cmd,
    }


def run_ours(videos: Path, overrides: dict[str, str], dims: list[str], out: Path) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "vbench_cn",
        "evaluate",
        str(videos),
        "--dimensions",
        ",".join(dims),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--model",
        "bench",
        "--profile",
    ]
    for name, path in overrides.items():
        cmd += ["--weights", f"{name}={path}"]
    child = run_child(cmd, dict(os.environ), out.parent / "ours.log")
    profile = json.loads(next(out.glob("**/profile-rank0.json")).read_text())
    from vbench_cn.results import read_records

    return {**child, "profile": profile, "scores": harness.records_to_scores(read_records(out))}


def run_vbench(videos: Path, cache: Path, dims: list[str], out_json: Path) -> dict[str, Any]:
    cmd = [
        str(ROOT / ".venv-parity" / "bin" / "python"),
        str(ROOT / "tests" / "parity" / "reference_runner.py"),
        "--videos",
        str(videos),
        "--cache",
        str(cache),
        "--dimensions",
        ",".join(dims),
        "--out",
        str(out_json),
        "--threads",
        "0",
    ]
    child = run_child(cmd, dict(os.environ), out_json.parent / "vbench.log")
    return {**child, **json.loads(out_json.read_text())}


# --------------------------------------------------------------------------- report


def summarize(
    ours: dict[str, Any], vb: dict[str, Any] | None, frames: dict[str, int], dims: list[str]
) -> dict[str, Any]:
    prof = ours["profile"]
    fwd = float(prof["forward_s"])
    summary: dict[str, Any] = {
        "ours_wall_s": round(ours["wall_s"], 2),
        "ours_runner_wall_s": prof["wall_s"],
        "ours_forward_s": round(fwd, 2),
        "ours_wall_over_forward": round(ours["wall_s"] / fwd, 3) if fwd else None,
        "ours_runner_wall_over_forward": round(prof["wall_s"] / fwd, 3) if fwd else None,
        "ours_forward_share_of_wall": round(fwd / ours["wall_s"], 3),
        "ours_peak_rss_gb": round(ours["peak_rss_bytes"] / 1e9, 2),
        "ours_breakdown_s": {
            k: prof.get(k)
            for k in ("decode_s", "probe_s", "prepare_s", "forward_s", "score_s", "other_s")
        },
        "ours_startup_and_load_s": round(ours["wall_s"] - prof["wall_s"], 2),
        "backbones": prof["extractors"],
        "frames": frames,
    }
    if vb is not None:
        summary.update(
            {
                "vbench_wall_s": round(vb["wall_s"], 2),
                "vbench_peak_rss_gb": round(vb["peak_rss_bytes"] / 1e9, 2),
                "vbench_seconds_per_dimension": {k: round(v, 2) for k, v in vb["seconds"].items()},
                "vbench_import_s": round(vb["import_seconds"], 2),
                "speedup_vbench_over_ours": round(vb["wall_s"] / ours["wall_s"], 3),
            }
        )
        diffs = {}
        for dim in dims:
            scale = harness.REFERENCE_SCALE.get(
                dim, 1.0
            )  # imaging: VBench keeps MOS per video, we MOS/100
            a = ours["scores"].get(dim, {})
            b = {v: x * scale for v, x in vb["scores"].get(dim, {}).items()}
            common = set(a) & set(b)
            diffs[dim] = {
                "videos": len(common),
                "max_abs_diff": max((abs(a[v] - b[v]) for v in common), default=None),
            }
        summary["score_agreement"] = diffs
    return summary


def print_table(s: dict[str, Any], dims: list[str]) -> None:
    print("\n## vbench-cn vs VBench 0.1.5 (same videos, same random weights, CPU)\n")
    print("| | vbench-cn | VBench 0.1.5 |")
    print("|---|---|---|")
    print(f"| wall time (s) | {s['ours_wall_s']} | {s.get('vbench_wall_s', '-')} |")
    print(f"| peak RSS (GB) | {s['ours_peak_rss_gb']} | {s.get('vbench_peak_rss_gb', '-')} |")
    if "speedup_vbench_over_ours" in s:
        print(f"| speed-up (VBench wall / ours) | {s['speedup_vbench_over_ours']}x | |")
    print(
        f"| our wall / our forward time | {s['ours_wall_over_forward']} (runner only: "
        f"{s['ours_runner_wall_over_forward']}) | |"
    )
    print(f"| share of our wall in forward passes | {s['ours_forward_share_of_wall']:.1%} | |")
    print("\n| backbone | frames | forward s | frames/s | share of wall |")
    print("|---|---|---|---|---|")
    for row in s["backbones"]:
        print(
            f"| {row['extractor']} | {row['frames']} | {row['forward_s']} | "
            f"{row['frames_per_s']} | {row['forward_share']} |"
        )
    if "vbench_seconds_per_dimension" in s:
        print("\n| VBench dimension | seconds (incl. model load, decode) |")
        print("|---|---|")
        for dim, sec in s["vbench_seconds_per_dimension"].items():
            print(f"| {dim} | {sec} |")
        print("\n| dimension | videos | max abs diff ours vs VBench (default threads) |")
        print("|---|---|---|")
        for dim, d in s["score_agreement"].items():
            print(f"| {dim} | {d['videos']} | {d['max_abs_diff']} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dimensions", default=",".join(QUALITY))
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    p.add_argument("--skip-vbench", action="store_true")
    p.add_argument("--fps", type=float, default=6.0)
    p.add_argument(
        "--dino-repo", type=Path, help="facebookresearch/dino checkout (or $VBENCH_CN_DINO_REPO)"
    )
    args = p.parse_args(argv)
    dims = [d for d in args.dimensions.split(",") if d]
    out = args.out
    if out.exists():
        import shutil

        shutil.rmtree(out)
    out.mkdir(parents=True)
    from vbench_cn import synthetic as s

    frames: dict[str, int] = {}
    for name, video, fps in bench_clips(args.clips, args.seed, args.fps):
        s.write_video(out / "videos" / name, video, fps=fps)
        frames[name] = int(video.shape[0])
    dino = args.dino_repo or (
        Path(os.environ["VBENCH_CN_DINO_REPO"]) if "VBENCH_CN_DINO_REPO" in os.environ else None
    )
    if not args.skip_vbench and "subject_consistency" in dims and dino is None:
        p.error(
            "VBench loads DINO through torch.hub from a facebookresearch/dino checkout: "
            "pass --dino-repo"
        )
    cache, overrides = harness.write_checkpoints(args.seed, out / "weights", dims, dino_repo=dino)
    print(
        f"{len(frames)} clips, {sum(frames.values())} frames; dimensions: {', '.join(dims)}",
        file=sys.stderr,
    )
    ours = run_ours(out / "videos", overrides, dims, out / "ours")
    print(f"vbench-cn: {ours['wall_s']:.1f} s", file=sys.stderr)
    vb = None
    if not args.skip_vbench:
        vb = run_vbench(out / "videos", cache, dims, out / "vbench.json")
        print(f"VBench: {vb['wall_s']:.1f} s", file=sys.stderr)
    summary = summarize(ours, vb, frames, dims)
    summary["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    (out / "bench.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print_table(summary, dims)
    return 0


if __name__ == "__main__":
    sys.exit(main())
