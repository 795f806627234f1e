"""No two videos share a record key (17.3).

The failure: several folders under one ``--model``, or manifest rows, kept only
``model/basename``, so two ``x-0.mp4`` in different folders became one record and the
aggregate counted one video; of two conflicting manifest rows the first won silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vbench_cn import synthetic as s
from vbench_cn.api import evaluate
from vbench_cn.manifest import ManifestError, discover


def _two_folders(root: Path) -> tuple[Path, Path]:
    a, b = root / "ckpt-1" / "videos", root / "ckpt-2" / "videos"
    s.write_video(a / "x-0.mp4", s.translating_clip(8, 32, 32, seed=1), 8.0)
    s.write_video(b / "x-0.mp4", s.translating_clip(16, 32, 32, seed=2), 16.0)
    return a, b


def test_same_file_name_in_two_folders_under_one_model_gives_two_records(tmp_path):
    a, b = _two_folders(tmp_path)
    records = evaluate(
        [a, b], model="m", dimensions=["frame_rate"], out_dir=tmp_path / "run", progress=False
    )
    assert sorted(r["score"] for r in records) == [8.0, 16.0]
    assert len({r["video"] for r in records}) == 2


def test_manifest_rows_with_the_same_file_name_keep_their_folders(tmp_path):
    _two_folders(tmp_path)
    manifest = tmp_path / "m.jsonl"
    rows = [
        {"path": "ckpt-1/videos/x-0.mp4", "model": "m", "prompt": "a cat"},
        {"path": "ckpt-2/videos/x-0.mp4", "model": "m", "prompt": "a cat"},
    ]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    items = discover([manifest])
    assert sorted(it.rel_path for it in items) == [
        "m/ckpt-1/videos/x-0.mp4",
        "m/ckpt-2/videos/x-0.mp4",
    ]


def test_unique_names_keep_the_short_key(tmp_path):
    """Keys that never collided stay as they were, so existing runs resume under them."""
    a, _ = _two_folders(tmp_path)
    assert [it.rel_path for it in discover([a], model="m")] == ["m/x-0.mp4"]


def test_conflicting_duplicate_manifest_rows_are_refused(tmp_path):
    a, _ = _two_folders(tmp_path)
    manifest = tmp_path / "m.jsonl"
    same = {"path": str(a / "x-0.mp4"), "model": "m", "prompt": "a cat", "sample": 0}
    manifest.write_text(
        "\n".join(json.dumps(r) for r in (same, same, {**same, "prompt": "a dog"})) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ManifestError) as info:
        discover([manifest])
    text = str(info.value)
    assert f"{manifest}:3:" in text and "line 1" in text and "\n" not in text, text
    manifest.write_text(json.dumps(same) + "\n" + json.dumps(same) + "\n", encoding="utf-8")
    assert len(discover([manifest])) == 1  # the same row twice is one video
