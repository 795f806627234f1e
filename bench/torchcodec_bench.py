"""Decoder benchmark: frames/s and pixel differences of ``--decoder torchcodec`` against PyAV.

    python bench/torchcodec_bench.py                     # a 5-s 720p clip made here
    python bench/torchcodec_bench.py clip.mp4 --threads 1
    python bench/torchcodec_bench.py --pyav-ffmpeg       # torchcodec on PyAV's FFmpeg build
    python bench/torchcodec_bench.py --device cuda:0     # NVDEC

Both decoders read through :meth:`vbench_cn.video.VideoReader.read_views`, as the runner
does: every frame (dimensions sampled at ``fps = "all"``) and 16 middle-sampled frames
(``frames = 16``), in 16-frame chunks; the best of ``--repeat`` runs is reported, with the
largest and mean absolute difference per channel value against PyAV.

torchcodec needs FFmpeg's shared libraries (4 to 9). Where none is installed,
``--pyav-ffmpeg`` points it at the FFmpeg that PyAV's wheel bundles: a folder of links
named as torchcodec asks (``libavutil.so.60`` ...) to PyAV's renamed copies, on
``LD_LIBRARY_PATH`` of a child process. ``--print-ffmpeg-dir`` prints that path, e.g.
to run the pixel test: ``LD_LIBRARY_PATH=$(python bench/torchcodec_bench.py
--print-ffmpeg-dir) pytest tests/pipeline/test_torchcodec.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: FFmpeg libraries torchcodec links, by their name in PyAV's bundle (``libavutil-1a2b.so.60``).
FFMPEG_LIBS = ("avutil", "avcodec", "avformat", "avdevice", "avfilter", "swscale", "swresample")


def pyav_ffmpeg_path(dest: Path) -> str:
    """An ``LD_LIBRARY_PATH`` on which torchcodec finds the FFmpeg of PyAV's wheel: ``dest``,
    holding ``lib<name>.so.<major>`` links to it, then the bundle (what those libraries load
    in turn: a link's ``$ORIGIN`` is its own folder)."""
    import av

    bundle = Path(av.__file__).resolve().parent.parent / "av.libs"
    if not bundle.is_dir():
        raise SystemExit(f"no bundled FFmpeg in {bundle} (PyAV built against a system FFmpeg?)")
    dest.mkdir(parents=True, exist_ok=True)
    for name in FFMPEG_LIBS:
        for lib in bundle.glob(f"lib{name}-*.so.*"):
            major = re.match(rf"lib{name}-[0-9a-f]+\.so\.(\d+)", lib.name)
            if major:
                link = dest / f"lib{name}.so.{major.group(1)}"
                link.unlink(missing_ok=True)
                link.symlink_to(lib)
    return f"{dest}{os.pathsep}{bundle}"


def make_clip(path: Path, seconds: float = 5.0, fps: int = 24) -> Path:
    """A 1280x720 H.264 clip (yuv420p, crf 18) of a smooth colourful picture panning."""
    import av

    from vbench_cn.synthetic import smooth_texture

    n = int(seconds * fps)
    wide = smooth_texture(720, 1280 + 4 * n, 3, scale=24)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "18"}
        for t in range(n):
            rgb = np.ascontiguousarray(wide[:, 4 * t : 4 * t + 1280])
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decode(path: str, indices: np.ndarray, decoder: str, device: str) -> tuple[float, np.ndarray]:
    """Seconds to decode ``indices`` in 16-frame chunks (frames left where they were decoded:
    a CUDA device's chunks are ready when yielded), and the frames."""
    from vbench_cn.video import VideoReader

    reader = VideoReader(path)
    t0 = time.perf_counter()
    views = reader.read_views({None: indices}, chunk_frames=16, decoder=decoder, device=device)
    chunks = [frames for _, _, frames in views]
    seconds = time.perf_counter() - t0
    return seconds, np.concatenate([c.cpu().numpy() for c in chunks])


def bench(path: str, repeat: int, device: str) -> dict:
    from vbench_cn.video import VideoReader, middle_sample_indices

    n = VideoReader(path).info.num_frames
    out: dict = {"video": path, "frames": n, "torchcodec device": device}
    for name, idx in (("all", np.arange(n)), ("16 sampled", middle_sample_indices(n, 16))):
        row: dict = {}
        frames = {}
        for decoder in ("pyav", "torchcodec"):
            where = device if decoder == "torchcodec" else "cpu"
            best = min(decode(path, idx, decoder, where)[0] for _ in range(repeat))
            frames[decoder] = decode(path, idx, decoder, where)[1]
            row[f"{decoder} frames/s"] = round(len(idx) / best, 1)
        diff = np.abs(frames["pyav"].astype(np.int16) - frames["torchcodec"].astype(np.int16))
        row["max diff"], row["mean diff"] = int(diff.max()), round(float(diff.mean()), 5)
        out[name] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", help="a video (default: a 5-s 720p clip made here)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="FFmpeg threads per decoder")
    parser.add_argument("--device", default="cpu", help="where torchcodec decodes: cpu, cuda:0")
    parser.add_argument("--pyav-ffmpeg", action="store_true", help="torchcodec on PyAV's FFmpeg")
    parser.add_argument("--print-ffmpeg-dir", action="store_true")
    args = parser.parse_args()
    links = Path(tempfile.gettempdir()) / "vbench-cn-pyav-ffmpeg"
    if args.print_ffmpeg_dir:
        print(pyav_ffmpeg_path(links))
        return
    if args.pyav_ffmpeg and str(links) not in os.environ.get("LD_LIBRARY_PATH", ""):
        env = dict(os.environ, LD_LIBRARY_PATH=pyav_ffmpeg_path(links))
        argv = [a for a in sys.argv[1:] if a != "--pyav-ffmpeg"]
        raise SystemExit(subprocess.call([sys.executable, __file__, *argv], env=env))
    from vbench_cn.video import set_decoder_threads
    from vbench_cn.video_torchcodec import torchcodec_problem

    problem = torchcodec_problem()
    if problem:
        raise SystemExit(f"{problem} (--pyav-ffmpeg uses PyAV's FFmpeg)")
    set_decoder_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.video or str(make_clip(Path(tmp) / "720p.mp4"))
        print(
            json.dumps({"threads": args.threads, **bench(path, args.repeat, args.device)}, indent=2)
        )


if __name__ == "__main__":
    main()
