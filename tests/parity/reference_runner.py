"""Run VBench's own per-dimension code on a folder of videos; write per-video scores to JSON.

Runs INSIDE ``.venv-parity`` (vbench==0.1.5 and its working package set, see
``docs/vbench-offline.md``); never imports vbench_cn. The checkpoints must already be in
VBench's cache layout under ``--cache`` (``harness.write_checkpoints`` puts them there).

    .venv-parity/bin/python tests/parity/reference_runner.py --videos DIR --cache DIR \\
        --dimensions temporal_flickering,motion_smoothness --out ref.json --threads 1

Output: ``{"vbench_version", "threads", "scores": {dim: {file name: score}},
"aggregates": {dim: value}, "seconds": {dim: wall seconds incl. model loading},
"import_seconds", "peak_rss_bytes"}``.

The GRiT dimensions (object class, multiple objects, colour, spatial relationship) exist only
for prompts of a VBench prompt-info file: pass one with ``--full-info`` (``vbench_standard``
mode, videos named ``{prompt}-0.mp4``). The BERT vocabulary GRiT's tokenizer loads is read
from ``<cache>/hf_home`` (offline). ``--grit-frames`` also writes what GRiT predicted for
every sampled frame (boxes, scores, task-head descriptions, ObjectDet names), recorded by
wrapping VBench's ``VisualizationDemo.run_on_image`` and each dimension's ``load_video``:
VBench's code runs unchanged, the wrappers only watch.
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
    p.add_argument("--full-info", type=Path, help="VBench prompt-info JSON (vbench_standard mode)")
    p.add_argument("--grit-frames", type=Path, help="write GRiT's per-frame predictions here")
    return p.parse_args(argv)


GRIT_DIMENSIONS = ("object_class", "multiple_objects", "color", "spatial_relationship")


def watch_grit(dims: list[str]) -> dict[str, dict[str, list[dict]]]:
    """Record GRiT's predictions per dimension, video file and sampled frame (in call order)."""
    import importlib

    from vbench.third_party.grit_src.grit.predictor import VisualizationDemo

    frames: dict[str, dict[str, list[dict]]] = {}
    where = {"dim": "", "video": ""}
    run_on_image = VisualizationDemo.run_on_image

    def recording_run(self, image):  # type: ignore[no-untyped-def]
        predictions, visualized = run_on_image(self, image)
        inst = predictions["instances"]
        frames[where["dim"]][where["video"]].append(
            {
                "boxes": inst.pred_boxes.tensor.tolist(),
                "scores": inst.scores.tolist(),
                "descriptions": list(inst.pred_object_descriptions.data),
                "det_obj": list(inst.det_obj.data),
            }
        )
        return predictions, visualized

    VisualizationDemo.run_on_image = recording_run
    for dim in dims:
        module = importlib.import_module(f"vbench.{dim}")
        load_video = module.load_video

        def watching_load(video_path, *args, _dim=dim, _load=load_video, **kwargs):  # type: ignore[no-untyped-def]
            where["dim"], where["video"] = _dim, Path(video_path).name
            frames.setdefault(_dim, {})[where["video"]] = []
            return _load(video_path, *args, **kwargs)

        module.load_video = watching_load
    return frames


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ["VBENCH_CACHE_DIR"] = str(args.cache.resolve())  # read by vbench.utils at import
    os.environ.setdefault("TORCH_HOME", str((args.cache / "torch_home").resolve()))
    os.environ["HF_HOME"] = str((args.cache / "hf_home").resolve())  # GRiT's BERT vocabulary
    os.environ["HF_HUB_OFFLINE"] = "1"
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
    grit_frames = watch_grit([d for d in dims if d in GRIT_DIMENSIONS]) if args.grit_frames else {}
    full_info = str(args.full_info.resolve()) if args.full_info else None
    with tempfile.TemporaryDirectory(prefix="vbench-ref-") as tmp:
        # VBench's entry points pass a torch.device; GRiT needs one (device.type), while the
        # quality dimensions' fixture was made with the string "cpu"
        bench = VBench(torch.device("cpu") if full_info else "cpu", full_info, tmp)
        for dim in dims:
            t = time.perf_counter()
            bench.evaluate(
                str(args.videos.resolve()),
                f"parity_{dim}",
                dimension_list=[dim],
                local=True,
                read_frame=False,
                mode="vbench_standard" if full_info else "custom_input",
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
    if args.grit_frames:
        args.grit_frames.write_text(json.dumps(grit_frames), encoding="utf-8")
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
