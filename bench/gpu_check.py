"""The device check: one command, at most 7 minutes on one CUDA GPU without network.

    python bench/gpu_check.py --out OUT                  # on the GPU machine (README: device check)
    python bench/gpu_check.py --out OUT --dry-run        # the same stages on CPU, small inputs

Stages, each writing ``OUT/stage-<X>.json`` as it ends (a stage that fails writes its error
and the next one runs):

* **A env**: torch, CUDA and cuDNN versions, precision flags, cores, threads, packages.
* **B smoke**: every backbone of VBench's 16 dimensions (both language routes), random
  weights on the device, scoring two clips of its dimensions' prompts through
  :func:`vbench_cn.evaluate`: statuses, finite scores, peak memory, GPU processes.
* **C end-to-end**: ``vbench-cn evaluate`` on the prepared clips with ``--profile``, in
  one process and as one torchrun rank: wall time, videos/s, the runner's profile, the
  VBench-size job (4,730 videos) extrapolated.
* **D throughput**: each backbone at the runner's batch size on device-resident items
  (CUDA events), plus decode (PyAV, 1 thread vs FFmpeg's own, 1-8 concurrent videos) and probe
  times.
* **E parity**: 4 tiny clips scored on CPU and on the device with the same random weights:
  max \\|Δscore\\| per dimension. In a dry run both sides are CPU, at batch 1 and at the
  runner's batch size (a video's score must not depend on its batch).
* **F out-of-memory**: a RAFT batch that cannot fit (a memory fraction on CUDA, an injected
  OOM in a dry run) must back off and give the scores of an unconstrained run.

``bench/gpu_check_prepare.py`` prepares the clips and the wheels the GPU machine lacks
(``.gpucheck/``, git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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
#: Videos of the VBench-size job the end-to-end stage extrapolates to.
VBENCH_VIDEOS = 4730
#: Samples of each prepared prompt clip in the end-to-end set (VBench scores 5 per prompt).
SAMPLES_PER_PROMPT = 4


@dataclass(frozen=True)
class Scale:
    """Sizes of one mode: the real check on the device, or the dry run on CPU."""

    device: str
    size: tuple[int, int]  # (width, height) of smoke and throughput items
    smoke_frames: int
    e2e_dimensions: tuple[str, ...]
    e2e_clips: int | None  # None: every prepared clip
    warmup: int
    timed: int
    decode_threads: tuple[int, ...]
    parity_dimensions: tuple[str, ...]
    oom_batch: int
    max_batch: int | None  # cap on the throughput stage's batch (None: the runner's)


REAL = Scale(
    device="cuda",
    size=(1280, 720),
    smoke_frames=16,
    e2e_dimensions=VBENCH_DIMENSIONS,
    e2e_clips=None,
    warmup=3,
    timed=5,
    decode_threads=(1, 2, 4, 8),
    parity_dimensions=VBENCH_DIMENSIONS,
    oom_batch=32,
    max_batch=None,
)
DRY = Scale(
    device="cpu",
    size=(176, 128),  # RAFT refuses sides under 128 px
    smoke_frames=4,
    e2e_dimensions=("temporal_flickering", "subject_consistency", "motion_smoothness"),
    e2e_clips=6,
    warmup=0,
    timed=1,
    decode_threads=(1, 2),
    parity_dimensions=("temporal_flickering", "subject_consistency", "dynamic_degree"),
    oom_batch=8,
    max_batch=2,
)


# --------------------------------------------------------------------------- helpers


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` atomically (a killed check leaves whole files only)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def run_stage(out: Path, letter: str, name: str, fn: Callable[[], dict[str, Any]]) -> bool:
    """Run one stage and write ``stage-<letter>.json`` with its result or its error."""
    t0 = time.perf_counter()
    try:
        result = {"stage": f"{letter} {name}", **fn()}
    except Exception as exc:
        result = {
            "stage": f"{letter} {name}",
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8),
        }
    result["seconds"] = round(time.perf_counter() - t0, 2)
    write_json(out / f"stage-{letter}.json", result)
    print(f"stage {letter} {name}: ok={result.get('ok')} in {result['seconds']} s", flush=True)
    return bool(result.get("ok"))


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


def cuda_memory(device: str) -> dict[str, Any]:
    """Peak memory and the processes holding a context on the device (CUDA only)."""
    import torch

    if not device.startswith("cuda"):
        return {}
    return {
        "max_memory_allocated_gib": round(torch.cuda.max_memory_allocated() / 1024**3, 3),
        "gpu_processes": torch.cuda.list_gpu_processes(),
    }


def synchronize(device: str) -> None:
    """Wait for the device (CUDA) so that wall-clock timings mean what they say."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


