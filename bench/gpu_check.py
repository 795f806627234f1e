"""The device check: one command, at most 7 minutes on one CUDA GPU without network.

    python bench/gpu_check.py --out OUT                  # on the GPU machine (README: device check)
    python bench/gpu_check.py --out OUT --dry-run        # the same stages on CPU, small inputs

Stages, each writing ``OUT/stage-<X>.json`` as it ends (a stage that fails or runs out of
time writes what it has and the next one runs; ``OUT/summary.json`` after every stage):

* **A env**: installs the prepared wheels the GPU image lacks (offline), then records torch,
  CUDA and cuDNN versions, precision flags, allocator setting, cores, threads, packages.
* **B smoke**: every backbone of VBench's 16 dimensions (both language routes), random
  weights on the device, scoring two clips of its dimensions' prompts through
  :func:`vbench_cn.evaluate`: statuses, finite scores, peak memory, GPU processes.
* **C end-to-end**: ``vbench-cn evaluate`` on the prepared clips with ``--profile``, in
  one process and as one torchrun rank: wall time, model building, videos/s, the runner's
  profile, GPU utilisation, the VBench-size job (4,730 videos) extrapolated.
* **D throughput**: each backbone at the runner's batch size on device-resident items
  (CUDA events), plus decode (PyAV, 1 thread vs FFmpeg's own, 1-8 concurrent videos) and probe
  times.
* **E parity**: 4 tiny clips scored on CPU and on the device with the same random weights:
  max \\|Δscore\\| per dimension. In a dry run both sides are CPU, at batch 1 and at the
  runner's batch size (a video's score must not depend on its batch).
* **F out-of-memory**: a RAFT batch that cannot fit (a memory fraction on CUDA, an injected
  OOM in a dry run) must back off and give the scores of an unconstrained run.

The whole check keeps to a time limit (400 s on the device, 15 min for a dry run;
``--time-limit``): each stage has a planned share and stops itself when its share is spent
(``bench/gpu_check_harness.py``). Random-weight modules are built once per process and
copied for the later in-process stages; the end-to-end stage's own processes build theirs.

``bench/gpu_check_prepare.py`` prepares the clips and the wheels the GPU machine lacks
(``.gpucheck/``, git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gpu_check_harness import (  # noqa: E402  (bench/ is the script's folder)
    Check,
    Clock,
    GpuUsage,
    ModelReuse,
    install_wheels,
    run_child,
    write_json,
)

#: VBench's sixteen dimensions: the seven quality ones and nine semantic ones.
VBENCH_DIMENSIONS = (
    "quality",
    "object_class",
    "multiple_objects",
    "human_action",
    "color",
    "spatial_relationship",
    "scene",
    "temporal_style",
    "appearance_style",
    "overall_consistency",
)
#: Videos of the VBench-size job the end-to-end stage extrapolates to...
VBENCH_VIDEOS = 4730
#: ... each 5 s at 24 fps (the prepared 720p clips have as many frames).
VBENCH_VIDEO_FRAMES = 120
#: Samples of each prepared prompt clip in the end-to-end set (VBench scores 5 per prompt).
SAMPLES_PER_PROMPT = 4
#: Backbones that read each sampled frame through seconds of CPU work (GRiT decodes two
#: 39-token texts per box, Tag2Text runs Swin-B at 384 and a beam search): a dry run gives
#: their dimensions one frame, and the parity stage does so on both sides.
HEAVY_PER_FRAME = ("grit_b", "grit_b_color", "tag2text_swin14m")
#: Backbones whose one item costs 10-20 s on a 2-core CPU (ViT-L over a 16- or 8-frame clip,
#: or the heavy per-frame ones): a dry run smokes them on one clip instead of two.
CPU_HEAVY = (*HEAVY_PER_FRAME, "umt_l16_k400", "viclip_l14")


@dataclass(frozen=True)
class Scale:
    """Sizes of one mode: the real check on the device, or the dry run on CPU."""

    device: str
    size: tuple[int, int]  # (width, height) of smoke and throughput items
    smoke_frames: int
    smoke_one_clip: tuple[str, ...]  # backbones smoked on one clip instead of two
    heavy_frames: int | None  # smoke: frames for HEAVY_PER_FRAME dimensions (None: the spec's)
    e2e_dimensions: tuple[str, ...]
    e2e_clips: int | None  # None: every prepared clip
    e2e_frames: int  # frames of each made-up clip when e2e_clips is set
    throughput: tuple[str, ...] | None  # backbones timed (None: every one)
    warmup: int  # most warm-up passes (fewer when the backbone's share of time is spent)
    timed: int  # most timed passes (at least one)
    decode_threads: tuple[int, ...]
    parity_dimensions: tuple[str, ...]
    parity_size: tuple[int, int]
    parity_frames: int
    oom_batch: int
    oom_frames: int
    max_batch: int | None  # cap on the throughput stage's batch (None: the runner's)
    keep_models_mb: float | None  # random modules kept for reuse up to this size (None: all)
    total_s: float  # the whole check's time limit
    grace_s: float  # a stage's step may run this long past its share before it is interrupted
    planned_s: dict[str, float] = field(default_factory=dict)  # each stage's share


REAL = Scale(
    device="cuda",
    size=(1280, 720),
    smoke_frames=16,
    smoke_one_clip=(),
    heavy_frames=None,
    e2e_dimensions=VBENCH_DIMENSIONS,
    e2e_clips=None,
    e2e_frames=0,
    throughput=None,
    warmup=3,
    timed=5,
    decode_threads=(1, 2, 4, 8),
    parity_dimensions=VBENCH_DIMENSIONS,
    parity_size=(256, 256),
    parity_frames=8,
    oom_batch=32,
    oom_frames=24,
    max_batch=None,
    keep_models_mb=None,
    total_s=400.0,
    grace_s=15.0,
    planned_s={"A": 15, "B": 70, "C": 165, "D": 60, "E": 70, "F": 20},
)
DRY = Scale(
    device="cpu",
    size=(176, 128),  # RAFT refuses sides under 128 px
    smoke_frames=4,  # AMT needs 3 for one triplet
    smoke_one_clip=CPU_HEAVY,
    heavy_frames=1,
    e2e_dimensions=("temporal_flickering", "subject_consistency"),
    e2e_clips=4,
    e2e_frames=8,
    throughput=(
        "amt_s",
        "dino_vitb16",
        "frame_difference",
        "musiq_spaq",
        "raft_things",
        "tag2text_swin14m",  # the one extractor with a decoder-scaled view (decode_size)
    ),
    warmup=0,
    timed=1,
    decode_threads=(1, 2),
    parity_dimensions=(
        "temporal_flickering",
        "subject_consistency",
        "dynamic_degree",
        "motion_smoothness",
    ),
    parity_size=(128, 128),
    parity_frames=6,
    oom_batch=8,
    oom_frames=12,
    max_batch=1,
    keep_models_mb=400.0,  # the small ones the later stages build again; RAM is shared here
    total_s=900.0,
    grace_s=60.0,
    planned_s={"A": 20, "B": 360, "C": 150, "D": 90, "E": 180, "F": 100},
)


# --------------------------------------------------------------------------- helpers


def clip_frames(
    count: int, size: tuple[int, int], seed: int, speed: int = 3, grain: int = 0
) -> Iterator[Any]:
    """``count`` uint8 frames of a smooth texture sliding right: motion every backbone sees.

    ``grain``: amplitude of per-frame noise, which gives a clip the bitrate (and so the
    decode cost) of real footage.
    """
    import numpy as np

    from vbench_cn import synthetic

    w, h = size
    base = synthetic.smooth_texture(h, w + speed * count, seed, scale=max(8, h // 12))
    rng = np.random.default_rng(seed)
    for i in range(count):
        frame = base[:, i * speed : i * speed + w]
        if grain:
            noise = rng.integers(-grain, grain + 1, size=frame.shape, dtype=np.int16)
            frame = np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        yield np.ascontiguousarray(frame)


def write_clip(
    path: Path,
    count: int,
    size: tuple[int, int],
    fps: float,
    seed: int,
    crf: int = 28,
    bitrate: int | None = None,
) -> Path:
    """Encode a clip frame by frame (a 5-s 720p clip never sits whole in memory); with
    ``bitrate`` (bits/s) at about that rate, on grainy frames, instead of at ``crf``."""
    from fractions import Fraction

    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        if bitrate:
            stream.bit_rate = bitrate
            stream.options = {"preset": "veryfast"}
        else:
            stream.options = {"crf": str(crf), "preset": "veryfast"}
        for frame in clip_frames(count, size, seed, grain=12 if bitrate else 0):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def link_or_copy(source: Path, target: Path) -> Path:
    """``target`` as a hard link to ``source`` (a copy where links are refused)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    return target


