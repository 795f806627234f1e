"""Decode benchmark: peak RSS and frames/s of the ways to read a long video's frames.

    python bench/decode_bench.py /tmp/long1080.mp4 --frames 1600 --step 1
    python bench/decode_bench.py /tmp/long1080.mp4 --frames 4800 --step 8   # sparse, as fps sampling

Each method runs in its own child process (``ru_maxrss`` is its peak alone) and reads the
same frame indices in 16-frame chunks:

- ``decord_get_batch``: ``VideoReader.get_batch`` per chunk, what VBench's ``load_video`` does;
- ``decord_frames``: ``vr[i]`` per frame into a chunk buffer, what vbench_cn.video does;
- ``pyav``: sequential PyAV decode keeping the wanted frames (our fallback).

Finding (2026-11-25, 2-core CPU, 10-min 1080p H.264 from long_video_bench.py): decord 0.6.0's
``get_batch`` keeps most of every batch it returns, so RSS grows with the frames read
(13.9 GB after 4,800 frames) and it is slower; single-frame reads stay flat.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

METHODS = ("decord_get_batch", "decord_frames", "pyav")


def read(method: str, path: str, indices: np.ndarray, chunk: int = 16) -> int:
    """Read ``indices`` with ``method``; returns how many frames came back."""
    got = 0
    if method == "pyav":
        import av

        wanted = set(indices.tolist())
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for i, frame in enumerate(container.decode(stream)):
                if i in wanted:
                    frame.to_ndarray(format="rgb24")
                    got += 1
                if i >= indices[-1]:
                    break
        return got
    import decord

    vr = decord.VideoReader(path, num_threads=1)
    for start in range(0, len(indices), chunk):
        idx = indices[start : start + chunk].tolist()
        if method == "decord_get_batch":
            got += vr.get_batch(idx).asnumpy().shape[0]
        else:
            got += np.stack([vr[i].asnumpy() for i in idx]).shape[0]
    return got


def child(method: str, path: str, frames: int, step: int) -> None:
    import resource

    indices = np.arange(0, frames, step)
    t0 = time.perf_counter()
    n = read(method, path, indices)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"method": method, "frames_read": n, "wall_s": round(wall, 1),
                      "frames_per_s": round(n / wall, 1), "peak_rss_mib": round(peak)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("--frames", type=int, default=1600, help="read frames [0, FRAMES)")
    parser.add_argument("--step", type=int, default=1, help="every STEP-th frame")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.video, args.frames, args.step)
        return
    for method in args.methods.split(","):
        out = subprocess.run([sys.executable, __file__, args.video, "--frames", str(args.frames),
                              "--step", str(args.step), "--child", method],
                             capture_output=True, text=True, env=dict(os.environ), check=False)
        print(out.stdout.strip() or json.dumps({"method": method, "error": out.stderr[-500:]}), flush=True)


if __name__ == "__main__":
    main()
