"""Duration dimensions end to end: long synthetic videos written to disk, decoded by the runner.

The clips (``_clips.py``, 32x32 at 4 fps, 16-60 s) each break one property at a known time.
The weight-free backbones (``tiny_pixels``, ``sharpness_noise``) make every answer independent
of model weights, so these tests check the whole path (probe, chunked decode, sampling,
windows, scorer, record) against known rankings. Event order runs through the runner's list
texts (``text = "meta.events"``) with a colour "model" whose text tower is a lookup table.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from tests.duration import _clips as clips
from vbench_cn.api import evaluate
from vbench_cn.features import FeatureExtractor, register_extractor
from vbench_cn.manifest import PromptInfo, VideoItem
from vbench_cn.synthetic import write_video
from vbench_cn.video import VideoInfo

DIMENSIONS_DIR = Path(__file__).resolve().parents[2] / "dimensions"
CLIPS = {
    "steady": clips.steady,
    "blurring": clips.blurring,
    "noising": clips.noising,
    "freezing": clips.freezing,
    "looped": clips.looped,
    "ping_pong": clips.ping_pong,
    "with_cuts": clips.with_cuts,
    "drifting": clips.drifting,
}

#: Weight-free variants of the two specs whose shipped backbone is a learned model.
WEIGHT_FREE_SPECS = {
    "sustained_quality": [('backbone = "musiq_spaq"', 'backbone = "sharpness_noise"')],
    "long_range_consistency": [
        ('backbone = "dino_vitb16"', 'backbone = "tiny_pixels"'),
        (
            "params = { window_seconds = 2.0, min_lag_seconds = 10.0 }",
            "params = { window_seconds = 2.0, min_lag_seconds = 10.0, center_frames = true }",
        ),
    ],
}


@pytest.fixture(scope="module")
def long_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("long_clips")
    return {
        name: write_video(folder / f"{name}.mp4", make(), fps=clips.FPS)
        for name, make in CLIPS.items()
    }


@pytest.fixture(scope="module")
def weight_free_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dims")
    for dim, edits in WEIGHT_FREE_SPECS.items():
        text = (DIMENSIONS_DIR / f"{dim}.toml").read_text(encoding="utf-8")
        for old, new in edits:
            assert old in text, f"{dim}.toml changed: update WEIGHT_FREE_SPECS"
            text = text.replace(old, new)
        (folder / f"{dim}.toml").write_text(text, encoding="utf-8")
    return folder


def _items(paths: dict[str, Path], prompt: PromptInfo | None = None) -> list[VideoItem]:
    return [VideoItem(str(p), "synthetic", p.name, 0, prompt) for p in paths.values()]


@pytest.fixture(scope="module")
def scores(
    long_clips: dict[str, Path], weight_free_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], dict[str, Any]]:
    dims = [
        "sustained_quality",
        "long_range_consistency",
        "motion_persistence",
        "loop_detection",
        "unintended_cuts",
    ]
    records = evaluate(
        _items(long_clips),
        dimensions=dims,
        dimensions_dirs=[weight_free_dir],
        out_dir=tmp_path_factory.mktemp("run"),
        progress=False,
        device="cpu",
        chunk_frames=16,
    )
    out = {(Path(r["video"]).stem, r["dimension"]): r for r in records}
    assert len(out) == len(dims) * len(CLIPS)
    bad = {k: r["error"] for k, r in out.items() if r["status"] != "ok"}
    assert not bad, bad
    return out


def value(scores: dict[tuple[str, str], dict[str, Any]], clip: str, dim: str) -> float:
    return float(scores[(clip, dim)]["score"])


def test_sustained_quality_ranks_degrading_videos_below_steady(scores: dict) -> None:
    dim = "sustained_quality"
    assert value(scores, "steady", dim) > 0.95
    assert value(scores, "blurring", dim) < 0.85
    assert value(scores, "noising", dim) < 0.5
    assert (
        value(scores, "steady", dim)
        > value(scores, "blurring", dim)
        > value(scores, "noising", dim)
    )
    assert scores[("noising", dim)]["details"]["worst_channel"] == 1  # the noise channel caught it
    assert scores[("blurring", dim)]["details"]["worst_channel"] == 0  # the sharpness channel


def test_long_range_consistency_ranks_drift_and_cuts_below_steady(scores: dict) -> None:
    dim = "long_range_consistency"
    assert value(scores, "steady", dim) > value(scores, "drifting", dim) + 0.2
    assert value(scores, "drifting", dim) > value(scores, "with_cuts", dim)
    assert scores[("drifting", dim)]["details"]["last_to_first"] < 0.3


def test_motion_persistence_sees_the_freeze_halfway(scores: dict) -> None:
    dim = "motion_persistence"
    assert value(scores, "steady", dim) == 1.0
    assert value(scores, "freezing", dim) == pytest.approx(0.5, abs=0.05)
    assert scores[("freezing", dim)]["details"]["frozen_from_seconds"] == pytest.approx(
        30.0, abs=2.1
    )


def test_loop_detection_finds_loop_and_ping_pong_only(scores: dict) -> None:
    dim = "loop_detection"
    assert value(scores, "looped", dim) == pytest.approx(0.25, abs=0.05)
    assert scores[("looped", dim)]["details"]["segments"][0]["lag_seconds"] == pytest.approx(
        4.0, abs=0.3
    )
    assert value(scores, "ping_pong", dim) < 0.45
    for clip in ("steady", "freezing", "with_cuts", "blurring", "drifting"):
        assert value(scores, clip, dim) == 1.0, clip


def test_unintended_cuts_counts_cuts_at_their_times(scores: dict) -> None:
    dim = "unintended_cuts"
    details = scores[("with_cuts", dim)]["details"]
    assert details["cuts"] == 3
    assert details["cut_seconds"] == pytest.approx([15.0, 30.0, 45.0], abs=0.6)
    assert value(scores, "with_cuts", dim) == pytest.approx(math.exp(-3 / 2), rel=1e-3)
    for clip in ("steady", "freezing", "looped", "noising", "drifting"):
        assert value(scores, clip, dim) == 1.0, clip


def test_static_scene_prompt_is_not_applicable(long_clips: dict[str, Path], tmp_path: Path) -> None:
    still = PromptInfo(
        "tf-0001", "a still lake", "en", tags=("temporal_flickering",), meta={"subject": "lake"}
    )
    records = evaluate(
        _items({"freezing": long_clips["freezing"]}, still),
        dimensions=["motion_persistence"],
        out_dir=tmp_path,
        progress=False,
        device="cpu",
        all_prompts=True,
    )
    assert [r["status"] for r in records] == ["skipped"]
    assert "static" in records[0]["error"]


# ------------------------------------------------------------------ event order, through the runner


@register_extractor("test_mean_colour")
class MeanColour(FeatureExtractor):
    """Mean RGB of each frame; "text" embeddings are colour words looked up in both languages."""

    name = "test_mean_colour"
    batch_size = 256
    COLOURS: ClassVar[dict[str, tuple[float, float, float]]] = {
        "red": (1, 0, 0),
        "green": (0, 1, 0),
        "blue": (0, 0, 1),
        "红": (1, 0, 0),
        "绿": (0, 1, 0),
        "蓝": (0, 0, 1),
    }
    seen: ClassVar[list[tuple[str, tuple[str, ...]]]] = []

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        return frames.to(torch.float32).mean(dim=(1, 2)) / 255.0

    def encode_text(self, texts: Any, *, lang: str) -> torch.Tensor:
        MeanColour.seen.append((lang, tuple(texts)))
        return torch.tensor([self.COLOURS[t] for t in texts], dtype=torch.float32)


def _colour_story(order: list[int], seconds_each: float = 8.0) -> np.ndarray:
    rgb = np.array([(200, 30, 30), (30, 200, 30), (30, 30, 200)], dtype=np.float64)
    rng = np.random.default_rng(0)
    n = int(seconds_each * clips.FPS)
    frames = [np.clip(rgb[k] + rng.normal(0, 10, (n, 32, 32, 3)), 0, 255) for k in order]
    return np.concatenate(frames).astype(np.uint8)


def _events_prompt(lang: str, order: list[int]) -> PromptInfo:
    words = [("red", "红"), ("green", "绿"), ("blue", "蓝")]
    events = [{"en": words[k][0], "zh": words[k][1]} for k in order]
    return PromptInfo("lm-9999", "story", lang, tags=("long_multi_event",), meta={"events": events})


def _event_order_records(tmp_path: Path, backbone: str, items: list[VideoItem]) -> dict[str, Any]:
    """Score ``items`` on the shipped event_order spec, its backbone replaced; records by video."""
    spec = (DIMENSIONS_DIR / "event_order.toml").read_text(encoding="utf-8")
    assert 'backbone = "style_clip"' in spec
    dims = tmp_path / "dims"
    dims.mkdir()
    (dims / "event_order.toml").write_text(
        spec.replace('backbone = "style_clip"', f'backbone = "{backbone}"'), encoding="utf-8"
    )
    records = evaluate(
        items,
        dimensions=["event_order"],
        dimensions_dirs=[dims],
        out_dir=tmp_path / "run",
        progress=False,
        device="cpu",
    )
    return {r["video"]: r for r in records}


def test_event_order_through_the_runner_in_both_languages(tmp_path: Path) -> None:
    video = write_video(tmp_path / "story.mp4", _colour_story([0, 1, 2]), fps=clips.FPS)
    items = [
        VideoItem(str(video), "m", "en-in-order.mp4", 0, _events_prompt("en", [0, 1, 2])),
        VideoItem(str(video), "m", "zh-in-order.mp4", 0, _events_prompt("zh", [0, 1, 2])),
        VideoItem(str(video), "m", "en-reversed.mp4", 0, _events_prompt("en", [2, 1, 0])),
        VideoItem(str(video), "m", "zh-swapped.mp4", 0, _events_prompt("zh", [1, 0, 2])),
    ]
    MeanColour.seen.clear()
    got = _event_order_records(tmp_path, "test_mean_colour", items)
    assert {k: r["status"] for k, r in got.items()} == dict.fromkeys(got, "ok")
    assert got["en-in-order.mp4"]["score"] == 1.0
    assert got["zh-in-order.mp4"]["score"] == 1.0
    assert got["en-reversed.mp4"]["score"] == 0.0
    assert got["zh-swapped.mp4"]["score"] == pytest.approx(2 / 3)
    assert got["en-in-order.mp4"]["details"]["events"] == 3
    assert ("zh", ("红", "绿", "蓝")) in MeanColour.seen  # every event, in the prompt's language
    assert ("en", ("blue", "green", "red")) in MeanColour.seen


@register_extractor("test_mean_colour_zh")
class MeanColourZh(MeanColour):
    """The "Chinese model": same features, tagged with its name as Chinese-CLIP's are."""

    name = "test_mean_colour_zh"

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> Any:
        from vbench_cn.features.outputs import TaggedEmbeddings

        return TaggedEmbeddings(outputs, model=self.name)


