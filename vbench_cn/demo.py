"""``vbench-cn demo``: pretend models that differ in known ways, scored and ranked end to end.

Offline and fast on 2 CPU cores: the videos are synthetic and the dimensions chosen are the
ones that need no downloaded weights (pixel statistics, metadata, and the OCR whose real
models ship inside the rapidocr wheel when it is installed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vbench_cn import synthetic

#: How each pretend model makes a clip: (frames, fps, size) and a frame generator.
PretendModel = tuple[str, str, Callable[[int], np.ndarray], float]


def _steady(seed: int) -> np.ndarray:
    return synthetic.translating_clip(24, 128, 128, pixels_per_frame=1, seed=seed)


def _flickering(seed: int) -> np.ndarray:
    clip = synthetic.translating_clip(24, 128, 128, pixels_per_frame=1, seed=seed).astype(np.int16)
    jitter = np.random.default_rng(seed).integers(-40, 41, size=(24, 1, 1, 1))
    return np.clip(clip + jitter, 0, 255).astype(np.uint8)


def _short(seed: int) -> np.ndarray:
    return synthetic.translating_clip(8, 64, 64, pixels_per_frame=1, seed=seed)


PRETEND_MODELS: tuple[PretendModel, ...] = (
    ("steady-cam", "steady, 3 s at 8 fps, 128 px", _steady, 8.0),
    ("flicker-gen", "flickering brightness, 3 s at 8 fps, 128 px", _flickering, 8.0),
    ("short-clip", "steady but 1 s long and 64 px", _short, 8.0),
)

#: Pretend models that draw the sign a text_rendering prompt asks for: (name, what, garbles).
#: Their videos are scored by real OCR (PP-OCRv4 from the rapidocr wheel).
TEXT_MODELS: tuple[tuple[str, str, bool], ...] = (
    ("sign-writer", "writes the sign text correctly, 3 s at 8 fps, 384x240", False),
    (
        "sign-garbler",
        "writes pseudo-characters that change every frame, 3 s at 8 fps, 384x240",
        True,
    ),
)

DEMO_DIMENSIONS = (
    "temporal_flickering",
    "duration_seconds",
    "frame_rate",
    "resolution",
    "text_rendering",
    "text_stability",
)
#: Static-scene prompts (tagged temporal_flickering, so the text dimensions skip them).
DEMO_PROMPTS = ("tf-0001", "tf-0002", "tf-0003", "tf-0004")
#: text_rendering prompts: tx-0001 asks for a sign reading 北京烤鸭, tx-0047 for a neon OPEN.
TEXT_PROMPTS = ("tx-0001", "tx-0047")
SAMPLES_PER_PROMPT = 2


def _sign(text: str, seed: int, *, garbles: bool) -> np.ndarray:
    from vbench_cn.synthetic_text import sign_clip

    return sign_clip(
        text,
        num_frames=24,
        height=240,
        width=384,
        text_height_px=36,
        seed=seed,
        pseudo_glyphs=garbles,
        morph_glyphs=garbles,
    )


def text_prompts() -> list[tuple[str, str]]:
    """(prompt id, expected text) of :data:`TEXT_PROMPTS` that can be drawn here.

    Chinese needs a CJK font (fonts-noto-cjk); without one only the English sign is drawn.
    """
    from vbench_cn.prompts import by_id
    from vbench_cn.synthetic_text import find_cjk_font, needs_cjk

    prompts = by_id()
    texts = [(pid, str(prompts[pid].meta["text"])) for pid in TEXT_PROMPTS]
    return [(pid, t) for pid, t in texts if not needs_cjk(t) or find_cjk_font() is not None]


def make_demo_videos(folder: Path) -> list[Path]:
    """Write the pretend models' videos, one sub-folder per model, named ``{prompt_id}-{i}.mp4``."""
    paths = []
    for model, _, make, fps in PRETEND_MODELS:
        for p, prompt_id in enumerate(DEMO_PROMPTS):
            for i in range(SAMPLES_PER_PROMPT):
                path = folder / model / f"{prompt_id}-{i}.mp4"
                if not path.exists():
                    synthetic.write_video(path, make(100 * p + i), fps)
                paths.append(path)
    for model, _, garbles in TEXT_MODELS:  # one sample per prompt: OCR is the slow part
        for p, (prompt_id, text) in enumerate(text_prompts()):
            path = folder / model / f"{prompt_id}-0.mp4"
            if not path.exists():
                synthetic.write_video(path, _sign(text, p, garbles=garbles), 8.0, crf=18)
            paths.append(path)
    return paths


