"""The demo's sign models: real OCR tells the sign writer from the sign garbler."""

from __future__ import annotations

from pathlib import Path

from vbench_cn import demo
from vbench_cn.api import evaluate


def test_demo_sign_models_are_told_apart_by_both_text_dimensions(
    tmp_path: Path, cjk_font: Path
) -> None:
    assert [pid for pid, _ in demo.text_prompts()] == list(demo.TEXT_PROMPTS)
    assert {"text_rendering", "text_stability"} <= set(demo.DEMO_DIMENSIONS)
    demo.make_demo_videos(tmp_path / "videos")
    folders = [tmp_path / "videos" / name for name, _, _ in demo.TEXT_MODELS]
    records = evaluate(
        folders,
        dimensions=["text_rendering", "text_stability"],
        out_dir=tmp_path / "run",
        progress=False,
    )
    assert len(records) == 2 * 2 * len(demo.TEXT_PROMPTS) and all(
        r["status"] == "ok" for r in records
    ), records
    mean: dict[tuple[str, str], float] = {}
    for r in records:
        mean.setdefault((r["model"], r["dimension"]), 0.0)
        mean[(r["model"], r["dimension"])] += r["score"] / len(demo.TEXT_PROMPTS)
    assert mean[("sign-writer", "text_rendering")] > 0.95
    assert mean[("sign-garbler", "text_rendering")] < 0.5
    assert mean[("sign-writer", "text_stability")] == 1.0
    assert mean[("sign-garbler", "text_stability")] < 0.5


def test_static_scene_demo_videos_are_not_text_prompts() -> None:
    from vbench_cn.prompts import by_id

    prompts = by_id()
    assert all("text_rendering" not in prompts[pid].tags for pid in demo.DEMO_PROMPTS)
    assert all("text_rendering" in prompts[pid].tags for pid in demo.TEXT_PROMPTS)
