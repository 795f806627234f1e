"""Time GRiT-B two ways on the same frames and the same seeded weights, and say where the time goes.

    python bench/semantic_bench.py                        # 8 frames of 256x320, both sides
    python bench/semantic_bench.py --frames 16 --size 480x640 --threads 2
    python bench/semantic_bench.py --skip-vbench          # only our side

Side A, vbench-cn: ``GRiT`` of ``vbench_cn/features/grit_arch.py``, the frames in batches
of ``--batch`` (both tasks decoded for every box in one pass), as the runner calls it.
Side B, VBench 0.1.5: its own ``DenseCaptioning`` (``vbench/third_party/grit_model.py``) in
``.venv-parity``, one frame at a time as its dimension files call it, twice: with the
ObjectDet task (object class, multiple objects and spatial relationship each run it) and with
DenseCap (colour); a video of one dimension costs one such call a frame on either side.
VBench's per-part times come from wrappers around its backbone, proposal
generator, RoI heads, text decoders and visualiser: VBench's code runs unchanged.

Both load the seeded checkpoint of ``tests/parity/harness.py`` (float16 in VBench's layout),
shaped as in the parity runs (a few boxes a frame, short descriptions), use the same torch
thread count and report per-frame seconds. Results: ``bench/out/semantic/bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "parity"))
import grit_cases  # noqa: E402
import harness  # noqa: E402

#: Runs inside .venv-parity: VBench's GRiT on every frame, per task, with per-part timers.
VBENCH_SIDE = textwrap.dedent(
    """
    import json, sys, time, resource
    from collections import defaultdict
    import numpy as np, torch
    torch.set_num_threads(int(sys.argv[4]))
    from vbench.third_party.grit_model import DenseCaptioning
    from vbench.third_party.grit_src.grit.modeling.text.text_decoder import GRiTTextDecoder
    from detectron2.utils.visualizer import Visualizer
    frames = np.load(sys.argv[2]).astype(np.float32)
    parts = defaultdict(float)

    def timed(owner, attr, key):
        original = getattr(owner, attr)
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                parts[key] += time.perf_counter() - t
        setattr(owner, attr, wrapper)

    timed(GRiTTextDecoder, "forward", "text decoding (both heads)")
    timed(Visualizer, "overlay_instances", "visualiser (discarded)")
    out = {}
    for task in ("ObjectDet", "DenseCap"):
        m = DenseCaptioning(torch.device("cpu"))
        t = time.perf_counter()
        (m.initialize_model_det if task == "ObjectDet" else m.initialize_model)(sys.argv[1])
        load = time.perf_counter() - t
        model = m.demo.predictor.model
        timed(model.backbone, "forward", "backbone + pyramid")
        timed(model.proposal_generator, "forward", "proposals")
        timed(model.roi_heads, "forward", "task head (cascade + decoding)")
        timed(model.roi_heads, "forward_object", "ObjectDet head (cascade + decoding)")
        parts.clear()
        boxes = 0
        t = time.perf_counter()
        for frame in frames:
            with torch.no_grad():
                pred, _ = m.run_det_tensor(frame)
            boxes += len(pred["instances"])
        total = time.perf_counter() - t
        out[task] = {"load_s": load, "total_s": total, "boxes": boxes, "parts_s": dict(parts)}
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out["torch"] = torch.__version__
    json.dump(out, open(sys.argv[3], "w"))
    """
)


def bench_frames(count: int, height: int, width: int) -> np.ndarray:
    """``count`` frames of a moving texture with a scene cut (uint8 RGB)."""
    from vbench_cn import synthetic as s

    half = count // 2
    return np.concatenate(
        [
            s.translating_clip(half, height, width, pixels_per_frame=3),
            s.scene_cut_clip(count - half, height, width, cut_at=max(1, (count - half) // 2)),
        ]
    )


def our_side(frames: np.ndarray, checkpoint: Path, batch: int, threads: int) -> dict[str, object]:
    """Our GRiT on ``frames`` in batches, with per-part timers; both tasks per box."""
    from vbench_cn.features import grit as G
    from vbench_cn.features import grit_arch as A
    from vbench_cn.weights import read_file

    torch.set_num_threads(threads)
    t = time.perf_counter()
    model = G.build_grit()
    model.load_state_dict(G.convert_grit(read_file(checkpoint)), strict=True)
    load = time.perf_counter() - t
    parts: dict[str, float] = defaultdict(float)

    def timed(fn, key):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                parts[key] += time.perf_counter() - t0

        return wrapper

    model.backbone.forward = timed(model.backbone.forward, "backbone + pyramid")
    head = model.proposal_generator.centernet_head
    head.forward = timed(head.forward, "proposals (head)")
    A.select_proposals = timed(A.select_proposals, "proposals (selection, NMS)")
    A.greedy_decode = timed(A.greedy_decode, "text decoding (both tasks)")
    x = torch.from_numpy(frames).permute(0, 3, 1, 2)
    boxes = 0
    t = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            boxes += len(model(x[i : i + batch]).image)
    total = time.perf_counter() - t
    known = sum(parts.values())
    parts["cascade, pooling, rest"] = max(0.0, total - known)
    return {"load_s": load, "total_s": total, "boxes": boxes, "parts_s": dict(parts)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", default="256x320", help="HxW of the frames")
    p.add_argument("--batch", type=int, default=4, help="our frames per forward")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-vbench", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "semantic")
    args = p.parse_args(argv)
    height, width = (int(v) for v in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    frames = bench_frames(args.frames, height, width)
    with tempfile.TemporaryDirectory(prefix="semantic-bench-") as tmp:
        cache, _ = harness.write_checkpoints(
            args.seed, Path(tmp) / "weights", list(grit_cases.DIMENSIONS)
        )
        checkpoint = cache / harness.GRIT_FILES[harness.grit_seeded.NAME]
        result: dict[str, object] = {
            "frames": args.frames,
            "size": [height, width],
            "threads": args.threads,
            "batch": args.batch,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus",
        }
        result["vbench_cn"] = our_side(frames, checkpoint, args.batch, args.threads)
        result["vbench_cn_peak_rss_bytes"] = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        if not args.skip_vbench:
            from run_live import parity_python

            np.save(Path(tmp) / "frames.npy", frames)
            script = Path(tmp) / "vbench_side.py"
            script.write_text(VBENCH_SIDE, encoding="utf-8")
            env = {
                **os.environ,
                "HF_HOME": str(cache / "hf_home"),
                "HF_HUB_OFFLINE": "1",
                "OMP_NUM_THREADS": str(args.threads),
            }
            out = Path(tmp) / "vbench.json"
            cmd = [
                str(parity_python()),
                str(script),
                str(checkpoint),
                str(Path(tmp) / "frames.npy"),
                str(out),
                str(args.threads),
            ]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            result["vbench"] = json.loads(out.read_text())
    (args.out / "bench.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(summary(result))
    return 0


def summary(result: dict) -> str:
    """Per-frame seconds of each side, and where they go."""
    n = result["frames"]
    lines = [
        f"{n} frames of {result['size'][0]}x{result['size'][1]}, {result['threads']} thread(s)"
    ]
    ours = result["vbench_cn"]
    lines.append(
        f"vbench-cn: {ours['total_s'] / n:.2f} s/frame for both tasks ({ours['boxes']} boxes), "
        f"load {ours['load_s']:.1f} s"
    )
    for key, value in sorted(ours["parts_s"].items(), key=lambda kv: -kv[1]):
        lines.append(f"    {key}: {value / n:.3f} s/frame")
    if "vbench" in result:
        ref = result["vbench"]
        for task in ("ObjectDet", "DenseCap"):
            r = ref[task]
            lines.append(
                f"VBench {task}: {r['total_s'] / n:.2f} s/frame ({r['boxes']} boxes), "
                f"load {r['load_s']:.1f} s"
            )
            for key, value in sorted(ref[task]["parts_s"].items(), key=lambda kv: -kv[1]):
                lines.append(f"    {key}: {value / n:.3f} s/frame")
        per_call = (ref["ObjectDet"]["total_s"] + ref["DenseCap"]["total_s"]) / 2
        lines.append(
            f"per frame, one GRiT call (what a video of one dimension costs): VBench "
            f"{per_call / n:.2f} s, vbench-cn {ours['total_s'] / n:.2f} s: "
            f"{per_call / ours['total_s']:.1f}x"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