def clip_as(
    work: Path, target: Path, count: int, size: tuple[int, int], fps: float, seed: int
) -> Path:
    """``target``: a clip encoded once per (frames, size, fps, seed) and linked under each
    name that needs it (the smoke stage names the same clip after 28 prompts)."""
    cached = work / "clip-cache" / f"{count}x{size[0]}x{size[1]}@{fps:g}-{seed}.mp4"
    if not cached.exists():
        write_clip(cached, count, size, fps, seed)
    return link_or_copy(cached, target)


def prompt_for(tag: str, lang: str = "en", sample: int = 0) -> str:
    """A file stem naming the first suite prompt of ``tag`` (so its metadata is known)."""
    from vbench_cn.prompts import load_suite

    if tag == "any":
        tag = "overall_consistency"
    prompt = next(p for p in load_suite() if tag in p.tags)
    return f"{prompt.id}-{lang}-{sample}" if lang != "en" else f"{prompt.id}-{sample}"


def statuses(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per dimension: status counts, first error, whether every ok score is finite."""
    out: dict[str, Any] = {}
    for r in records:
        row = out.setdefault(r["dimension"], {"ok": 0, "error": 0, "skipped": 0, "finite": True})
        row[r["status"]] += 1
        if r["status"] == "error":
            row.setdefault("first_error", r.get("error"))
        if r["status"] == "ok" and not math.isfinite(float(r["score"])):
            row["finite"] = False
    return out


def quiet_reporter() -> Any:
    """A reporter that keeps the protocol notes of the check's made-up sets off stderr."""
    from vbench_cn.run_reporter import RunReporter

    class Quiet(RunReporter):
        def probed(self, report: Any, errors: dict[str, str]) -> None:
            for err in errors.values():
                print(f"error {err}", file=sys.stderr)

    return Quiet()


def is_cuda(device: str) -> bool:
    return device.startswith("cuda")


def reset_peak(device: str) -> None:
    """Start a new peak-memory window (CUDA only)."""
    import torch

    if is_cuda(device):
        torch.cuda.reset_peak_memory_stats()


def cuda_memory(device: str, processes: bool = False) -> dict[str, Any]:
    """Peak memory since :func:`reset_peak`, and with ``processes`` the processes holding a
    context on the device (CUDA only; needs pynvml, else torch says so in the string)."""
    import torch

    if not is_cuda(device):
        return {}
    out: dict[str, Any] = {
        "max_memory_allocated_gib": round(torch.cuda.max_memory_allocated() / 1024**3, 3),
        "max_memory_reserved_gib": round(torch.cuda.max_memory_reserved() / 1024**3, 3),
    }
    if processes:
        out["gpu_processes"] = torch.cuda.list_gpu_processes()
    return out


def release(device: str) -> None:
    """Free what the last step left (models, activations) before the next one is measured."""
    import torch

    gc.collect()
    if is_cuda(device):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


# --------------------------------------------------------------------------- stages


def stage_env(scale: Scale, wheels: Path | None) -> dict[str, Any]:
    """A: install what the GPU image lacks (offline), then record what the check runs on."""
    import importlib.metadata as md

    import torch

    from vbench_cn.device_setup import PRECISION_FLAGS

    install = install_wheels(wheels) if wheels is not None else None
    packages = {}
    names = ("torch", "torchvision", "av", "decord", "open_clip_torch", "timm", "transformers")
    for name in (*names, "numpy"):  # without decord the runner indexes videos with PyAV
        try:
            packages[name] = md.version(name)
        except md.PackageNotFoundError:
            packages[name] = None
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    env: dict[str, Any] = {
        "ok": True,
        "mode": "dry-run" if scale is DRY else "device",
        "commit": commit or None,
        "python": platform.python_version(),
        "wheels": install,
        "packages": packages,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cuda_available": torch.cuda.is_available(),
        "precision_flags": {k: vars(v) for k, v in PRECISION_FLAGS.items()},
        "alloc_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF"),
    }
    if install is not None and install.get("error"):
        env.update(ok=False, error=install["error"])
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            gpu=props.name,
            gpu_memory_gib=round(props.total_memory / 1024**3, 1),
            gpu_count=torch.cuda.device_count(),
        )
    elif scale is REAL:
        env.update(ok=False, error="no CUDA device: run with --dry-run on CPU")
    return env


