"""Every semantic dimension end to end: synthetic videos named after real suite prompts in
both languages, scored by the runner with seeded random weights of reduced configs of the
real architectures (``_tiny.py``), plus a team's own manifest rows and language parity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from semantic._tiny import tiny_registry
from vbench_cn import synthetic
from vbench_cn.language_parity import language_parity
from vbench_cn.manifest import discover, read_manifest
from vbench_cn.results import read_records
from vbench_cn.runner import Runner, RunOptions
from vbench_cn.specs import load_specs, select_specs

SEMANTIC = (
    "object_class",
    "multiple_objects",
    "color",
    "spatial_relationship",
    "human_action",
    "scene",
    "appearance_style",
    "temporal_style",
    "overall_consistency",
)
#: One real suite prompt per dimension (prompts/suite/*.jsonl).
PROMPTS = {
    "object_class": "oc-0001",
    "multiple_objects": "mo-0001",
    "color": "co-0001",
    "spatial_relationship": "sr-0001",
    "human_action": "ha-0001",
    "scene": "sn-0001",
    "appearance_style": "as-0001",
    "temporal_style": "ts-0001",
    "overall_consistency": "ov-0001",
}


def _write(path: Path, seed: int) -> None:
    frames = synthetic.translating_clip(16, 48, 64, pixels_per_frame=2)
    frames = np.clip(frames.astype(np.int16) + seed * 7, 0, 255).astype(np.uint8)
    synthetic.write_video(path, frames, fps=8.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    """One run over 18 videos (9 prompts x zh/en), all semantic dimensions: (runner, records)."""
    root = tmp_path_factory.mktemp("semantic")
    videos = root / "videos"
    for i, pid in enumerate(PROMPTS.values()):
        for lang in ("zh", "en"):
            _write(videos / f"{pid}-{lang}-0.mp4", i)
    specs = select_specs(load_specs(), list(SEMANTIC))
    items = discover([videos], model="m")
    with tiny_registry():
        runner = Runner(
            specs, RunOptions(out_dir=root / "run", random_weights=True, progress=False)
        )
        runner.run(items)
    return runner, read_records(root / "run")


def _by(records, dim, lang):
    return [r for r in records if r["dimension"] == dim and r["prompt_lang"] == lang]


@pytest.mark.parametrize("dim", SEMANTIC)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_dimension_scores_its_prompt_in_both_languages(run, dim: str, lang: str) -> None:
    _, records = run
    recs = _by(records, dim, lang)
    assert len(recs) == 1, [r["video"] for r in recs]
    rec = recs[0]
    assert rec["prompt_id"] == PROMPTS[dim] and rec["random_weights"] is True
    if dim == "color" and rec["status"] == "skipped":
        assert "names a colour" in rec["error"]  # random captions may never name the object
        return
    assert rec["status"] == "ok", rec.get("error")
    assert np.isfinite(rec["score"])
    if dim in ("object_class", "multiple_objects", "spatial_relationship", "scene"):
        assert rec["details"]["weight"] == 16 and 0.0 <= rec["score"] <= 1.0
    if dim == "human_action":
        assert rec["score"] in (0.0, 1.0)


def test_chinese_prompts_are_scored_by_chinese_clip_against_chinese_text(run) -> None:
    runner, records = run
    for dim, zh_model in (
        ("overall_consistency", "cnclip_vitl14"),
        ("temporal_style", "cnclip_vitl14"),
        ("appearance_style", "cnclip_vitb16"),
    ):
        (zh,) = _by(records, dim, "zh")
        (en,) = _by(records, dim, "en")
        assert zh["details"]["model"] == zh_model and zh["details"]["lang"] == "zh"
        assert en["details"].get("model") != zh_model and en["details"]["lang"] == "en"
    (en_ov,) = _by(records, "overall_consistency", "en")
    assert en_ov["details"]["model"] == "viclip_l14"
    texts = {key[1:]: key[0] for key in runner._text_cache}
    from vbench_cn.prompts import load_suite

    ov = next(p for p in load_suite() if p.id == "ov-0001")
    style = next(p for p in load_suite() if p.id == "as-0001").meta["style"]
    assert texts[("zh", ov.text("zh"))] == "cnclip_vitl14"
    assert texts[("en", ov.text("en"))] == "viclip_l14"
    assert texts[("zh", style["zh"])] == "cnclip_vitb16"  # the Chinese style phrase, natively
    assert texts[("en", style["en"])] == "clip_vitb32"


def test_detection_dimensions_share_one_detector_pass(run) -> None:
    runner, _ = run
    frames = runner.profile.frames
    # 3 GRiT ObjectDet prompts x 2 languages x 16 frames, one pass a frame for 3 dimensions;
    # colour's frames go through grit_b_color (VBench downscales them differently over 768 px)
    assert frames["grit_b"] == 3 * 2 * 16 and frames["grit_b_color"] == 2 * 16
    assert "owlv2_coco" not in frames  # the OWLv2 alternatives run only when named
    assert "style_clip" not in frames and "video_text" not in frames  # routers never run


def test_language_parity_over_the_run(run) -> None:
    _, records = run
    df = language_parity(records, load_specs())
    assert set(df["dimension"]) >= {"object_class", "overall_consistency", "human_action"}
    row = df.set_index("dimension").loc["overall_consistency"]
    assert row["n_prompts"] == 1 and not bool(row["same_model"])
    assert row["gap"] == pytest.approx(row["zh"] - row["en"])


def test_team_manifest_rows_get_the_dimensions_their_metadata_allows(tmp_path: Path) -> None:
    _write(tmp_path / "a.mp4", 0)
    _write(tmp_path / "b.mp4", 1)
    rows = [
        {
            "path": "a.mp4",
            "model": "team",
            "prompt_id": "t-1",
            "prompt": "一只红色的狗坐在猫的左边",
            "lang": "zh",
            "object": "dog",
            "color": "red",
            "relation": {"a": "dog", "b": "cat", "relation": "left of"},
        },
        {"path": "b.mp4", "model": "team", "prompt": "A quiet street at night", "lang": "en"},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
    )
    items = read_manifest(manifest)
    dims = (
        "object_class",
        "multiple_objects",
        "spatial_relationship",
        "human_action",
        "overall_consistency",
    )
    with tiny_registry():
        Runner(
            select_specs(load_specs(), list(dims)),
            RunOptions(out_dir=tmp_path / "run", random_weights=True, progress=False),
        ).run(items)
    status = {
        (Path(r["video"]).name, r["dimension"]): (r["status"], r.get("error"))
        for r in read_records(tmp_path / "run")
    }
    assert status[("a.mp4", "object_class")][0] == "ok"
    assert status[("a.mp4", "spatial_relationship")][0] == "ok"
    assert status[("a.mp4", "overall_consistency")][0] == "ok"
    assert status[("a.mp4", "multiple_objects")][0] == "skipped"  # one object only
    assert status[("a.mp4", "human_action")] == ("skipped", "prompt has no 'action' metadata")
    assert status[("b.mp4", "overall_consistency")][0] == "ok"  # needs only the prompt text
    for dim in ("object_class", "multiple_objects", "spatial_relationship", "human_action"):
        assert status[("b.mp4", dim)][0] == "skipped"  # never 0
