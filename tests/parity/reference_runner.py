"""Run VBench's own per-dimension code on a folder of videos; write per-video scores to JSON.

Runs INSIDE ``.venv-parity`` (vbench==0.1.5 and its working package set, see
``docs/vbench-offline.md``); never imports vbench_cn. The checkpoints must already be in
VBench's cache layout under ``--cache`` (``harness.write_checkpoints`` puts them there).

    .venv-parity/bin/python tests/parity/reference_runner.py --videos DIR --cache DIR \\
        --dimensions temporal_flickering,motion_smoothness --out ref.json --threads 1

Output: ``{"vbench_version", "threads", "scores": {dim: {file name: score}},
"aggregates": {dim: value}, "seconds": {dim: wall seconds incl. model loading},
"import_seconds", "peak_rss_bytes"}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", required=True, type=Path, help="folder of .mp4 files")
    p.add_argument(
        "--cache", required=True, type=Path, help="VBench cache dir with the checkpoints"
    )
    p.add_argument("--dimensions", required=True, help="comma-separated VBench dimension names")
    p.add_argument("--out", required=True, type=Path, help="JSON file to write")
    p.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (0: torch default)"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["VBENCH_CACHE_DIR"] = str(args.cache.resolve())  # read by vbench.utils at import
    os.environ.setdefault("TORCH_HOME", str((args.cache / "torch_home").resolve()))
    t0 = time.perf_counter()
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    import vbench
    from vbench import VBench

    import_seconds = time.perf_counter() - t0
    dims = [d.strip() for d in args.dimensions.split(",") if d.strip()]
    scores: dict[str, dict[str, float]] = {}
    aggregates: dict[str, float] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="vbench-ref-") as tmp:
        bench = VBench("cpu", None, tmp)
        for dim in dims:
            t = time.perf_counter()
            bench.evaluate(
                str(args.videos.resolve()),
                f"parity_{dim}",
                dimension_list=[dim],
                local=True,
                read_frame=False,
                mode="custom_input",
                imaging_quality_preprocessing_mode="longer",
            )
            seconds[dim] = time.perf_counter() - t
            result = json.loads((Path(tmp) / f"parity_{dim}_eval_results.json").read_text())[dim]
            aggregates[dim] = _number(result[0])
            scores[dim] = {
                Path(v["video_path"]).name: _number(v["video_results"]) for v in result[1]
            }
    out = {
        "vbench_version": getattr(vbench, "__version__", None) or _dist_version("vbench"),
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "scores": scores,
        "aggregates": aggregates,
        "seconds": seconds,
        "import_seconds": import_seconds,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, sort_keys=True), encoding="utf-8")
    return 0


def _number(value: object) -> float:
    """VBench's per-video results are floats, numpy floats or bools (dynamic degree)."""
    return float(value)  # type: ignore[arg-type]


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
