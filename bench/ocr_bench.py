"""OCR benchmark: the detector's input size (``det_side_px``) against speed and accuracy.

Renders signs of known text (Chinese and English, several text heights) onto frames of
two common video sizes, reads them with the ``rapidocr`` extractor at several detector
sizes, and prints, per size, frames per second and the mean ``text_rendering`` frame score
(1.0 = every character read correctly and confidently). Real PP-OCRv4 weights, offline.

Run::

    python bench/ocr_bench.py                 # all sizes, ~2-4 min on 2 CPU cores
    python bench/ocr_bench.py --sides 640,960 --repeats 1 --json out.json

``frames_per_s`` is wall-clock; ``cpu_s_per_frame`` is process CPU time (all onnxruntime
threads), which stays meaningful when other jobs share the cores.

Measured 2026-11-25, 2 CPU cores shared with other jobs (load ~5, so wall-clock frames/s is
noisy; CPU s/frame is not), rapidocr-onnxruntime 1.4.4, onnxruntime 1.32, 12 frames per row
(4 texts x text heights 10/14/24 px per 320 px of frame height, blur 0.8 px, noise 6)::

    det_side_px  frame    CPU s/frame  score  score@10px  score@14px  score@24px
    320          512x320  0.09         0.733  0.245       0.972       0.982
    320          1280x720 0.08         0.649  0.000       0.979       0.968
    480          512x320  0.16         0.977  0.972       0.971       0.989
    480          1280x720 0.15         0.976  0.985       0.963       0.979
    640          512x320  0.22         0.978  0.974       0.976       0.985
    640          1280x720 0.22         0.979  0.971       0.976       0.990
    960          512x320  0.40         0.992  0.991       0.993       0.993
    960          1280x720 0.37         0.980  0.969       0.980       0.992
    1280         512x320  0.64         0.992  0.988       0.993       0.994
    1280         1280x720 0.62         0.980  0.972       0.977       0.992

Choice: 640 (``RapidOcr.DEFAULT_DET_SIDE_PX``). Below 480 small text is lost; from 480 up
the score moves by about 0.01 (recognition confidence) while the cost grows with the
square of the side. 640 keeps a 2x margin over the size that fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vbench_cn.features import ExtractorOptions  # noqa: E402
from vbench_cn.features.ocr import RapidOcr  # noqa: E402
from vbench_cn.scorers.text import align, frame_reading, normalize_text  # noqa: E402
from vbench_cn.synthetic_text import find_cjk_font, render_sign  # noqa: E402

TEXTS = ("北京烤鸭", "兰州牛肉面", "OPEN", "MAPLE STREET")
FRAME_SIZES = ((320, 512), (720, 1280))  # (height, width)
TEXT_HEIGHTS_PX = (10, 14, 24)  # in a 320-px-high frame (scaled with the frame)
BLUR_PX = 0.8  # Gaussian blur sigma in a 320-px-high frame: generated video is rarely crisp
NOISE_STD = 6.0  # additive Gaussian noise, 0-255 scale


def make_frames() -> list[tuple[str, int, int, np.ndarray]]:
    """(text, frame height, text height, frame) for every combination."""
    texts = TEXTS if find_cjk_font() else tuple(t for t in TEXTS if t.isascii())
    out = []
    for h, w in FRAME_SIZES:
        for th in TEXT_HEIGHTS_PX:
            for k, text in enumerate(texts):
                scale = h / 320  # text height relative to a 320-px-high frame
                frame = render_sign(
                    text,
                    height=h,
                    width=w,
                    text_height_px=int(th * scale),
                    seed=k,
                    offset_xy=(k * 7, -k * 5),
                )
                out.append((text, h, th, degrade(frame, blur_px=BLUR_PX * scale, seed=k)))
    return out


def degrade(frame: np.ndarray, *, blur_px: float, seed: int) -> np.ndarray:
    """Blur and noise, as a generated frame has."""
    from PIL import Image, ImageFilter

    img = np.asarray(
        Image.fromarray(frame).filter(ImageFilter.GaussianBlur(blur_px)), dtype=np.float32
    )
    img = img + np.random.default_rng(seed).normal(0.0, NOISE_STD, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def frame_score(text: str, boxes) -> float:  # noqa: ANN001
    """The text_rendering score of one frame (min_confidence 0.5)."""
    target = normalize_text(text)
    return max(
        0.0, 1.0 - align(target, frame_reading(boxes, min_confidence=0.5)).cost / len(target)
    )


def bench(sides: list[int], repeats: int) -> list[dict]:
    """One row per (detector side, frame height): speed and mean score, printed as JSON."""
    frames = make_frames()
    rows = []
    for side in sides:
        ext = RapidOcr(ExtractorOptions(), det_side_px=side)
        ext.forward(torch.from_numpy(frames[0][3][None].copy()))  # warm-up (session init)
        for h in sorted({f[1] for f in frames}):
            subset = [f for f in frames if f[1] == h]
            times, cpu_times = [], []
            readings = None
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                readings = [
                    ext.finalize(ext.forward(torch.from_numpy(f[3][None].copy())), info=None)[0]
                    for f in subset
                ]
                times.append(time.perf_counter() - t0)
                cpu_times.append(time.process_time() - c0)
            assert readings is not None
            per_height = {}
            for th in TEXT_HEIGHTS_PX:
                scores = [
                    frame_score(f[0], r)
                    for f, r in zip(subset, readings, strict=True)
                    if f[2] == th
                ]
                per_height[f"score_text{th}px"] = round(sum(scores) / len(scores), 3)
            scores = [frame_score(f[0], r) for f, r in zip(subset, readings, strict=True)]
            rows.append(
                {
                    "det_side_px": side,
                    "frame_height": h,
                    "frames": len(subset),
                    "frames_per_s": round(len(subset) / statistics.median(times), 2),
                    "cpu_s_per_frame": round(statistics.median(cpu_times) / len(subset), 3),
                    "score": round(sum(scores) / len(scores), 3),
                    **per_height,
                }
            )
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return rows


def main() -> None:
    """Parse the command line, run the benchmark, optionally write the rows as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sides", default="480,640,960,1280", help="comma list of det_side_px values"
    )
    parser.add_argument("--repeats", type=int, default=2, help="timing repeats (median)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args()
    print(
        f"cpu cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, "
        f"CJK font: {find_cjk_font()}",
        file=sys.stderr,
    )
    rows = bench([int(s) for s in args.sides.split(",")], args.repeats)
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
