"""Prepare what the device check takes to a GPU machine without network: ``.gpucheck/``.

    python bench/gpu_check_prepare.py            # wheels + clips, checked to fit in 64 MiB

* ``.gpucheck/wheels/``: the wheels of what ``vbench_cn.evaluate`` imports beyond the GPU
  image's packages (torch, torchvision, timm, transformers, opencv, pandas, scipy, typer,
  rich): PyAV (abi3, so one wheel serves Python 3.10-3.13), open_clip_torch, ftfy, wcwidth.
  decord is left out: without it the decoder indexes with PyAV.
* ``.gpucheck/clips/``: one H.264 clip per suite tag of VBench's dimensions, named after
  the tag's first prompt (``<prompt id>-0.mp4``) so every dimension finds its videos: six
  720p 24 fps 5 s clips at 2.3 and 8.5 Mbit/s, and small 256x256 ones. On the device the
  check hard-links each under four sample names (about 40 videos) instead of carrying copies.

The folder is git-ignored. On the device, from the repository root with ``.gpucheck/``
beside it, ``python bench/gpu_check.py --out $OUT`` installs the wheels offline (``pip
install --no-index --no-deps``) when their modules are missing, then runs (README: device check).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gpu_check import prompt_for, write_clip  # noqa: E402  (bench/ is the script's folder)
from gpu_check_harness import NEEDED_MODULES  # noqa: E402

#: Wheels the GPU image lacks.
WHEELS = tuple(NEEDED_MODULES.values())
#: Tag index -> bits/s of its 720p clip (the others are small): four at 2.3 Mbit/s, two at
#: 8.5 Mbit/s, the range of generated 720p videos.
BITRATES = {0: 2_300_000, 2: 2_300_000, 4: 2_300_000, 6: 2_300_000, 8: 8_500_000, 10: 8_500_000}
#: The whole folder must travel in this many bytes.
BUDGET_BYTES = 64 * 1024 * 1024
#: Suite tags with videos, one per VBench dimension family the check scores.
TAGS = (
    "subject_consistency",
    "temporal_flickering",
    "overall_consistency",
    "scene",
    "object_class",
    "multiple_objects",
    "color",
    "spatial_relationship",
    "human_action",
    "temporal_style",
    "appearance_style",
)


def download_wheels(folder: Path, python: str) -> None:
    """Binary wheels for the device's Python (``--python-version``), no dependencies."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--only-binary=:all:",
            "--no-deps",
            "--python-version",
            python,
            "--platform",
            "manylinux_2_28_x86_64",
            "--platform",
            "manylinux2014_x86_64",
            "-d",
            str(folder),
            *WHEELS,
        ],
        check=True,
    )


def make_clips(folder: Path) -> int:
    """One clip per tag, named after its first suite prompt; returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, tag in enumerate(TAGS):
        path = folder / f"{prompt_for(tag)}.mp4"
        rate = BITRATES.get(i)
        if rate:  # 720p 24 fps 5 s at the bitrate of generated footage
            write_clip(path, 120, (1280, 720), 24.0, seed=i, bitrate=rate)
        else:
            write_clip(path, 32, (256, 256), 8.0, seed=i, crf=30)
    return len(TAGS)


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=ROOT / ".gpucheck")
    parser.add_argument("--python", default="3.12", help="the device's Python version")
    parser.add_argument("--no-wheels", action="store_true", help="clips only")
    args = parser.parse_args(argv)
    if not args.no_wheels:
        download_wheels(args.dest / "wheels", args.python)
    clips = make_clips(args.dest / "clips")
    size = folder_bytes(args.dest)
    print(f"{clips} clips, {size / 1024**2:.1f} MiB in {args.dest}")
    if size > BUDGET_BYTES:
        print(f"over the {BUDGET_BYTES // 1024**2} MiB budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
