"""Resume reuses a record only while its inputs hold (17.2).

The failure: records were keyed by (model, file name, dimension, version), so videos
regenerated at 24 fps into the same run were not scored again ("0 records") and the
aggregate still said 8 fps; records made with ``--random-weights`` were silently kept by
a later run with real weights.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from vbench_cn import synthetic as s
from vbench_cn.aggregation import aggregate
from vbench_cn.manifest import discover
from vbench_cn.results import read_records
from vbench_cn.runner import Runner, RunOptions, probe_all
from vbench_cn.specs import load_specs, parse_spec, select_specs

TINY = "tiny_resume_test"


def _write_clips(folder: Path, fps: float) -> None:
    for i in range(3):
        s.write_video(folder / f"clip{i}-0.mp4", s.translating_clip(8, 32, 32, seed=i), fps)


def _run(folder: Path, out: Path, specs, **options) -> tuple[Runner, list[dict]]:
    items = discover([folder], model="m")
    probes, _ = probe_all(items)
    runner = Runner(specs, RunOptions(out_dir=out, progress=False, **options))
    return runner, runner.run(items, probes=probes)


def test_videos_regenerated_at_another_rate_are_scored_again(tmp_path):
    specs = select_specs(load_specs(), ["frame_rate", "temporal_flickering"])
    videos, out = tmp_path / "videos", tmp_path / "run"
    _write_clips(videos, 8.0)
    _run(videos, out, specs)
    for p in videos.iterdir():
        p.unlink()
    _write_clips(videos, 24.0)
    runner, written = _run(videos, out, specs)
    assert len(written) == 6, "regenerated videos were not scored again"
    assert any("changed" in reason or "probe" in reason for reason in runner.rescored)
    result = aggregate(read_records(out), {sp.id: sp for sp in specs}, num_resamples=100)
    rate = result.dimensions.set_index("dimension").loc["frame_rate", "mean"]
    assert rate == pytest.approx(24.0)


def test_records_scored_on_sideways_frames_are_scored_again(tmp_path):
    """A 180-degree clip keeps its size when turned upright: the rotation itself decides."""
    from tests.footage import _clips as clips

    specs = select_specs(load_specs(), ["temporal_flickering"])
    videos, out = tmp_path / "videos", tmp_path / "run"
    clips.encode(videos / "upside-down-0.mp4", clips.quadrants(8, 32, 64), rotation=180)
    _write_clips(videos, 8.0)
    _run(videos, out, specs)
    lines = (out / "records" / "records-rank0.jsonl").read_text(encoding="utf-8").splitlines()
    old = [json.loads(line) for line in lines]
    for rec in old:  # as written before the probe knew about display matrices
        del rec["probe"]["rotation"], rec["probe"]["sample_aspect_ratio"]
    text = "".join(json.dumps(rec) + "\n" for rec in old)
    (out / "records" / "records-rank0.jsonl").write_text(text, encoding="utf-8")
    runner, written = _run(videos, out, specs)
    assert [Path(r["video"]).name for r in written] == ["upside-down-0.mp4"]
    assert any("rotation 0 → 180" in reason for reason in runner.rescored), runner.rescored


def test_a_touched_or_copied_file_with_the_same_content_is_not_scored_again(tmp_path):
    specs = select_specs(load_specs(), ["frame_rate"])
    videos, out = tmp_path / "videos", tmp_path / "run"
    _write_clips(videos, 8.0)
    _run(videos, out, specs)
    first = videos / "clip0-0.mp4"
    os.utime(first, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns + 10**9))
    shutil.copy(videos / "clip1-0.mp4", tmp_path / "c.mp4")
    shutil.move(tmp_path / "c.mp4", videos / "clip1-0.mp4")  # new inode and mtime
    _, written = _run(videos, out, specs)
    assert written == []


def test_a_changed_prompt_rescores_what_reads_it_only(tmp_path, tiny_backbone):
    from vbench_cn.manifest import PromptInfo, VideoItem

    specs = [*select_specs(load_specs(), ["frame_rate"]), *tiny_backbone]
    videos, out = tmp_path / "videos", tmp_path / "run"
    _write_clips(videos, 8.0)
    path = str(videos / "clip0-0.mp4")

    def item(text: str, lang: str) -> VideoItem:
        return VideoItem(path, "m", "m/clip0-0.mp4", 0, PromptInfo(None, text, lang, (), {}, False))

    def run(text: str, lang: str = "en") -> tuple[Runner, list[dict]]:
        runner = Runner(specs, RunOptions(out_dir=out, progress=False, random_weights=True))
        return runner, runner.run([item(text, lang)])

    run("a cat")
    runner, again = run("a horse")
    assert [r["dimension"] for r in again] == [f"{TINY}_prompt"]
    assert runner.rescored == {"prompt changed": 1}
    assert run("a horse")[1] == []
    # the same video said to come from the Chinese prompt: every record is refiled under zh
    runner, refiled = run("a horse", "zh")
    assert len(refiled) == 3 and {r["prompt_lang"] for r in read_records(out)} == {"zh"}
    assert runner.rescored == {"the video's prompt lang changed": 3}


@pytest.fixture()
def tiny_backbone(monkeypatch):
    """A one-layer extractor with its own checkpoint entry, scorer and spec."""
    from vbench_cn import weights as W
    from vbench_cn.features import EXTRACTORS, FeatureExtractor
    from vbench_cn.scorers import SCORERS, Score, ScorerEntry

    entry = W.Weights(
        name=TINY,
        build=lambda: nn.Linear(3, 1),
        source="https://example.invalid/tiny_resume_test.safetensors",
        filename="tiny_resume_test.safetensors",
        sha256=None,
        size_bytes=None,
        license="MIT",
        transforms="none",
        meta={"num_params": 4},
    )

    class TinyMean(FeatureExtractor):
        name = TINY
        weights = (TINY,)

        def __init__(self, options):
            super().__init__(options)
            self.model, self.weights_id = self.load()

        def prepare(self, frames, *, position, info):
            return frames.float().mean(dim=(1, 2)) / 255.0

        def forward(self, batch):
            return self.model(batch)

    def mean_score(feats) -> Score:
        return Score(float(feats.mean()))

    def prompt_score(feats, *, prompt) -> Score:
        return Score(float(feats.mean()) + len(prompt.text))

    monkeypatch.setitem(W.WEIGHTS, TINY, entry)
    monkeypatch.setitem(EXTRACTORS, TINY, TinyMean)
    monkeypatch.setitem(
        SCORERS, "test.tiny_mean", ScorerEntry("test.tiny_mean", mean_score, (), ())
    )
    monkeypatch.setitem(
        SCORERS, "test.tiny_prompt", ScorerEntry("test.tiny_prompt", prompt_score, (), ("prompt",))
    )

    def make(spec_id: str, scorer: str):
        data = {
            "id": spec_id,
            "version": 1,
            "name": {"en": "tiny", "zh": "小"},
            "category": "quality",
            "description": {"en": "test", "zh": "测试"},
            "scorer": scorer,
            "backbone": TINY,
            "sampling": {"frames": 4},
        }
        return parse_spec(data, f"{spec_id}.toml", check_registries=False)

    return [make(TINY, "test.tiny_mean"), make(f"{TINY}_prompt", "test.tiny_prompt")]


# ---- weights: random, then real, then another real file --------------------------------


def _checkpoint(path: Path, seed: int) -> str:
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    save_file(nn.Linear(3, 1).state_dict(), str(path))
    return str(path)


def test_random_weight_records_are_not_kept_by_a_run_with_real_weights(tmp_path, tiny_backbone):
    videos, out = tmp_path / "videos", tmp_path / "run"
    _write_clips(videos, 8.0)
    specs = tiny_backbone[:1]
    _, first = _run(videos, out, specs, random_weights=True)
    assert len(first) == 3 and all(r["weights"] == "random" for r in first)
    real = {TINY: _checkpoint(tmp_path / "a.safetensors", seed=1)}
    runner, second = _run(videos, out, specs, weights_overrides=real)
    assert len(second) == 3, "random-weight records were reused by a run with real weights"
    assert "weights random → real" in runner.rescored
    records = read_records(out)
    assert all(not r["random_weights"] and r["weights"].startswith(f"{TINY}@") for r in records)
    _, third = _run(videos, out, specs, weights_overrides=real)
    assert third == []  # same file: nothing to do
    other = {TINY: _checkpoint(tmp_path / "b.safetensors", seed=2)}
    runner, fourth = _run(videos, out, specs, weights_overrides=other)
    assert len(fourth) == 3 and any(r.startswith("weights ") for r in runner.rescored)
    scores = {r["score"] for r in second} | {r["score"] for r in fourth}
    assert len(scores) > 3 and np.isfinite(list(scores)).all()
