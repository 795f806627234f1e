"""Long-video benchmark: a 10-minute 1080p synthetic video scored on the Duration dimensions.

Measures what the issue asks of long videos: peak resident memory (must stay under 2 GiB:
memory bounded by the decode chunk and the per-frame features, not by the video's length)
and throughput (video frames and sampled frames per wall-clock second).

    python bench/long_video_bench.py generate /tmp/long1080.mp4 --minutes 10 --fps 8
    python bench/long_video_bench.py score /tmp/long1080.mp4 --chunk-frames 64
    python bench/long_video_bench.py score /tmp/long1080.mp4 --spec-set default --random-weights
    python bench/long_video_bench.py run /tmp/long1080.mp4  # generate if absent, then score both

The video: a 1920x1080 texture panning 2 px per frame under a moving square, with two hard
cuts (at 30 % and 60 % of its length: 3:00 and 6:00 of 10 minutes), a 4-s clip looped for
40 s from 80 % (8:00) and a freeze over the last 10 % (the last minute), so the scores have
known answers as well. Frames are generated and encoded one at a
time (x264 ultrafast, CRF 23): the generator never holds the video either.

``score`` runs in its own process, so ``ru_maxrss`` is the scoring's peak alone; ``run``
starts each scoring as a child process and reads its result line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1920, 1080
PAN_PX_PER_FRAME = 2
#: Weight-free variants of the two learned-backbone specs (as tests/duration does).
WEIGHT_FREE = {
    "sustained_quality": [('backbone = "musiq_spaq"', 'backbone = "sharpness_noise"')],
    "long_range_consistency": [
        ('backbone = "dino_vitb16"', 'backbone = "tiny_pixels"'),
        ("min_lag_seconds = 10.0 }", "min_lag_seconds = 10.0, center_frames = true }"),
    ],
}
DURATION_DIMS = [
    "sustained_quality",
    "long_range_consistency",
    "motion_persistence",
    "loop_detection",
    "unintended_cuts",
]


# --------------------------------------------------------------------------- generation


def _texture(height: int, width: int, seed: int, cell: int = 24) -> np.ndarray:
    """A smooth colourful ``(H, W, 3)`` uint8 texture, drawn in column strips (bounded memory)."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, height // cell + 2, width // cell + 2, generator=g)
    out = np.empty((height, width, 3), dtype=np.uint8)
    strip = 960
    for x0 in range(0, width, strip):
        x1 = min(width, x0 + strip)
        c0, c1 = x0 // cell, x1 // cell + 2
        up = F.interpolate(
            small[..., c0 : c1 + 1], scale_factor=cell, mode="bilinear", align_corners=False
        )
        off = x0 - c0 * cell
        out[:, x0:x1] = (
            (up[0, :, :height, off : off + (x1 - x0)].permute(1, 2, 0) * 255)
            .to(torch.uint8)
            .numpy()
        )
    return out


def generate(
    path: Path, *, minutes: float = 10.0, fps: float = 8.0, crf: int = 23
) -> dict[str, float]:
    """Write the benchmark video to ``path`` frame by frame; returns timing facts."""
    import av

    n = round(minutes * 60 * fps)
    cut1, cut2 = int(0.3 * n), int(0.6 * n)  # 3:00 and 6:00 of 10 minutes
    loop_start, loop_len, loop_end = (
        int(0.8 * n),
        int(4 * fps),
        int(0.8 * n + 40 * fps),
    )  # 8:00-8:40
    freeze_at = int(0.9 * n)  # 9:00 to the end
    scenes = [_texture(HEIGHT, WIDTH + PAN_PX_PER_FRAME * n, seed) for seed in (1, 2, 3)]

    def frame_at(t: int) -> np.ndarray:
        if loop_start <= t < loop_end:
            t = loop_start + (t - loop_start) % loop_len
        if t >= freeze_at:
            t = freeze_at - 1
        scene = scenes[0 if t < cut1 else 1 if t < cut2 else 2]
        x = PAN_PX_PER_FRAME * t
        img = scene[:, x : x + WIDTH].copy()
        sy = int(HEIGHT / 2 + 300 * np.sin(t / 37.0))
        sx = int(WIDTH / 2 + 700 * np.sin(t / 53.0))
        img[sy - 60 : sy + 60, sx - 60 : sx + 60] = (250, 240, 40)
        return img

    t0 = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "ultrafast"}
        for t in range(n):
            frame = av.VideoFrame.from_ndarray(frame_at(t), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return {
        "frames": n,
        "fps": fps,
        "seconds": round(time.perf_counter() - t0, 1),
        "bytes": path.stat().st_size,
    }


# --------------------------------------------------------------------------- scoring


def _weight_free_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="vbench-cn-bench-dims-"))
    for dim, edits in WEIGHT_FREE.items():
        text = (ROOT / "dimensions" / f"{dim}.toml").read_text(encoding="utf-8")
        for old, new in edits:
            if old not in text:
                raise SystemExit(f"dimensions/{dim}.toml changed: update WEIGHT_FREE in {__file__}")
            text = text.replace(old, new)
        (folder / f"{dim}.toml").write_text(text, encoding="utf-8")
    return folder