def backbone_plan(dimensions: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    """Backbone -> [(dimension, lang)] that make it run (a language router: both routes)."""
    from vbench_cn.features import extractor_class
    from vbench_cn.specs import load_specs, select_specs

    plan: dict[str, list[tuple[str, str]]] = {}
    for spec in select_specs(load_specs(), list(dimensions)):
        if not spec.backbone:
            continue
        route = getattr(extractor_class(spec.backbone), "route", None)
        for lang in ("en", "zh") if route is not None else ("en",):
            name = route(lang) if route is not None else spec.backbone
            plan.setdefault(name, []).append((spec.id, lang))
    return plan


def lighter(spec: Any, frames: int | None) -> Any:
    """``spec`` with ``frames`` sampled frames if its backbone is in :data:`HEAVY_PER_FRAME`."""
    import dataclasses

    from vbench_cn.video import Sampling

    if frames is None or spec.backbone not in HEAVY_PER_FRAME:
        return spec
    return dataclasses.replace(spec, sampling=Sampling("frames", float(frames)))


def stage_smoke(scale: Scale, work: Path, clock: Clock, partial: dict[str, Any]) -> dict[str, Any]:
    """B: every backbone of the 16 dimensions on the device, two clips each."""
    import vbench_cn
    from vbench_cn.specs import load_specs

    specs = load_specs()
    rows: dict[str, Any] = partial.setdefault("backbones", {})
    for backbone, uses in sorted(backbone_plan(VBENCH_DIMENSIONS).items()):
        if clock.expired():
            rows[backbone] = {"skipped": "the stage's time share is spent"}
            partial["timed_out"] = True
            continue
        clips = 1 if backbone in scale.smoke_one_clip else 2
        dims = [lighter(specs[d], scale.heavy_frames) for d in sorted({d for d, _ in uses})]
        folder = work / "smoke" / backbone
        for i, (dim, lang) in enumerate((uses * 2)[:clips]):  # clips of its dimensions' prompts
            stem = prompt_for(specs[dim].prompts, lang, sample=i)
            clip_as(work, folder / f"{stem}.mp4", scale.smoke_frames, scale.size, 8.0, i)
        reset_peak(scale.device)
        t0 = time.perf_counter()
        try:
            records = vbench_cn.evaluate(
                [folder],
                model="smoke",
                dimensions=dims,
                out_dir=work / "smoke-runs" / backbone,
                device=scale.device,
                random_weights=True,
                progress=False,
                reporter=quiet_reporter(),
            )
            row: dict[str, Any] = {"clips": clips, "dimensions": statuses(records)}
        except Exception as exc:
            row = {"clips": clips, "error": one_line(exc)}
        release(scale.device)
        row.update(seconds=round(time.perf_counter() - t0, 2), **cuda_memory(scale.device, True))
        rows[backbone] = row
    failed = [
        b
        for b, r in rows.items()
        if "error" in r
        or any(d["error"] or not d["finite"] for d in r.get("dimensions", {}).values())
    ]
    skipped = [b for b, r in rows.items() if "skipped" in r]
    return {"ok": not failed and not skipped, "failed": failed, "skipped": skipped}


def e2e_clips(scale: Scale, clips: Path, work: Path) -> Path:
    """The prepared clips (bench/gpu_check_prepare.py), each under four sample names, or, in a
    dry run, a few tiny ones named after two prompts."""
    folder = work / "e2e-clips"
    if scale.e2e_clips is not None:
        tags = ("subject_consistency", "temporal_flickering")
        for i in range(scale.e2e_clips):
            stem = prompt_for(tags[i % len(tags)], sample=i // len(tags))
            clip_as(work, folder / f"{stem}.mp4", scale.e2e_frames, (128, 96), 8.0, i)
        return folder
    prepared = sorted(clips.glob("*-0.mp4")) if clips.is_dir() else []
    if not prepared:
        raise FileNotFoundError(f"{clips}: no prepared clips (bench/gpu_check_prepare.py)")
    for path in prepared:  # four samples of each prompt: hard links, not copies
        for sample in range(SAMPLES_PER_PROMPT):
            link_or_copy(path, folder / f"{path.stem[:-2]}-{sample}.mp4")
    return folder


def frame_count(path: Path) -> int:
    """Frames of a clip, from its header (the check's own clips all carry the count)."""
    import av

    with av.open(str(path)) as container:
        return int(container.streams.video[0].frames)


def extrapolate(wall_s: float, profile: dict[str, Any], frames: int) -> dict[str, Any]:
    """The VBench-size job from one run: a fixed part (process start, imports, model
    building) plus the scoring part scaled by frames (the set mixes 720p 5-s clips with
    small 4-s ones; a VBench video has :data:`VBENCH_VIDEO_FRAMES`)."""
    build = float(profile.get("build_s") or 0.0)
    scoring = max(0.0, float(profile.get("wall_s") or 0.0) - build)
    fixed = max(0.0, wall_s - scoring)
    videos_equivalent = frames / VBENCH_VIDEO_FRAMES
    per_video = scoring / videos_equivalent if videos_equivalent else float("nan")
    return {
        "fixed_s": round(fixed, 2),
        "build_s": round(build, 2),
        "scoring_s": round(scoring, 2),
        "videos_equivalent": round(videos_equivalent, 2),
        "scoring_s_per_vbench_video": round(per_video, 4),
        "vbench_size_minutes": round((fixed + per_video * VBENCH_VIDEOS) / 60, 1),
    }


def stage_e2e(
    scale: Scale,
    clips: Path,
    work: Path,
    usage: GpuUsage | None,
    clock: Clock,
    partial: dict[str, Any],
) -> dict[str, Any]:
    """C: ``vbench-cn evaluate`` end to end, one process and one torchrun rank, profiled."""
    folder = e2e_clips(scale, clips, work)
    videos = sorted(folder.rglob("*.mp4"))
    frames = sum(frame_count(v) for v in videos)
    partial.update(videos=len(videos), frames=frames)
    common = [
        "-m",
        "vbench_cn",
        "evaluate",
        str(folder),
        "--model",
        "e2e",
        "--dimensions",
        ",".join(scale.e2e_dimensions),
        "--random-weights",
        "--device",
        scale.device,
        "--profile",
        "--no-progress",
    ]
    launchers = {
        "one_process": [],
        "torchrun_one_rank": ["-m", "torch.distributed.run", "--nproc-per-node", "1"],
    }
    runs: dict[str, Any] = partial.setdefault("runs", {})
    for i, (label, launcher) in enumerate(launchers.items()):
        out = work / "e2e" / label
        port = ["--master-port", str(_free_port())] if launcher else []
        args = [sys.executable, *launcher, *port, *common, "--out", str(out)]
        limit = clock.left() / (len(launchers) - i)  # the runs share what is left
        started = time.monotonic()
        rc, seconds, err, timed_out = run_child(args, cwd=ROOT, timeout=limit)
        row: dict[str, Any] = {"rc": rc, "wall_s": round(seconds, 2), "limit_s": round(limit, 1)}
        if usage is not None:
            row["gpu"] = usage.between(started, time.monotonic())
        if timed_out:
            row["timed_out"] = True
            partial["timed_out"] = True
        profile = out / "profile-rank0.json"
        if profile.is_file():
            row["profile"] = json.loads(profile.read_text(encoding="utf-8"))
            row["extrapolated"] = extrapolate(seconds, row["profile"], frames)
        if rc != 0:
            row["stderr"] = err
        from vbench_cn.results import read_records

        row["dimensions"] = statuses(read_records(out)) if out.is_dir() else {}
        row["videos_per_s"] = round(len(videos) / seconds, 3)
        runs[label] = row
    one, rank = runs["one_process"], runs["torchrun_one_rank"]
    ok = one["rc"] == 0 and rank["rc"] == 0
    ratios = {}
    if ok:
        ratios["wall"] = round(rank["wall_s"] / one["wall_s"], 3)
        if "extrapolated" in one and "extrapolated" in rank and one["extrapolated"]["scoring_s"]:
            ratios["scoring"] = round(
                rank["extrapolated"]["scoring_s"] / one["extrapolated"]["scoring_s"], 3
            )
    failed = sorted(
        {
            d
            for r in runs.values()
            for d, s in r["dimensions"].items()
            if s["error"] or not s["finite"]
        }
    )
    return {
        "ok": ok and not failed,
        "failed_dimensions": failed,
        "torchrun_over_one_process": ratios or None,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _timer(device: str) -> Callable[[Callable[[], Any]], float]:
    """Seconds one call takes: CUDA events on a GPU, the wall clock on CPU."""
    import torch

    def time_call(fn: Callable[[], Any]) -> float:
        if is_cuda(device):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1000
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    return time_call


def stage_throughput(
    scale: Scale, work: Path, clock: Clock, partial: dict[str, Any]
) -> dict[str, Any]:
    """D: each backbone at the runner's batch size, on device-resident items; decode; probe.

    Up to ``scale.warmup`` warm-up and ``scale.timed`` timed passes, fewer (at least one
    timed) once the backbone's share of the stage's time is spent.
    """
    import numpy as np
    import torch

    from vbench_cn.runner import Runner, RunOptions, autocast_for
    from vbench_cn.specs import load_specs
    from vbench_cn.video import VideoReader

    specs = load_specs()
    clip = clip_as(work, work / "throughput" / "clip-0.mp4", 24, scale.size, 24.0, 0)
    info = VideoReader(str(clip)).info
    time_call = _timer(scale.device)
    plan = sorted(backbone_plan(VBENCH_DIMENSIONS).items())
    if scale.throughput is not None:
        partial["not_timed_in_this_mode"] = [b for b, _ in plan if b not in scale.throughput]
        plan = [(b, u) for b, u in plan if b in scale.throughput]
    rows: dict[str, Any] = partial.setdefault("backbones", {})
    for k, (backbone, uses) in enumerate(plan):
        if clock.expired():
            rows[backbone] = {"skipped": "the stage's time share is spent"}
            partial["timed_out"] = True
            continue
        share = clock.left() / (len(plan) - k)
        runner = Runner(
            [specs[uses[0][0]]],
            RunOptions(
                out_dir=work / "tp", device=scale.device, random_weights=True, progress=False
            ),
        )
        reset_peak(scale.device)
        try:
            ext = runner.extractor(backbone)
            batch = min(runner._batchers[backbone].batch_size, scale.max_batch or 1 << 30)
            frames = torch.from_numpy(np.stack(list(clip_frames(24, scale.size, 0))))
            if ext.decode_size is not None:
                frames = (
                    torch.nn.functional.interpolate(
                        frames.permute(0, 3, 1, 2).float(), size=ext.decode_size[::-1]
                    )
                    .round()
                    .clamp(0, 255)
                    .to(torch.uint8)
                    .permute(0, 2, 3, 1)
                    .contiguous()
                )
            items = ext.prepare(frames, position=0, info=info)
            if items is None or items.shape[0] == 0:
                rows[backbone] = {"note": "no item from 24 frames"}
                continue
            reps = math.ceil(batch / items.shape[0])
            device_batch = ext.to_device(torch.cat([items] * reps)[:batch])

            def forward(ext: Any = ext, device_batch: Any = device_batch) -> Any:
                with torch.inference_mode(), autocast_for(ext):
                    return ext.forward(device_batch)

            t0 = time.perf_counter()
            warm = 0
            while warm < scale.warmup and (warm == 0 or time.perf_counter() - t0 < share / 3):
                forward()
                warm += 1
            seconds: list[float] = []
            while len(seconds) < scale.timed and (not seconds or time.perf_counter() - t0 < share):
                seconds.append(time_call(forward))
            best = min(seconds)
            rows[backbone] = {
                "batch": batch,
                "item_shape": list(items.shape[1:]),
                "warmup": warm,
                "ms_per_item": round(1000 * best / batch, 3),
                "ms_per_batch": [round(1000 * s, 2) for s in seconds],
                **cuda_memory(scale.device),
            }
            del ext, items, device_batch, forward
        except Exception as exc:
            rows[backbone] = {"error": one_line(exc)}
        del runner
        release(scale.device)
    partial["decode"] = decode_rates(clip, scale.decode_threads)
    failed = [b for b, r in rows.items() if "error" in r]
    skipped = [b for b, r in rows.items() if "skipped" in r]
    return {"ok": not failed and not skipped, "failed": failed, "skipped": skipped}


def decode_rates(clip: Path, concurrency: tuple[int, ...]) -> dict[str, Any]:
    """PyAV frames/s with one FFmpeg thread and with its own threading; concurrent videos."""
    from concurrent.futures import ThreadPoolExecutor

    import av

    from vbench_cn.video import VideoReader

    def decode(thread_type: str) -> int:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_type = thread_type
            return sum(
                1 for f in container.decode(stream) if f.to_ndarray(format="rgb24") is not None
            )

    out: dict[str, Any] = {}
    for label, kind in (("one_thread", "SLICE"), ("auto", "AUTO")):
        t0 = time.perf_counter()
        frames = decode(kind)
        out[f"fps_{label}"] = round(frames / (time.perf_counter() - t0), 1)
    for n in concurrency:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(n) as pool:
            frames = sum(pool.map(lambda _: decode("AUTO"), range(n)))
        out[f"fps_{n}_videos_at_once"] = round(frames / (time.perf_counter() - t0), 1)
    t0 = time.perf_counter()
    for _ in range(5):
        VideoReader(str(clip))
    out["probe_ms"] = round((time.perf_counter() - t0) / 5 * 1000, 1)
    return out


def stage_parity(scale: Scale, work: Path, clock: Clock, partial: dict[str, Any]) -> dict[str, Any]:
    """E: the same 4 tiny clips and random weights on CPU and on the device, per dimension.

    The heavy per-frame backbones read one frame a clip on both sides (on the device's
    CPU their 16 frames would take minutes); both sides see the same specs.
    """
    import vbench_cn
    from vbench_cn.specs import load_specs, select_specs

    folder = work / "parity-clips"
    specs = [lighter(s, 1) for s in select_specs(load_specs(), list(scale.parity_dimensions))]
    tags = sorted({s.prompts for s in specs if s.prompts != "any"})
    for i in range(4):
        stem = prompt_for(tags[i % len(tags)], sample=i)
        write_clip(folder / f"{stem}.mp4", scale.parity_frames, scale.parity_size, 8.0, i, crf=18)
    if scale is DRY:  # CPU against CPU: batch 1 against the runner's batch sizes
        sides = {"cpu": {"device": "cpu", "batch_sizes": _ones(specs)}, "device": {"device": "cpu"}}
    else:  # the device first: it is quick, and the CPU side is what may run out of time
        sides = {"device": {"device": scale.device}, "cpu": {"device": "cpu"}}
    partial["sides"] = {k: {**v, "seconds": None} for k, v in sides.items()}
    scores: dict[str, dict[tuple[str, str], float | None]] = {}
    for side, opts in sides.items():
        if clock.expired():
            partial["timed_out"] = True
            break
        t0 = time.perf_counter()
        records = vbench_cn.evaluate(
            [folder],
            model="parity",
            dimensions=specs,
            out_dir=work / "parity" / side,
            random_weights=True,
            progress=False,
            all_prompts=True,
            reporter=quiet_reporter(),
            **opts,
        )
        partial["sides"][side]["seconds"] = round(time.perf_counter() - t0, 2)
        scores[side] = {(r["video"], r["dimension"]): r["score"] for r in records}
        release(scale.device)
    if len(scores) < 2:
        return {"ok": False, "dimensions": {}}
    per_dim: dict[str, Any] = {}
    for (video, dim), a in scores["cpu"].items():
        b = scores["device"].get((video, dim))
        row = per_dim.setdefault(dim, {"max_abs_diff": 0.0, "compared": 0, "missing": 0})
        if a is None or b is None:
            row["missing"] += 1
            continue
        row["compared"] += 1
        row["max_abs_diff"] = max(row["max_abs_diff"], abs(a - b))
    ok = all(r["missing"] == 0 for r in per_dim.values())
    if scale is DRY:  # a video's score must not depend on its batch
        ok = ok and all(r["max_abs_diff"] <= 1e-6 for r in per_dim.values())
    return {"ok": ok, "dimensions": per_dim}


def _ones(specs: Any) -> dict[str, int]:
    return {s.backbone: 1 for s in specs if s.backbone}


def stage_oom(scale: Scale, work: Path, clock: Clock, partial: dict[str, Any]) -> dict[str, Any]:
    """F: RAFT at a batch that cannot fit backs off and scores as an unconstrained run.

    On CUDA the unconstrained run's peak decides the squeeze: the allocator may then hold
    what was reserved before plus 40 % of that run's growth, so its batch cannot fit on any
    GPU size.
    """
    import torch

    from vbench_cn.manifest import discover
    from vbench_cn.runner import Runner, RunOptions
    from vbench_cn.specs import load_specs

    stem = prompt_for("subject_consistency")
    clip = clip_as(work, work / "oom-clips" / f"{stem}.mp4", scale.oom_frames, scale.size, 8.0, 3)
    items = discover([clip.parent], model="oom")
    spec = [load_specs()["dynamic_degree"]]

    def scored(name: str, limit_bytes: int | None) -> tuple[dict[Any, Any], int]:
        runner = Runner(
            spec,
            RunOptions(
                out_dir=work / "oom" / name,
                device=scale.device,
                random_weights=True,
                progress=False,
                batch_sizes={"raft_things": scale.oom_batch},
            ),
        )
        ext = runner.extractor("raft_things")
        with squeezed(ext, scale, limit_bytes):
            records = runner.run(items)
        retries = runner.profile.oom_retries
        del runner, ext
        release(scale.device)
        return {r["video"]: r["score"] for r in records}, retries

    release(scale.device)  # what earlier stages cached is not this run's growth
    base = torch.cuda.memory_reserved() if is_cuda(scale.device) else 0
    reset_peak(scale.device)
    free, _ = scored("free", None)
    partial["free"] = free
    limit = None
    if is_cuda(scale.device):
        growth = torch.cuda.max_memory_reserved() - base
        limit = int(torch.cuda.memory_reserved() + 0.4 * growth)
        partial["squeeze_gib"] = round(limit / 1024**3, 3)
    if clock.expired():
        partial["timed_out"] = True
        return {"ok": False}
    tight, retries = scored("tight", limit if limit is not None else 0)
    same = set(free) == set(tight) and all(
        tight[v] is not None and free[v] is not None and abs(tight[v] - free[v]) <= 1e-6
        for v in tight
    )
    if retries == 0:
        partial["note"] = (
            "no out-of-memory under the squeeze: the back-off was not exercised"
            f" (allocator setting {os.environ.get('PYTORCH_CUDA_ALLOC_CONF')!r})"
        )
    return {
        "ok": retries > 0 and same,
        "oom_retries": retries,
        "scores_equal": same,
        "tight": tight,
    }


@contextlib.contextmanager
def squeezed(ext: Any, scale: Scale, limit_bytes: int | None) -> Iterator[None]:
    """Make big batches fail for lack of memory: on CUDA a memory fraction that lets the
    allocator hold ``limit_bytes``; on CPU an injected ``OutOfMemoryError`` above 2 items
    (the runner cannot tell the difference). ``None``: no squeeze."""
    import torch

    if limit_bytes is None:
        yield
        return
    if is_cuda(scale.device):
        total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
        torch.cuda.empty_cache()
        torch.cuda.set_per_process_memory_fraction(min(1.0, limit_bytes / total))
        try:
            yield
        finally:
            torch.cuda.set_per_process_memory_fraction(1.0)
        return
    real = ext.forward

    def tight(batch: Any) -> Any:
        if batch.shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected by the dry run)")
        return real(batch)

    ext.forward = tight
    try:
        yield
    finally:
        ext.forward = real


STAGES = "ABCDEF"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for stage-*.json")
    parser.add_argument("--dry-run", action="store_true", help="the same stages on CPU, small")
    parser.add_argument("--clips", type=Path, default=ROOT / ".gpucheck" / "clips")
    parser.add_argument("--wheels", type=Path, default=ROOT / ".gpucheck" / "wheels")
    parser.add_argument(
        "--no-install", action="store_true", help="do not install the prepared wheels"
    )
    parser.add_argument("--stages", default=STAGES, help="which stages, e.g. BCD")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds for the whole check (default 400 on the device, 900 dry); "
        "each stage's share scales with it",
    )
    args = parser.parse_args(argv)
    scale = DRY if args.dry_run else REAL
    if scale is REAL:  # read when CUDA starts: before stage A touches the device
        from vbench_cn.device_setup import ALLOC_CONF

        os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", ALLOC_CONF)
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "work"
    work.mkdir(exist_ok=True)
    letters = [x for x in args.stages.upper() if x in STAGES]
    total = args.time_limit or scale.total_s
    factor = total / sum(scale.planned_s[x] for x in STAGES)
    planned = {x: scale.planned_s[x] * factor for x in letters}
    usage = GpuUsage(args.out / "gpu-usage.csv") if is_cuda(scale.device) else None
    reuse = ModelReuse(scale.keep_models_mb)
    wheels = None if (args.no_install or scale is DRY) else args.wheels
    t_start = time.perf_counter()

    def reusing(fn: Callable[[Clock, dict[str, Any]], dict[str, Any]]) -> Any:
        def stage(clock: Clock, partial: dict[str, Any]) -> dict[str, Any]:
            before = Counter(reuse.reused)
            try:
                return fn(clock, partial)
            finally:
                partial["models_reused"] = sorted((reuse.reused - before).elements())

        return stage

    stages = {
        "A": ("env", lambda clock, partial: stage_env(scale, wheels)),
        "B": ("smoke", reusing(lambda c, p: stage_smoke(scale, work, c, p))),
        "C": ("end-to-end", lambda c, p: stage_e2e(scale, args.clips, work, usage, c, p)),
        "D": ("throughput", reusing(lambda c, p: stage_throughput(scale, work, c, p))),
        "E": ("parity", reusing(lambda c, p: stage_parity(scale, work, c, p))),
        "F": ("out-of-memory", reusing(lambda c, p: stage_oom(scale, work, c, p))),
    }
    summary: dict[str, Any] = {
        "mode": "dry-run" if scale is DRY else "device",
        "time_limit_s": total,
        "stages": {},
    }

    def on_stage_end(letter: str, result: dict[str, Any]) -> None:
        summary["stages"][letter] = {
            k: result.get(k)
            for k in ("stage", "ok", "seconds", "limit_s", "timed_out", "load_average")
        }
        summary["seconds"] = round(time.perf_counter() - t_start, 1)
        summary["ok"] = all(s["ok"] for s in summary["stages"].values())
        write_json(args.out / "summary.json", summary)

    check = Check(
        args.out, planned, total, grace=scale.grace_s, on_stage_end=on_stage_end, usage=usage
    )
    if usage is not None:
        usage.start()
    try:
        with reuse.active():
            check.run([(x, *stages[x]) for x in letters])
    finally:
        if usage is not None:
            usage.stop()
    return 0 if summary.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