def run_demo(out: Path, *, build_site: bool = True) -> None:
    """Generate, score, rank, and (optionally) build the site; prints the ranking to stdout."""
    from vbench_cn.api import evaluate
    from vbench_cn.cli._common import stderr, stdout

    t0 = time.perf_counter()
    videos = out / "videos"
    run_dir = out / "run"
    make_demo_videos(videos)
    stderr.print(f"demo: {len(PRETEND_MODELS) + len(TEXT_MODELS)} pretend models → {videos}")
    for name, what, _, _ in PRETEND_MODELS:
        stderr.print(f"  {name}: {what}", highlight=False)
    signs = ", ".join(f"{pid} {text}" for pid, text in text_prompts())
    for name, what, _ in TEXT_MODELS:
        stderr.print(f"  {name}: {what} ({signs})", highlight=False)
    if len(text_prompts()) < len(TEXT_PROMPTS):
        stderr.print(
            "  (no CJK font found: the Chinese sign is left out; apt-get install -y fonts-noto-cjk)"
        )
    records = evaluate([videos], dimensions=list(DEMO_DIMENSIONS), out_dir=run_dir, progress=True)
    for table in _ranking(records):
        stdout.print(table)
    if build_site:
        try:
            from vbench_cn.site import build_site_from_run
        except ImportError:
            build_site_from_run = None  # type: ignore[assignment]
        if build_site_from_run is not None:
            site_dir = out / "site"
            build_site_from_run(run_dir, site_dir)
            stderr.print(f"site: {site_dir / 'index.html'}")
    stderr.print(f"demo finished in {time.perf_counter() - t0:.1f} s; records in {run_dir}")


def _ranking(records: list[dict]) -> list[object]:
    """Rich tables ranking the pretend models, one per set of dimensions they were scored on.

    Cells are raw means (seconds, fps, pixels, 0-1 scores); ``score`` is the spec-weighted
    mean of the normalised values. A model is ranked only against models scored on the same
    dimensions (the text models read signs, the others do not), as on the leaderboard.
    """
    import pandas as pd
    from rich.table import Table

    from vbench_cn.specs import load_specs

    specs = load_specs()
    df = pd.DataFrame([r for r in records if r["status"] == "ok"])
    means = df.pivot_table(index="model", columns="dimension", values="score", aggfunc="mean")
    norm = means.apply(lambda col: col.map(specs[col.name].normalize))
    weights = pd.Series({d: specs[d].weight for d in norm.columns})
    total = (norm * weights).sum(axis=1) / norm.notna().mul(weights, axis=1).sum(axis=1)
    groups: dict[tuple[str, ...], list[str]] = {}
    for model in means.index:
        dims = tuple(d for d in means.columns if not pd.isna(means.loc[model, d]))
        groups.setdefault(dims, []).append(model)
    tables = []
    for dims, models in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        table = Table(
            title="vbench-cn demo ranking / 演示排名 — raw means per dimension; score: weighted "
            "mean of the normalised dimensions (0-1, higher is better)"
        )
        table.add_column("rank")
        table.add_column("model", no_wrap=True)
        for d in dims:
            table.add_column(f"{specs[d].label('en')}\n{specs[d].label('zh')}", no_wrap=True)
        table.add_column("score")
        ranked = sorted(models, key=lambda m: (-total[m], m))
        for rank, model in enumerate(ranked, 1):
            cells = (f"{means.loc[model, d]:.3g}" for d in dims)
            table.add_row(str(rank), model, *cells, f"{total[model]:.3f}")
        tables.append(table)
    return tables
