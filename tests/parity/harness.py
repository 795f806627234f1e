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
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURES = HERE / "fixtures"
TOLERANCES = HERE / "tolerances.toml"
VBENCH_VERSION = "0.1.5"

sys.path.insert(0, str(HERE))
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
        return np.stack([np.roll(base, (k // 3, dx), axis=(0, 1))[:144, :176] for k, dx in enumerate(shifts)])

    return [
        Case("translate-0.mp4", lambda: s.translating_clip(9, 128, 160, pixels_per_frame=2)),
        Case("translate-rgb-0.mp4", lambda: s.translating_clip(10, 144, 128, pixels_per_frame=3), codec="libx264rgb"),
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

#: Which weights each dimension needs: our registry name -> VBench cache path.
BACKBONES: dict[str, dict[str, str]] = {
    "temporal_flickering": {},
    "motion_smoothness": {"amt_s": "amt_model/amt-s.pth"},
}


def _amt_checkpoint(seed: int) -> dict[str, Any]:
    from vbench_cn.features.amt_arch import build_amt_s

    return {"state_dict": seeded_state_dict(seed, build_amt_s().state_dict(), backbone="amt_s")}


#: Seeded checkpoint in the official file format, by our weights name.
CHECKPOINTS: dict[str, Callable[[int], Any]] = {"amt_s": _amt_checkpoint}


def write_checkpoints(seed: int, root: Path, dimensions: Sequence[str]) -> tuple[Path, dict[str, str]]:
    """Save the seeded checkpoints the dimensions need, in both layouts.

    Returns:
        ``(vbench_cache_dir, overrides)``: the folder to give VBench as ``VBENCH_CACHE_DIR``
        and our ``--weights NAME=PATH`` pairs.
    """
    cache = root / "vbench_cache"
    ours = root / "ours"
    overrides: dict[str, str] = {}
    for dim in dimensions:
        for name, rel in BACKBONES[dim].items():
            ckpt = CHECKPOINTS[name](seed)
            target = cache / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.save(ckpt, target)
            mine = ours / Path(rel).name
            mine.parent.mkdir(parents=True, exist_ok=True)
            torch.save(ckpt, mine)
            overrides[name] = str(mine)
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


def our_scores(videos: Path, overrides: dict[str, str], dimensions: Sequence[str], out_dir: Path) -> dict[str, dict[str, float]]:
    """Per-video scores of our runner, ``{dimension: {file name: score}}``, threads pinned to 1."""
    from vbench_cn.api import evaluate

    with pinned_threads(1):
        records = evaluate([videos], model="parity", dimensions=list(dimensions), out_dir=out_dir,
                           progress=False, device="cpu", weights_overrides=dict(overrides))
    return records_to_scores(records)


def records_to_scores(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``{dimension: {file name: score}}`` of the ok records; anything else is an error."""
    out: dict[str, dict[str, float]] = {}
    for rec in records:
        if rec.get("status") != "ok":
            raise RuntimeError(f"{rec['dimension']} {rec['video']}: {rec.get('status')}: {rec.get('error')}")
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


def compare(ours: dict[str, dict[str, float]], reference: dict[str, dict[str, float]],
            tolerances: dict[str, dict[str, Any]]) -> list[Row]:
    """Per-dimension max |ours - VBench| over the videos VBench scored."""
    rows = []
    for dim, ref in sorted(reference.items()):
        mine = ours.get(dim, {})
        missing = tuple(sorted(set(ref) ^ set(mine)))
        diffs = {v: abs(mine[v] - ref[v]) for v in ref if v in mine}
        worst = max(diffs, key=diffs.__getitem__) if diffs else ""
        rows.append(Row(dim, len(diffs), diffs.get(worst, float("nan")), float(tolerances[dim]["atol"]), worst,
                        missing))
    return rows


def format_table(rows: Sequence[Row]) -> str:
    """A markdown table of the comparison."""
    lines = ["| dimension | videos | max abs diff | atol | worst video | result |", "|---|---|---|---|---|---|"]
    for r in rows:
        result = "ok" if r.ok else ("MISSING " + ",".join(r.missing) if r.missing else "FAIL")
        lines.append(f"| {r.dimension} | {r.videos} | {r.max_abs_diff:.3g} | {r.atol:g} | {r.worst_video} | {result} |")
    return "\n".join(lines)


def fixture_path(seed: int) -> Path:
    return FIXTURES / f"vbench-{VBENCH_VERSION}-seed{seed}.json"


def read_fixture(seed: int) -> dict[str, Any]:
    return json.loads(fixture_path(seed).read_text(encoding="utf-8"))
