"""Parity harness, our side: the test videos, the seeded checkpoints, our scores, the comparison.

Used by ``run_live.py`` (live comparison against VBench in ``.venv-parity``, and freezing of
the fixtures) and by ``test_parity.py`` (our live scores against the frozen fixtures).
Runs in the project venv; ``reference_runner.py`` is the only file that runs in
``.venv-parity``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomllib
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURES = HERE / "fixtures"
TOLERANCES = HERE / "tolerances.toml"
VBENCH_VERSION = "0.1.5"

sys.path.insert(0, str(HERE))
import grit_cases  # noqa: E402
import grit_seeded  # noqa: E402
from seeded import seeded_state_dict  # noqa: E402

# --------------------------------------------------------------------------- videos


@dataclass(frozen=True)
class Case:
    """One test video: how to make its frames, how to encode them, and at what frame rate."""

    name: str
    make: Callable[[], np.ndarray]
    codec: str = "libx264"
    fps: float = 8.0


def _cases() -> list[Case]:
    from vbench_cn import synthetic as s

    def jitter() -> np.ndarray:  # a texture whose motion changes speed and direction
        base = s.smooth_texture(160, 208, 5)
        shifts = [0, 2, 5, 6, 10, 9, 13, 18, 19, 24, 23]
        return np.stack(
            [np.roll(base, (k // 3, dx), axis=(0, 1))[:144, :176] for k, dx in enumerate(shifts)]
        )

    return [
        Case("translate-0.mp4", lambda: s.translating_clip(9, 128, 160, pixels_per_frame=2)),
        Case(
            "translate-rgb-0.mp4",
            lambda: s.translating_clip(10, 144, 128, pixels_per_frame=3),
            codec="libx264rgb",
        ),
        Case("oddsize-0.mp4", lambda: s.translating_clip(7, 131, 157, pixels_per_frame=1)),
        Case("jitter-0.mp4", jitter, codec="libx264rgb", fps=16.0),
        Case("cut-0.mp4", lambda: s.scene_cut_clip(8, 128, 128, cut_at=5)),
        Case("static-0.mp4", lambda: s.static_clip(6, 128, 176, seed=3)),
        Case("noise-0.mp4", lambda: s.noise_clip(5, 128, 128, seed=2), codec="libx264rgb"),
    ]


CASES: list[Case] = _cases()


def write_videos(folder: Path) -> dict[str, str]:
    """Encode every case into ``folder``; returns each file's decoded-frames sha256."""
    from vbench_cn import synthetic as s

    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    for case in CASES:
        path = folder / case.name
        s.write_video(path, case.make(), fps=case.fps, codec=case.codec)
        digests[case.name] = decoded_sha256(path)
    return digests


def decoded_sha256(path: Path) -> str:
    """sha256 of every decoded frame (uint8 RGB), to notice when an encoder changes a video."""
    from vbench_cn.video import VideoReader

    reader = VideoReader(path)
    frames = reader.read_all(np.arange(reader.info.num_frames)).numpy()
    return hashlib.sha256(frames.tobytes() + str(frames.shape).encode()).hexdigest()


# --------------------------------------------------------------------------- checkpoints

#: Which weights each dimension needs: our registry name -> path under VBench's cache dir.
BACKBONES: dict[str, dict[str, str]] = {
    "temporal_flickering": {},
    "motion_smoothness": {"amt_s": "amt_model/amt-s.pth"},
    "subject_consistency": {"dino_vitb16": "dino_model/dino_vitbase16_pretrain.pth"},
    "background_consistency": {"clip_vitb32": "clip_model/ViT-B-32.pt"},
    "aesthetic_quality": {
        "clip_vitl14": "clip_model/ViT-L-14.pt",
        "laion_aesthetic_head": "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth",
    },
    "dynamic_degree": {"raft_things": "raft_model/models/raft-things.pth"},
    "imaging_quality": {"musiq_spaq": "pyiqa_model/musiq_spaq_ckpt-358bb6af.pth"},
}
#: GRiT's checkpoint, and the BERT vocabulary its tokenizer reads from the Hugging Face cache
#: (``BertTokenizer.from_pretrained("bert-base-uncased")`` in VBench; ``HF_HOME=<cache>/hf_home``).
HF_VOCAB = "hf_home/hub/models--bert-base-uncased/snapshots/" + "0" * 40 + "/vocab.txt"
GRIT_FILES = {
    grit_seeded.NAME: "grit_model/grit_b_densecap_objectdet.pth",
    "bert_base_uncased_vocab": HF_VOCAB,
}
GRIT_BACKBONES: dict[str, dict[str, str]] = {dim: GRIT_FILES for dim in grit_cases.DIMENSIONS}
#: Every dimension's files, for :func:`write_checkpoints`.
CHECKPOINTS = {**BACKBONES, **GRIT_BACKBONES}

