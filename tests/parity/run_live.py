"""Live parity run: VBench's own code (in .venv-parity) and vbench-cn on the same videos, weights.

    python tests/parity/run_live.py                       # compare, print the table
    python tests/parity/run_live.py --freeze              # ... and rewrite the JSON fixture
    python tests/parity/run_live.py --dimensions motion_smoothness --keep /tmp/parity

    python tests/parity/run_live.py --grit [--freeze]     # the four GRiT dimensions

Steps: encode the harness videos; save seeded random checkpoints in VBench's cache layout
and in ours; run ``reference_runner.py`` with ``.venv-parity/bin/python`` (threads 1); run
``vbench-cn evaluate --weights NAME=PATH`` (``OMP_NUM_THREADS=1``, TF32 irrelevant on CPU);
compare per-video scores with ``tolerances.toml``. Exit status 1 when a dimension is out of
tolerance. Build the parity venv first as ``docs/vbench-offline.md`` says (the commands
are in ``tests/parity/README.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import grit_cases  # noqa: E402
import harness  # noqa: E402

DEFAULT_DIMENSIONS = tuple(harness.BACKBONES)  # the seven quality dimensions


def parity_python() -> Path:
    """``$VBENCH_CN_PARITY_PYTHON`` or ``<repo>/.venv-parity/bin/python``."""
    env = os.environ.get("VBENCH_CN_PARITY_PYTHON")
    return Path(env) if env else harness.REPO / ".venv-parity" / "bin" / "python"


def run_reference(
    videos: Path,
    cache: Path,
    dims: list[str],
    out: Path,
    threads: int = 1,
    extra: list[str] | None = None,
) -> tuple[dict, list[str]]:
    """Run VBench in the parity venv; returns its JSON and the command used."""
    cmd = [
        str(parity_python()),
        str(harness.HERE / "reference_runner.py"),
        "--videos",
        str(videos),
        "--cache",
        str(cache),
        "--dimensions",
        ",".join(dims),
        "--out",
        str(out),
        "--threads",
        str(threads),
        *(extra or []),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"reference runner failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text()), cmd


def run_ours(
    videos: Path, overrides: dict[str, str], dims: list[str], out: Path
) -> tuple[dict, list[str]]:
    """Run ``vbench-cn evaluate`` in a subprocess with one thread; return scores and command."""
    from vbench_cn.results import read_records

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
        "parity",
    ]
    for name, path in overrides.items():
        cmd += ["--weights", f"{name}={path}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"vbench-cn evaluate failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return harness.records_to_scores(read_records(out)), cmd


def run_grit(seed: int, work: Path, freeze: bool, reuse: bool = False) -> int:
    """The four GRiT dimensions: VBench in vbench_standard mode on the prompted cases, our
    runner on the same prompts (a manifest), scores and every frame's detections compared.
    ``reuse``: take VBench's outputs from an earlier run kept in ``work`` (VBench's side is
    ~20 min on a busy 2-core machine)."""
    dims = list(grit_cases.DIMENSIONS)
    videos = work / "grit_videos"
    digests = harness.write_grit_videos(videos)
    full_info = work / "grit_full_info.json"
    full_info.write_text(json.dumps(grit_cases.vbench_full_info(dims), indent=1), encoding="utf-8")
    cache, overrides = harness.write_checkpoints(seed, work / "weights", dims)
    ref_json, frames_json = work / "grit_reference.json", work / "grit_frames.json"
    if reuse and ref_json.is_file() and frames_json.is_file():
        # VBench's outputs of an earlier run in this folder (same videos, prompt-info, weights)
        ref = json.loads(ref_json.read_text(encoding="utf-8"))
        print(f"reusing VBench's outputs in {work}", file=sys.stderr)
    else:
        ref, _ = run_reference(
            videos,
            cache,
            dims,
            ref_json,
            extra=["--full-info", str(full_info), "--grit-frames", str(frames_json)],
        )
    ref_frames = json.loads(frames_json.read_text(encoding="utf-8"))
    t1 = time.perf_counter()
    manifest = grit_cases.write_manifest(videos, work / "grit_manifest.jsonl")
    ours, _ = run_ours(manifest, overrides, dims, work / "grit_ours")
    t2 = time.perf_counter()
    our_frames = harness.our_grit_frames(videos, overrides)
    rows = harness.compare(ours, ref["scores"], harness.load_tolerances())
    frame_rows = harness.compare_grit_frames(our_frames, ref_frames)
    print(harness.format_table(rows))
    print(harness.format_frame_table(frame_rows))
    print(
        f"\nVBench {ref['vbench_version']} {sum(ref['seconds'].values()):.1f} s, "
        f"vbench-cn {t2 - t1:.1f} s "
        "(1 thread each, the four dimensions; VBench runs GRiT once per dimension)"
    )
    if freeze:
        fixture = {
            "vbench_version": ref["vbench_version"],
            "torch_version": ref["torch_version"],
            "seed": seed,
            "threads": ref["threads"],
            "command": f"python tests/parity/run_live.py --grit --freeze --seed {seed}",
            "videos": {
                c.file: {"fps": c.fps, "decoded_sha256": digests[c.file]} for c in grit_cases.CASES
            },
            "scores": ref["scores"],
            "aggregates": ref["aggregates"],
            "seconds": ref["seconds"],
            "frames": ref_frames,
            "vbench_cn_at_freeze": ours,
        }
        path = harness.grit_fixture_path(seed)
        path.write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(harness.REPO)}")
    return 0 if all(r.ok for r in rows) and all(r.ok for r in frame_rows) else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dimensions", default=",".join(DEFAULT_DIMENSIONS))
    p.add_argument(
        "--freeze", action="store_true", help="write tests/parity/fixtures/vbench-<v>-seed<S>.json"
    )
    p.add_argument("--keep", type=Path, help="work in this folder and keep it")
    p.add_argument(
        "--grit",
        action="store_true",
        help="the four GRiT dimensions instead (fixture grit-vbench-<v>-seed<S>.json)",
    )
    p.add_argument(
        "--reuse",
        action="store_true",
        help="with --grit --keep DIR: reuse VBench's outputs of an earlier run kept in DIR",
    )
    args = p.parse_args(argv)
    dims = [d for d in args.dimensions.split(",") if d]
    if not parity_python().exists():
        print(f"no parity venv at {parity_python()}; see tests/parity/README.md", file=sys.stderr)
        return 2
    if args.grit:
        with tempfile.TemporaryDirectory(prefix="vbench-cn-parity-") as tmp:
            work = args.keep or Path(tmp)
            work.mkdir(parents=True, exist_ok=True)
            return run_grit(args.seed, work, args.freeze, reuse=args.reuse)
    with tempfile.TemporaryDirectory(prefix="vbench-cn-parity-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        digests = harness.write_videos(work / "videos")
        dino = os.environ.get("VBENCH_CN_DINO_REPO")
        if "subject_consistency" in dims and not dino:
            print(
                "subject_consistency needs a facebookresearch/dino checkout (hubconf.py, "
                "vision_transformer.py, utils.py) in $VBENCH_CN_DINO_REPO: VBench loads DINO "
                "through torch.hub from it",
                file=sys.stderr,
            )
            return 2
        cache, overrides = harness.write_checkpoints(
            args.seed, work / "weights", dims, dino_repo=Path(dino) if dino else None
        )
        t0 = time.perf_counter()
        ref, ref_cmd = run_reference(work / "videos", cache, dims, work / "reference.json")
        t1 = time.perf_counter()
        ours, our_cmd = run_ours(work / "videos", overrides, dims, work / "ours")
        t2 = time.perf_counter()
        rows = harness.compare(ours, ref["scores"], harness.load_tolerances())
        print(harness.format_table(rows))
        print(
            f"\nVBench {ref['vbench_version']} {t1 - t0:.1f} s, "
            f"vbench-cn {t2 - t1:.1f} s (1 thread each)"
        )
        if args.freeze:
            fixture = {
                "vbench_version": ref["vbench_version"],
                "torch_version": ref["torch_version"],
                "seed": args.seed,
                "threads": ref["threads"],
                "command": "python tests/parity/run_live.py --freeze "
                + shlex.join(["--seed", str(args.seed), "--dimensions", ",".join(dims)]),
                "reference_command": "VBENCH_CACHE_DIR=<weights>/vbench_cache "
                + shlex.join(
                    [
                        ".venv-parity/bin/python",
                        "tests/parity/reference_runner.py",
                        "--videos",
                        "<videos>",
                        "--cache",
                        "<weights>/vbench_cache",
                        "--dimensions",
                        ",".join(dims),
                        "--out",
                        "<ref.json>",
                        "--threads",
                        "1",
                    ]
                ),
                "videos": {
                    c.name: {"codec": c.codec, "fps": c.fps, "decoded_sha256": digests[c.name]}
                    for c in harness.CASES
                },
                "scores": ref["scores"],
                "aggregates": ref["aggregates"],
                "vbench_cn_at_freeze": ours,
            }
            path = harness.fixture_path(args.seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(fixture, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            print(f"wrote {path.relative_to(harness.REPO)}")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
