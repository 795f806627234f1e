"""``vbench-cn evaluate --dimensions text_rendering,text_stability`` on rendered sign videos.

Videos are named by suite prompt ids (tx-0001 asks for 北京烤鸭, tx-0047 for OPEN), one
folder per pretend model: correct text, pseudo-characters, no text, and (Chinese only)
letters that morph. Real OCR through the real runner and CLI, offline.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vbench_cn.prompts import by_id
from vbench_cn.results import read_records
from vbench_cn.synthetic import write_video
from vbench_cn.synthetic_text import morphing_texts, sign_clip

PROMPTS = {"tx-0001": "北京烤鸭", "tx-0047": "OPEN"}
NUM_FRAMES = 16


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, cjk_font: Path) -> list[dict]:
    for pid, text in PROMPTS.items():  # the suite must still ask for these texts
        assert by_id()[pid].meta["text"] == text
    videos = tmp_path_factory.mktemp("text_videos")
    size = {"num_frames": NUM_FRAMES, "height": 240, "width": 384, "text_height_px": 36}
    for pid, text in PROMPTS.items():
        write_video(videos / "correct" / f"{pid}-0.mp4", sign_clip(text, **size), 8.0, crf=18)
        write_video(
            videos / "garbled" / f"{pid}-0.mp4",
            sign_clip(text, pseudo_glyphs=True, seed=2, **size),
            8.0,
            crf=18,
        )
        write_video(videos / "missing" / f"{pid}-0.mp4", sign_clip("", **size), 8.0, crf=18)
    morph = sign_clip(morphing_texts("北京烤鸭", NUM_FRAMES, seed=1), **{**size, "num_frames": 0})
    write_video(videos / "morphing" / "tx-0001-0.mp4", morph, 8.0, crf=18)
    out = tmp_path_factory.mktemp("text_run")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vbench_cn",
            "evaluate",
            str(videos),
            "--dimensions",
            "text_rendering,text_stability",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return read_records(out)


def scores(records: list[dict], dimension: str) -> dict[tuple[str, str], float | None]:
    return {
        (r["model"], r["prompt_id"]): r["score"] for r in records if r["dimension"] == dimension
    }


def test_every_video_gets_both_dimensions_with_the_ocr_weights(run: list[dict]) -> None:
    assert len(run) == 2 * 7
    assert all(r["status"] in ("ok", "skipped") for r in run), [r.get("error") for r in run]
    assert all(r["weights"].startswith("rapidocr-onnxruntime-") for r in run)


@pytest.mark.parametrize("pid", list(PROMPTS))
def test_rendering_tells_correct_garbled_and_missing_text_apart(run: list[dict], pid: str) -> None:
    s = scores(run, "text_rendering")
    assert s[("correct", pid)] > 0.95, s
    assert s[("missing", pid)] == 0.0, s
    assert s[("garbled", pid)] < 0.75, s
    assert s[("correct", pid)] - s[("garbled", pid)] > 0.3, s


def test_stability_is_full_for_steady_text_low_for_morphing_and_skipped_without_text(
    run: list[dict],
) -> None:
    s = scores(run, "text_stability")
    assert s[("correct", "tx-0001")] == 1.0 and s[("correct", "tx-0047")] == 1.0, s
    assert s[("morphing", "tx-0001")] < 0.6, s
    skipped = [r for r in run if r["dimension"] == "text_stability" and r["model"] == "missing"]
    assert [r["status"] for r in skipped] == ["skipped", "skipped"]
    assert "frames, fewer than 2" in skipped[0]["error"]