#: Videos our side scores in the DEFAULT test run (None: all), to keep it fast on 2 cores; the
#: live run and the fixtures cover every video. Chosen to include an odd size, a static clip, noise.
LIGHT = ("noise-0.mp4", "static-0.mp4", "oddsize-0.mp4")
DEFAULT_SUBSET: dict[str, tuple[str, ...] | None] = {
    "temporal_flickering": None,
    "motion_smoothness": None,
    "subject_consistency": LIGHT,
    "background_consistency": LIGHT,
    "dynamic_degree": LIGHT,
    "imaging_quality": LIGHT,
    "aesthetic_quality": ("noise-0.mp4",),  # CLIP ViT-L/14: ~1 s per frame on one thread
}

#: VBench's per-video value times this factor is our per-video score. Imaging quality: VBench keeps
#: the per-video MOS on 0-100 and divides only the aggregate by 100; we store MOS/100 per video.
REFERENCE_SCALE: dict[str, float] = {"imaging_quality": 0.01}

#: Official tensor names/shapes/dtypes of every checkpoint, dumped from VBench's own models by
#: ``reference_keys.py`` (run in .venv-parity), so this venv can write the official layouts.
KEYS = FIXTURES / "checkpoint_keys.json"
#: GRiT's, dumped with ``reference_keys.py --grit`` (it needs detectron2 in .venv-parity).
GRIT_KEYS = FIXTURES / "checkpoint_keys_grit.json"


def _template(name: str) -> dict[str, torch.Tensor]:
    path = GRIT_KEYS if name == grit_seeded.NAME else KEYS
    manifest = json.loads(path.read_text(encoding="utf-8"))[name]
    return {
        k: torch.empty(shape, dtype=getattr(torch, dtype), device="meta")
        for k, shape, dtype in manifest
    }


def seeded_checkpoint(name: str, seed: int) -> dict[str, torch.Tensor]:
    """The seeded state dict of weights ``name`` under its official tensor names."""
    state = seeded_state_dict(seed, _template(name), backbone=name)
    if name == "raft_things":  # norm3 is the same module as downsample.1 in princeton-vl RAFT
        for key in list(state):
            if ".norm3." in key:
                state[key] = state[key.replace(".norm3.", ".downsample.1.")].clone()
    if name == grit_seeded.NAME:
        grit_seeded.shape(state)
    return state


def write_torchscript_archive(state: dict[str, torch.Tensor], path: Path) -> None:
    """A TorchScript archive whose ``state_dict()`` is ``state`` (the layout of OpenAI's CLIP).

    ``clip.load`` reads such a file with ``torch.jit.load`` and rebuilds CLIP from its
    ``state_dict()``; our registry reads its tensors without running it.
    """
    root = torch.nn.Module()
    for key, value in state.items():
        *parents, leaf = key.split(".")
        module = root
        for part in parents:
            if part not in module._modules:
                module.add_module(part, torch.nn.Module())
            module = module._modules[part]
        module.register_parameter(leaf, torch.nn.Parameter(value, requires_grad=False))
    torch.jit.save(torch.jit.script(root), str(path))


