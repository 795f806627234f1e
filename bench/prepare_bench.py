"""Time every extractor's ``prepare`` on seeded frames, on the CPU or on a CUDA device.

    python bench/prepare_bench.py                          # 720p, CPU, default extractors
    python bench/prepare_bench.py --size 1920x1080 --frames 8 --repeats 5
    python bench/prepare_bench.py --device cuda            # frames uploaded first, then timed

Only ``prepare`` runs, so the models are built on the ``meta`` device (no memory, no random
init); an extractor whose constructor needs real values (OWLv2 embeds its queries) is built
with seeded random weights instead. With ``--device cuda`` the frames are on the device
before the clock starts (except for ``host_prepare`` extractors, which get host frames)
and the device is synchronised before it stops. RAFT converts its uint8 pairs to float in
``forward``; that conversion is timed separately (``forward_input_ms``). Reported: the best
of ``--repeats`` runs, per frame, process CPU time and wall time. Writes
``bench/out/prepare.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = (
    "frame_difference,dino_vitb16,clip_vitb32,clip_vitl14_aesthetic,musiq_spaq,raft_things,"
    "amt_s,owlv2_coco,umt_l16_k400,viclip_l14,clip_places365"
)


def build(name: str, device: torch.device) -> Any:
    """The extractor with its model on meta when it allows, else with random weights."""
    from vbench_cn.features import ExtractorOptions, FeatureExtractor, build_extractor
    from vbench_cn.weights import get_weights

    original = FeatureExtractor.load

    def on_meta(self: Any, weights: str | None = None) -> tuple[Any, str]:
        with torch.device("meta"):
            return get_weights(weights or self.weights[0]).build().eval(), "random"

    FeatureExtractor.load = on_meta  # type: ignore[method-assign]
    try:
        ext = build_extractor(name, ExtractorOptions(device=device, random_weights=True))
    except Exception:
        FeatureExtractor.load = original  # type: ignore[method-assign]
        ext = build_extractor(name, ExtractorOptions(device=device, random_weights=True))
    finally:
        FeatureExtractor.load = original  # type: ignore[method-assign]
    return ext


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_prepare(ext: Any, frames: torch.Tensor, repeats: int) -> dict[str, Any]:
    from vbench_cn.video import VideoInfo

    n, h, w, _ = frames.shape
    info = VideoInfo("bench.mp4", n, 24.0, n / 24.0, w, h, None, False, "decord")
    host = getattr(type(ext), "host_prepare", False)
    device = torch.device("cpu") if host else ext.device
    x = frames.to(device)
    best_cpu = best_wall = float("inf")
    items = None
    for _ in range(repeats + 1):  # the first run warms caches and kernels
        _sync(device)
        c0, w0 = time.process_time(), time.perf_counter()
        items = ext.prepare(x, position=0, info=info)
        _sync(device)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        if items is not None and _ > 0:
            best_cpu, best_wall = min(best_cpu, cpu), min(best_wall, wall)
        if items is None:
            break
    row: dict[str, Any] = {
        "items": None if items is None else list(items.shape),
        "dtype": None if items is None else str(items.dtype).removeprefix("torch."),
        "prepare_cpu_ms_per_frame": round(1e3 * best_cpu / n, 3),
        "prepare_wall_ms_per_frame": round(1e3 * best_wall / n, 3),
        "host_prepare": host,
    }
    if ext.name == "raft_things" and items is not None and items.dtype == torch.uint8:
        from vbench_cn.features._transforms import pad_to_multiple, to_float_nchw

        batch = items.to(ext.device)
        best = float("inf")
        for _ in range(repeats + 1):
            _sync(ext.device)
            w0 = time.perf_counter()
            b, _p, hh, ww, c = batch.shape
            pad_to_multiple(to_float_nchw(batch.reshape(b * 2, hh, ww, c)), 8)
            _sync(ext.device)
            best = min(best, time.perf_counter() - w0) if _ > 0 else best
        row["forward_input_wall_ms_per_frame"] = round(1e3 * best / n, 3)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--extractors", default=DEFAULT)
    p.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "prepare.json")
    args = p.parse_args(argv)
    from vbench_cn import synthetic

    width, height = (int(v) for v in args.size.split("x"))
    clip = synthetic.translating_clip(args.frames, height, width, pixels_per_frame=3, seed=0)
    frames = torch.from_numpy(np.ascontiguousarray(clip))
    device = torch.device(args.device)
    rows = {}
    for name in [n for n in args.extractors.split(",") if n]:
        ext = build(name, device)
        rows[name] = time_prepare(ext, frames, args.repeats)
        print(name, rows[name], file=sys.stderr)
        del ext
    result = {
        "size": args.size,
        "frames": args.frames,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "extractors": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
