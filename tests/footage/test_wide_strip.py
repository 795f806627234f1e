"""A 4000x16 strip through every learned dimension (seeded random weights): bounded, recorded.

Short-side resizing made it a 224x56,000 input to DINO: 13 GB and no progress on any other
video. Each dimension must now either score the strip or say, in its record, why it does
not take it; the other videos are scored as usual. One backbone at a time, so the test
holds one model in memory at once (the largest, VideoMAE ViT-g, is 4 GB).
"""

from __future__ import annotations

import gc
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.footage import _clips as clips
from vbench_cn.features import BUILTIN_EXTRACTORS
from vbench_cn.manifest import discover
from vbench_cn.results import read_records
from vbench_cn.runner import Runner, RunOptions
from vbench_cn.specs import load_specs

WEIGHT_FREE = {"video_metadata", "frame_difference", "tiny_pixels", "tiny_pixel_changes"}
WEIGHT_FREE |= {"sharpness_noise"}


@pytest.mark.slow
@pytest.mark.timeout(3600)  # every backbone of the suite on CPU: ~10 min on an idle machine
def test_wide_strip_through_every_learned_dimension(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    clips.encode(folder / "strip-0.mp4", clips.textured(8, 16, 4000), fps=8)
    clips.encode(folder / "条纹-0.mp4", clips.textured(8, 16, 4000, seed=1), fps=8)  # zh routes
    clips.encode(folder / "normal-0.mp4", clips.textured(8, 64, 64, seed=2), fps=8)
    items = discover([folder], model="m")
    zh_strip = [it for it in items if "条纹" in it.path]
    by_backbone = defaultdict(list)
    for spec in load_specs().values():
        if spec.backbone and spec.backbone not in WEIGHT_FREE and spec.level in ("video", "set"):
            by_backbone[spec.backbone].append(spec)
    assert len(by_backbone) >= 12  # every learned backbone of the suite
    out = tmp_path / "run"
    walls = {}
    for backbone, specs in sorted(by_backbone.items()):
        t0 = time.perf_counter()
        # batches of one: OWLv2's 8 x 3,600 tokens alone want 5 GB of attention on CPU
        batch_one = dict.fromkeys(BUILTIN_EXTRACTORS, 1)
        options = RunOptions(
            out_dir=out, random_weights=True, progress=False, batch_sizes=batch_one
        )
        runner = Runner(specs, options)
        routed = hasattr(runner.extractor(backbone), "route")  # the zh strip: Chinese models
        runner.run([it for it in items if routed or it not in zh_strip])
        walls[backbone] = time.perf_counter() - t0
        del runner
        gc.collect()
        assert walls[backbone] < 900, f"{backbone} took {walls[backbone]:.0f} s"
    records = [r for r in read_records(out) if r["level"] == "video"]
    video_dims = {s.id for specs in by_backbone.values() for s in specs if s.level == "video"}
    routed_dims = {s.id for b in ("style_clip", "video_text") for s in by_backbone[b]}
    for name in ("strip-0.mp4", "条纹-0.mp4", "normal-0.mp4"):
        got = {r["dimension"]: r for r in records if r["video"].endswith(name)}
        assert set(got) == (routed_dims if name == "条纹-0.mp4" else video_dims), name
        errors = {d: r["error"] for d, r in got.items() if r["status"] == "error"}
        assert not errors, (name, errors)
    strip = {r["dimension"]: r for r in records if r["video"].endswith("strip-0.mp4")}
    for dim in ("subject_consistency", "background_consistency", "aesthetic_quality"):
        assert strip[dim]["status"] == "skipped"
        assert "this video is 4000x16 (250:1), resized it would explode" in strip[dim]["error"]
    for dim in ("dynamic_degree", "motion_smoothness"):
        assert strip[dim]["status"] == "skipped" and "px a side" in strip[dim]["error"]
    assert strip["imaging_quality"]["status"] == "ok"  # MUSIQ resizes the long side: bounded