def _save(name: str, seed: int, path: Path) -> None:
    if name == "bert_base_uncased_vocab":  # the test vocabulary, where the HF cache keeps it
        path.write_text("\n".join(grit_seeded.vocabulary()) + "\n", encoding="utf-8")
        refs = path.parents[2] / "refs" / "main"
        refs.parent.mkdir(parents=True, exist_ok=True)
        refs.write_text(path.parent.name, encoding="utf-8")
        return
    state = seeded_checkpoint(name, seed)
    if name.startswith("clip_"):  # OpenAI ships fp16 weights; clip.load rounds to fp16 anyway
        write_torchscript_archive(
            {k: v.half() if v.is_floating_point() else v for k, v in state.items()}, path
        )
    elif name == "amt_s":
        torch.save({"state_dict": state}, path)
    elif name == grit_seeded.NAME:  # the released file holds float16 tensors under "model"
        half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        tied = grit_seeded.TIED
        half[tied[1]] = half[tied[0]]  # one tensor under two names, as GRiT saves it
        torch.save({"model": half}, path)
    else:
        torch.save(state, path)


def write_checkpoints(
    seed: int, root: Path, dimensions: Sequence[str], *, dino_repo: Path | None = None
) -> tuple[Path, dict[str, str]]:
    """Save the seeded checkpoints the dimensions need, once, in VBench's cache layout.

    Both sides read the same files: VBench through ``VBENCH_CACHE_DIR``, we through
    ``--weights NAME=PATH`` overrides (which accept any digest and record it). For DINO,
    VBench's ``torch.hub`` call loads the weights from ``$TORCH_HOME/hub/checkpoints`` and the
    model code from a local DINO checkout (``dino_repo``, copied into the cache).

    Returns:
        ``(vbench_cache_dir, overrides)``.
    """
    cache = root / "vbench_cache"
    overrides: dict[str, str] = {}
    for dim in dimensions:
        for name, rel in CHECKPOINTS[dim].items():
            target = cache / rel
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                _save(name, seed, target)
            overrides[name] = str(target)
    if "subject_consistency" in dimensions:
        hub = cache / "torch_home" / "hub" / "checkpoints" / "dino_vitbase16_pretrain.pth"
        hub.parent.mkdir(parents=True, exist_ok=True)
        if not hub.exists():
            hub.hardlink_to(cache / BACKBONES["subject_consistency"]["dino_vitb16"])
        if dino_repo is not None:
            repo = cache / "dino_model" / "facebookresearch_dino_main"
            repo.mkdir(parents=True, exist_ok=True)
            for f in ("hubconf.py", "vision_transformer.py", "utils.py"):
                (repo / f).write_bytes((dino_repo / f).read_bytes())
    return cache, overrides


# --------------------------------------------------------------------------- our side