# --------------------------------------------------------------------------- stages


def stage_env(scale: Scale) -> dict[str, Any]:
    """A: what the check ran on."""
    import importlib.metadata as md

    import torch

    packages = {}
    for name in ("torch", "torchvision", "av", "open_clip_torch", "timm", "transformers", "numpy"):
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
        "packages": packages,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cuda_available": torch.cuda.is_available(),
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "alloc_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF"),
    }
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


def stage_smoke(scale: Scale, work: Path) -> dict[str, Any]:
    """B: every backbone of the 16 dimensions on the device, two clips each."""
    import torch

    import vbench_cn
    from vbench_cn.specs import load_specs

    specs = load_specs()
    rows: dict[str, Any] = {}
    for backbone, uses in sorted(backbone_plan(VBENCH_DIMENSIONS).items()):
        dims = [lighter(specs[d], scale) for d in sorted({d for d, _ in uses})]
        folder = work / "smoke" / backbone
        for i, (dim, lang) in enumerate((uses * 2)[:2]):  # two clips, of its dimensions' prompts
            stem = prompt_for(specs[dim].prompts, lang, sample=i)
            write_clip(folder / f"{stem}.mp4", scale.smoke_frames, scale.size, 8.0, i)
        if scale.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
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
            row: dict[str, Any] = {"dimensions": statuses(records)}
        except Exception as exc:
            row = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
        synchronize(scale.device)
        row.update(seconds=round(time.perf_counter() - t0, 2), **cuda_memory(scale.device))
        rows[backbone] = row
    failed = [
        b
        for b, r in rows.items()
        if "error" in r or any(d["error"] or not d["finite"] for d in r["dimensions"].values())
    ]
    return {"ok": not failed, "failed": failed, "backbones": rows}


#: Backbones that read each sampled frame at 960 or 384 px: on a CPU, 16 frames of them
#: take minutes, so a dry run gives their dimensions 2 frames (the same code runs).
HEAVY_PER_FRAME = ("owlv2_coco", "tag2text_swin14m")


def lighter(spec: Any, scale: Scale) -> Any:
    """``spec`` as the check runs it: in a dry run, 2 frames for :data:`HEAVY_PER_FRAME`."""
    import dataclasses

    from vbench_cn.video import Sampling

    if scale is not DRY or spec.backbone not in HEAVY_PER_FRAME:
        return spec
    return dataclasses.replace(spec, sampling=Sampling("frames", 2.0))


def _cli(args: list[str], env: dict[str, str] | None = None) -> tuple[int, float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, env=env, check=False
    )
    return proc.returncode, time.perf_counter() - t0, proc.stderr[-3000:]