def score(
    video: Path, *, spec_set: str, chunk_frames: int, random_weights: bool
) -> dict[str, object]:
    """Score ``video`` in this process; returns timings, peak RSS and the scores."""
    from vbench_cn.api import evaluate
    from vbench_cn.manifest import PromptInfo, VideoItem
    from vbench_cn.video import probe

    info = probe(video)
    dims = list(DURATION_DIMS)
    dirs: list[Path] = []
    if spec_set == "weight-free":
        dirs = [_weight_free_dir()]
    else:
        dims.append("event_order")
    prompt = PromptInfo(
        "lm-bench",
        "a long story",
        "en",
        tags=("long_multi_event",),
        meta={
            "events": [
                {"en": "a yellow square over a colourful pattern", "zh": "彩色图案上的黄色方块"},
                {"en": "a different colourful pattern", "zh": "另一种彩色图案"},
                {"en": "a frozen picture", "zh": "定格的画面"},
            ]
        },
    )
    item = VideoItem(str(video), "bench", video.name, 0, prompt)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        records = evaluate(
            [item],
            dimensions=dims,
            dimensions_dirs=dirs,
            out_dir=out,
            progress=False,
            device="cpu",
            chunk_frames=chunk_frames,
            random_weights=random_weights,
        )
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sampled = {"tiny_pixels": int(info.duration_seconds * 2) + 1}
    return {
        "spec_set": spec_set,
        "chunk_frames": chunk_frames,
        "random_weights": random_weights,
        "video": {
            "frames": info.num_frames,
            "fps": info.fps,
            "seconds": info.duration_seconds,
            "size": f"{info.width}x{info.height}",
        },
        "wall_s": round(wall, 1),
        "video_frames_per_s": round(info.num_frames / wall, 1),
        "sampled_frames_per_s_tiny_pixels": round(sampled["tiny_pixels"] / wall, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "rss_before_scoring_mib": round(rss_before / 1024, 1),
        "under_2_gib": peak_kib < 2 * 1024 * 1024,
        "scores": {
            r["dimension"]: (
                round(r["score"], 4)
                if r["status"] == "ok"
                else r["status"] + ": " + str(r["error"])
            )
            for r in records
        },
        "details": {r["dimension"]: r.get("details") for r in records if r["status"] == "ok"},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write the synthetic video")
    g.add_argument("video", type=Path)
    g.add_argument("--minutes", type=float, default=10.0)
    g.add_argument("--fps", type=float, default=8.0)
    s = sub.add_parser("score", help="score it in this process and print one JSON line")
    s.add_argument("video", type=Path)
    s.add_argument("--spec-set", choices=("weight-free", "default"), default="weight-free")
    s.add_argument("--chunk-frames", type=int, default=64)
    s.add_argument("--random-weights", action="store_true")
    r = sub.add_parser("run", help="generate if absent, then score in child processes")
    r.add_argument("video", type=Path)
    r.add_argument("--chunk-frames", type=int, nargs="+", default=[64, 16])
    r.add_argument(
        "--with-default", action="store_true", help="also the shipped specs, random weights"
    )
    args = parser.parse_args(argv)
    if args.cmd == "generate":
        print(json.dumps(generate(args.video, minutes=args.minutes, fps=args.fps)))
    elif args.cmd == "score":
        print(
            json.dumps(
                score(
                    args.video,
                    spec_set=args.spec_set,
                    chunk_frames=args.chunk_frames,
                    random_weights=args.random_weights,
                ),
                ensure_ascii=False,
            )
        )
    else:
        if not args.video.exists():
            print(json.dumps(generate(args.video)), flush=True)
        runs = [["--spec-set", "weight-free", "--chunk-frames", str(c)] for c in args.chunk_frames]
        if args.with_default:
            runs.append(
                [
                    "--spec-set",
                    "default",
                    "--random-weights",
                    "--chunk-frames",
                    str(args.chunk_frames[-1]),
                ]
            )
        for extra in runs:
            out = subprocess.run(
                [sys.executable, __file__, "score", str(args.video), *extra],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            print(
                lines[-1] if lines else json.dumps({"args": extra, "error": out.stderr[-2000:]}),
                flush=True,
            )


if __name__ == "__main__":
    main()