@contextlib.contextmanager
def pinned_threads(threads: int = 1) -> Iterator[None]:
    """One intra-op thread and TF32 off while inside (restored after)."""
    old_threads = torch.get_num_threads()
    old_tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.set_num_threads(threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old_tf32


def our_scores(
    videos: Path,
    overrides: dict[str, str],
    dimensions: Sequence[str],
    out_dir: Path,
    *,
    subset: dict[str, tuple[str, ...] | None] | None = None,
) -> dict[str, dict[str, float]]:
    """Per-video scores of our runner, ``{dimension: {file name: score}}``, threads pinned to 1.

    Args:
        subset: per dimension, the file names to score (None or absent: every video).
    """
    from vbench_cn.api import evaluate

    groups: dict[tuple[str, ...] | None, list[str]] = {}
    for dim in dimensions:
        groups.setdefault((subset or {}).get(dim), []).append(dim)
    scores: dict[str, dict[str, float]] = {}
    for i, (names, dims) in enumerate(groups.items()):
        inputs: list[Path] = [videos] if names is None else [videos / n for n in names]
        with pinned_threads(1):
            records = evaluate(
                inputs,
                model="parity",
                dimensions=dims,
                out_dir=out_dir / f"group{i}",
                progress=False,
                device="cpu",
                weights_overrides=dict(overrides),
            )
        scores.update(records_to_scores(records))
    return scores


def records_to_scores(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``{dimension: {file name: score}}`` of the ok records; a skipped one (a colour video
    without an object frame, which VBench drops too) is left out; an error raises."""
    out: dict[str, dict[str, float]] = {}
    for rec in records:
        if rec.get("status") == "skipped":
            continue
        if rec.get("status") != "ok":
            raise RuntimeError(
                f"{rec['dimension']} {rec['video']}: {rec.get('status')}: {rec.get('error')}"
            )
        out.setdefault(rec["dimension"], {})[Path(rec["video"]).name] = float(rec["score"])
    return out


# --------------------------------------------------------------------------- comparison


def load_tolerances(path: Path = TOLERANCES) -> dict[str, dict[str, Any]]:
    """The tolerance table; every entry looser than 1e-4 must give a reason."""
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    for dim, entry in table.items():
        if float(entry["atol"]) > 1e-4 and not str(entry.get("reason", "")).strip():
            raise ValueError(f"{path}: {dim}: atol {entry['atol']} > 1e-4 needs a reason")
    return table


@dataclass(frozen=True)
class Row:
    """One dimension's comparison over all videos."""

    dimension: str
    videos: int
    max_abs_diff: float
    atol: float
    worst_video: str
    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing and self.max_abs_diff <= self.atol


def compare(
    ours: dict[str, dict[str, float]],
    reference: dict[str, dict[str, float]],
    tolerances: dict[str, dict[str, Any]],
    *,
    subset: bool = False,
) -> list[Row]:
    """Per-dimension max |ours - VBench| over the videos VBench scored (or ``ours``'s subset)."""
    rows = []
    for dim, ref in sorted(reference.items()):
        names = DEFAULT_SUBSET.get(dim) if subset else None
        if names is not None:
            ref = {v: x for v, x in ref.items() if v in names}
        scale = REFERENCE_SCALE.get(dim, 1.0)
        ref = {v: x * scale for v, x in ref.items()}
        mine = ours.get(dim, {})
        missing = tuple(sorted(set(ref) ^ set(mine)))
        diffs = {v: abs(mine[v] - ref[v]) for v in ref if v in mine}
        worst = max(diffs, key=diffs.__getitem__) if diffs else ""
        rows.append(
            Row(
                dim,
                len(diffs),
                diffs.get(worst, float("nan")),
                float(tolerances[dim]["atol"]),
                worst,
                missing,
            )
        )
    return rows


def format_table(rows: Sequence[Row]) -> str:
    """A markdown table of the comparison."""
    lines = [
        "| dimension | videos | max abs diff | atol | worst video | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        result = "ok" if r.ok else ("MISSING " + ",".join(r.missing) if r.missing else "FAIL")
        lines.append(
            f"| {r.dimension} | {r.videos} | {r.max_abs_diff:.3g} | {r.atol:g} "
            f"| {r.worst_video} | {result} |"
        )
    return "\n".join(lines)


def fixture_path(seed: int) -> Path:
    return FIXTURES / f"vbench-{VBENCH_VERSION}-seed{seed}.json"


def read_fixture(seed: int) -> dict[str, Any]:
    return json.loads(fixture_path(seed).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- GRiT dimensions


def write_grit_videos(folder: Path) -> dict[str, str]:
    """The GRiT cases' videos (``grit_cases.py``) and their decoded-frames digests."""
    return grit_cases.write_videos(folder, decoded_sha256)


def our_grit_frames(
    folder: Path, overrides: dict[str, str], files: Sequence[str] | None = None
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """What our GRiT extractors detect on each case's 16 sampled frames, per dimension.

    ``{dimension: {file: [{"boxes", "scores", "labels", "captions"} per frame]}}``, one
    extractor pass per (extractor, video), through ``prepare``/``forward``/``finalize`` as the
    runner calls them, one thread.
    """
    from vbench_cn.features import ExtractorOptions, build_extractor
    from vbench_cn.video import Sampling, VideoReader

    opts = ExtractorOptions(weights_overrides=dict(overrides))
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    done: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with pinned_threads(1):
        for case in grit_cases.CASES:
            if files is not None and case.file not in files:
                continue
            reader = VideoReader(folder / case.file)
            idx = Sampling.from_spec({"frames": 16}).indices(
                reader.info.num_frames, reader.timestamps, reader.info.fps
            )
            frames = reader.read_all(idx)
            for dim in case.aux:
                name = grit_cases.DIMENSIONS[dim]
                if (name, case.file) not in done:
                    ext = build_extractor(name, opts)
                    items = ext.prepare(frames, position=0, info=reader.info)
                    with torch.inference_mode():
                        dets = ext.finalize(ext.forward(items), info=reader.info)
                    done[(name, case.file)] = [
                        {
                            "boxes": [list(d.box) for d in frame],
                            "scores": [d.score for d in frame],
                            "labels": [d.label for d in frame],
                            "captions": [d.caption for d in frame],
                        }
                        for frame in dets
                    ]
                out.setdefault(dim, {})[case.file] = done[(name, case.file)]
    return out


def grit_scores(frames: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, dict[str, float]]:
    """Each dimension's spec scorer applied to our detections, ``{dimension: {file: score}}``
    (a skipped video left out, as VBench drops it)."""
    from vbench_cn.features.outputs import Detection
    from vbench_cn.manifest import PromptInfo
    from vbench_cn.scorers import NotApplicable, get_scorer
    from vbench_cn.specs import load_specs

    specs = load_specs()
    cases = {c.file: c for c in grit_cases.CASES}
    out: dict[str, dict[str, float]] = {}
    for dim, videos in frames.items():
        spec = specs[dim]
        for file, per_frame in videos.items():
            case = cases[file]
            dets = [
                [
                    Detection(label, score, tuple(box), caption=caption)
                    for box, score, label, caption in zip(
                        f["boxes"], f["scores"], f["labels"], f["captions"], strict=True
                    )
                ]
                for f in per_frame
            ]
            prompt = PromptInfo(None, case.prompt, "en", (), case.meta, known=False)
            try:
                score = get_scorer(spec.scorer).fn(dets, prompt=prompt, **spec.params)
            except NotApplicable:
                continue
            out.setdefault(dim, {})[file] = float(score.value)
    return out


@dataclass(frozen=True)
class FrameRow:
    """One dimension's per-frame comparison of GRiT's outputs with VBench's."""

    dimension: str
    frames: int
    boxes: int
    max_box_diff: float
    text_mismatches: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.text_mismatches and self.max_box_diff <= 1e-4


def compare_grit_frames(
    ours: dict[str, dict[str, list[dict[str, Any]]]],
    reference: dict[str, dict[str, list[dict[str, Any]]]],
) -> list[FrameRow]:
    """Boxes (max |diff|, pixels), object names and (colour) descriptions, frame by frame.

    VBench's task head describes with the dimension's task: ObjectDet names for object
    class, multiple objects and spatial relationship, DenseCap captions for colour; its
    ``det_obj`` are the ObjectDet names in every dimension.
    """
    rows = []
    for dim, videos in sorted(reference.items()):
        task_text = "captions" if dim == "color" else "labels"
        worst, boxes, frames, bad = 0.0, 0, 0, []
        for file, ref_frames in videos.items():
            mine = ours.get(dim, {}).get(file)
            if mine is None or len(mine) != len(ref_frames):
                bad.append(
                    f"{file}: frames {None if mine is None else len(mine)} vs {len(ref_frames)}"
                )
                continue
            for i, (m, r) in enumerate(zip(mine, ref_frames, strict=True)):
                frames += 1
                where = f"{file} frame {i}"
                if len(m["boxes"]) != len(r["boxes"]):
                    bad.append(f"{where}: {len(m['boxes'])} boxes vs {len(r['boxes'])}")
                    continue
                boxes += len(m["boxes"])
                if m["boxes"]:
                    diff = np.abs(np.asarray(m["boxes"]) - np.asarray(r["boxes"])).max()
                    worst = max(worst, float(diff))
                if m["labels"] != r["det_obj"]:
                    bad.append(f"{where}: names {m['labels']} vs {r['det_obj']}")
                if m[task_text] != r["descriptions"]:
                    bad.append(f"{where}: {task_text} {m[task_text]} vs {r['descriptions']}")
        rows.append(FrameRow(dim, frames, boxes, worst, tuple(bad)))
    return rows


def format_frame_table(rows: Sequence[FrameRow]) -> str:
    """A markdown table of the per-frame GRiT comparison."""
    lines = [
        "| dimension | frames | boxes | max box diff (px) | text mismatches | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        result = "ok" if r.ok else "FAIL " + "; ".join(r.text_mismatches[:3])
        lines.append(
            f"| {r.dimension} | {r.frames} | {r.boxes} | {r.max_box_diff:.3g} "
            f"| {len(r.text_mismatches)} | {result} |"
        )
    return "\n".join(lines)


def grit_fixture_path(seed: int) -> Path:
    return FIXTURES / f"grit-vbench-{VBENCH_VERSION}-seed{seed}.json"