def test_event_order_follows_a_language_router(tmp_path: Path) -> None:
    """The shipped spec uses ``style_clip`` (en -> OpenAI CLIP, zh -> Chinese-CLIP): a router."""
    from vbench_cn.features.cnclip import LanguageRouter

    @register_extractor("test_colour_router")
    class ColourRouter(LanguageRouter):
        name = "test_colour_router"
        routes: ClassVar[dict[str, str]] = {"en": "test_mean_colour", "zh": "test_mean_colour_zh"}

    video = write_video(tmp_path / "story.mp4", _colour_story([0, 1, 2]), fps=clips.FPS)
    items = [
        VideoItem(str(video), "m", f"{lang}.mp4", 0, _events_prompt(lang, [0, 1, 2]))
        for lang in ("en", "zh")
    ]
    got = _event_order_records(tmp_path, "test_colour_router", items)
    assert [got[k]["score"] for k in ("en.mp4", "zh.mp4")] == [1.0, 1.0]
    assert got["zh.mp4"]["details"]["model"] == "test_mean_colour_zh"
    assert got["en.mp4"]["details"]["model"] is None


def test_written_clips_keep_their_length(long_clips: dict[str, Path]) -> None:
    from vbench_cn.video import probe

    assert probe(long_clips["steady"]).duration_seconds == pytest.approx(60.0, abs=0.3)
    assert probe(long_clips["looped"]).duration_seconds == pytest.approx(16.0, abs=0.3)