def e2e_clips(scale: Scale, clips: Path, work: Path) -> list[Path]:
    """The prepared clips (bench/gpu_check_prepare.py), or, in a dry run, a few tiny ones."""
    if scale.e2e_clips is not None:
        folder = work / "e2e-clips"
        tags = ("subject_consistency", "temporal_flickering", "overall_consistency")
        for i in range(scale.e2e_clips):
            stem = prompt_for(tags[i % len(tags)], sample=i // len(tags))
            write_clip(folder / f"{stem}.mp4", 24, (128, 96), 8.0, i)
        return [folder]
    prepared = sorted(clips.glob("*-0.mp4")) if clips.is_dir() else []
    if not prepared:
        raise FileNotFoundError(f"{clips}: no prepared clips (bench/gpu_check_prepare.py)")
    folder = work / "e2e-clips"
    folder.mkdir(parents=True, exist_ok=True)
    for path in prepared:  # four samples of each prompt: hard links, not copies
        for sample in range(SAMPLES_PER_PROMPT):
            link = folder / f"{path.stem[:-2]}-{sample}.mp4"
            if not link.exists():
                try:
                    os.link(path, link)
                except OSError:
                    shutil.copyfile(path, link)
    return [folder]


def stage_e2e(scale: Scale, clips: Path, work: Path) -> dict[str, Any]:
    """C: ``vbench-cn evaluate`` end to end, one process and one torchrun rank, profiled."""
    folders = e2e_clips(scale, clips, work)
    videos = sum(1 for f in folders for _ in f.rglob("*.mp4"))
    common = [
        "-m",
        "vbench_cn",
        "evaluate",
        *map(str, folders),
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
    runs: dict[str, Any] = {}
    for label, launcher in (
        ("one_process", []),
        ("torchrun_one_rank", ["-m", "torch.distributed.run", "--nproc-per-node", "1"]),
    ):
        out = work / "e2e" / label
        port = ["--master-port", str(_free_port())] if launcher else []
        args = [*launcher, *port, *common, "--out", str(out)]
        rc, seconds, err = _cli(args)
        row: dict[str, Any] = {"rc": rc, "wall_s": round(seconds, 2)}
        profile = out / "profile-rank0.json"
        if profile.is_file():
            row["profile"] = json.loads(profile.read_text(encoding="utf-8"))
        if rc != 0:
            row["stderr"] = err
        else:
            from vbench_cn.results import read_records

            row["dimensions"] = statuses(read_records(out))
            row["videos_per_s"] = round(videos / seconds, 3)
            row["vbench_size_minutes"] = round(seconds / videos * VBENCH_VIDEOS / 60, 1)
        runs[label] = row
    one, rank = runs["one_process"], runs["torchrun_one_rank"]
    ok = one["rc"] == 0 and rank["rc"] == 0
    ratio = round(rank["wall_s"] / one["wall_s"], 3) if ok else None
    return {"ok": ok, "videos": videos, "torchrun_over_one_process": ratio, "runs": runs}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _timer(device: str) -> Callable[[Callable[[], Any]], float]:
    """Seconds one call takes: CUDA events on a GPU, the wall clock on CPU."""
    import torch

    def time_call(fn: Callable[[], Any]) -> float:
        if device.startswith("cuda"):
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


def stage_throughput(scale: Scale, work: Path) -> dict[str, Any]:
    """D: each backbone at the runner's batch size, on device-resident items; decode; probe."""
    import gc

    import numpy as np
    import torch

    from vbench_cn.runner import Runner, RunOptions, autocast_for
    from vbench_cn.specs import load_specs
    from vbench_cn.video import VideoReader

    specs = load_specs()
    clip = write_clip(work / "throughput" / "clip-0.mp4", 24, scale.size, 24.0, 0)
    info = VideoReader(str(clip)).info
    time_call = _timer(scale.device)
    rows: dict[str, Any] = {}
    for backbone, uses in sorted(backbone_plan(VBENCH_DIMENSIONS).items()):
        runner = Runner(
            [specs[uses[0][0]]],
            RunOptions(
                out_dir=work / "tp", device=scale.device, random_weights=True, progress=False
            ),
        )
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

            for _ in range(scale.warmup):
                forward()
            seconds = [time_call(forward) for _ in range(scale.timed)]
            best = min(seconds)
            rows[backbone] = {
                "batch": batch,
                "item_shape": list(items.shape[1:]),
                "ms_per_item": round(1000 * best / batch, 3),
                "ms_per_batch": [round(1000 * s, 2) for s in seconds],
                **cuda_memory(scale.device),
            }
        except Exception as exc:
            rows[backbone] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        del runner
        gc.collect()
        if scale.device.startswith("cuda"):
            torch.cuda.empty_cache()
    decode = decode_rates(clip, scale.decode_threads)
    failed = [b for b, r in rows.items() if "error" in r]
    return {"ok": not failed, "failed": failed, "backbones": rows, "decode": decode}


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


def stage_parity(scale: Scale, work: Path) -> dict[str, Any]:
    """E: the same 4 tiny clips and random weights on CPU and on the device, per dimension."""
    import vbench_cn
    from vbench_cn.specs import load_specs, select_specs

    folder = work / "parity-clips"
    specs = select_specs(load_specs(), list(scale.parity_dimensions))
    tags = sorted({s.prompts for s in specs if s.prompts != "any"})
    for i in range(4):
        stem = prompt_for(tags[i % len(tags)], sample=i)
        write_clip(folder / f"{stem}.mp4", 16, (256, 256), 8.0, i, crf=18)
    sides = (
        {"cpu": {"device": "cpu", "batch_sizes": _ones(specs)}}
        if scale is DRY
        else {"cpu": {"device": "cpu"}}
    )
    sides["device"] = {"device": scale.device}
    scores: dict[str, dict[tuple[str, str], float | None]] = {}
    for side, opts in sides.items():
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
        scores[side] = {(r["video"], r["dimension"]): r["score"] for r in records}
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
    if scale is DRY:  # CPU against CPU: a video's score must not depend on its batch
        ok = ok and all(r["max_abs_diff"] <= 1e-6 for r in per_dim.values())
    return {
        "ok": ok,
        "sides": {k: {"device": v["device"]} for k, v in sides.items()},
        "dimensions": per_dim,
    }


def _ones(specs: Any) -> dict[str, int]:
    return {s.backbone: 1 for s in specs if s.backbone}


def stage_oom(scale: Scale, work: Path) -> dict[str, Any]:
    """F: RAFT at a batch that cannot fit backs off and scores as an unconstrained run."""
    import torch

    from vbench_cn.manifest import discover
    from vbench_cn.runner import Runner, RunOptions
    from vbench_cn.specs import load_specs

    clip = write_clip(
        work / "oom-clips" / f"{prompt_for('subject_consistency')}.mp4", 24, scale.size, 8.0, 3
    )
    items = discover([clip.parent], model="oom")
    spec = [load_specs()["dynamic_degree"]]

    def scored(name: str, squeeze: bool) -> tuple[dict[Any, Any], int]:
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
        with squeezed(ext, scale, enabled=squeeze):
            records = runner.run(items)
        return {r["video"]: r["score"] for r in records}, runner.profile.oom_retries

    free, _ = scored("free", squeeze=False)
    tight, retries = scored("tight", squeeze=True)
    if scale.device.startswith("cuda"):
        torch.cuda.empty_cache()
    same = free == tight and all(v is not None for v in tight.values())
    return {
        "ok": retries > 0 and same,
        "oom_retries": retries,
        "scores_equal": same,
        "free": free,
        "tight": tight,
    }


@contextlib.contextmanager
def squeezed(ext: Any, scale: Scale, *, enabled: bool) -> Iterator[None]:
    """Make big batches fail for lack of memory: a memory fraction on CUDA; on CPU an
    injected ``OutOfMemoryError`` above 2 items (the runner cannot tell the difference)."""
    import torch

    if not enabled:
        yield
        return
    if scale.device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.set_per_process_memory_fraction(0.1)
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
    parser.add_argument("--stages", default=STAGES, help="which stages, e.g. BCD")
    args = parser.parse_args(argv)
    scale = DRY if args.dry_run else REAL
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "work"
    work.mkdir(exist_ok=True)
    stages: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
        "A": ("env", lambda: stage_env(scale)),
        "B": ("smoke", lambda: stage_smoke(scale, work)),
        "C": ("end-to-end", lambda: stage_e2e(scale, args.clips, work)),
        "D": ("throughput", lambda: stage_throughput(scale, work)),
        "E": ("parity", lambda: stage_parity(scale, work)),
        "F": ("out-of-memory", lambda: stage_oom(scale, work)),
    }
    results = {}
    for letter in args.stages.upper():
        name, fn = stages[letter]
        results[letter] = run_stage(args.out, letter, name, fn)
    write_json(
        args.out / "summary.json", {"mode": "dry-run" if args.dry_run else "device", "ok": results}
    )
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
