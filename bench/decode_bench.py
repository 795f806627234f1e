"""Decode benchmark: peak RSS and frames/s of the ways to read a long video's frames.

    python bench/decode_bench.py /tmp/long1080.mp4 --frames 1600 --step 1
    python bench/decode_bench.py /tmp/long1080.mp4 --frames 4800 --step 8  # sparse (fps sampling)

Each method runs in its own child process (``ru_maxrss`` is its peak alone) and reads the
same frame indices in 16-frame chunks:

- ``decord_get_batch``: ``VideoReader.get_batch`` per chunk, what VBench's ``load_video`` does;
- ``decord_frames``: ``vr[i]`` per frame into a chunk buffer;
- ``pyav``: sequential PyAV decode keeping the wanted frames (what vbench_cn.video does).

``--pause S`` sleeps S seconds after each chunk, as the runner does while a model runs.

Findings (2026-11-25, 2-core CPU, 10-min 1080p H.264 from long_video_bench.py): decord 0.6.0
decodes ahead in a background thread into an unbounded queue whenever its caller is slower
than the decoder, or pauses: 4.6 GB after 4.5 s idle; a runner pausing for forward passes
was OOM-killed at 24 GB. PyAV holds a few frames and, here, decodes 2x faster. Both convert
with swscale and give identical RGB (tests/pipeline/test_video.py).
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


def read(method: str, path: str, indices: np.ndarray, chunk: int = 16, pause: float = 0.0) -> int:
    """Read ``indices`` with ``method``, pausing ``pause`` s per chunk; returns the frames read."""
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
                    if pause and got % chunk == 0:
                        time.sleep(pause)
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
        time.sleep(pause)
    return got


def child(method: str, path: str, frames: int, step: int, pause: float) -> None:
    import resource

    indices = np.arange(0, frames, step)
    t0 = time.perf_counter()
    n = read(method, path, indices, pause=pause)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "method": method,
                "frames_read": n,
                "wall_s": round(wall, 1),
                "frames_per_s": round(n / wall, 1),
                "peak_rss_mib": round(peak),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("--frames", type=int, default=1600, help="read frames [0, FRAMES)")
    parser.add_argument("--step", type=int, default=1, help="every STEP-th frame")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds idle after each chunk")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.video, args.frames, args.step, args.pause)
        return
    for method in args.methods.split(","):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                args.video,
                "--frames",
                str(args.frames),
                "--step",
                str(args.step),
                "--pause",
                str(args.pause),
                "--child",
                method,
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            check=False,
        )
        print(
            out.stdout.strip() or json.dumps({"method": method, "error": out.stderr[-500:]}),
            flush=True,
        )


if __name__ == "__main__":
    main()
