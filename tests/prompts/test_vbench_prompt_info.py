"""``--prompt-suite`` with VBench's ``VBench_full_info.json`` format (17.8).

The failure: any such file, even one entry, crashed with ``ValueError: prompt vb-0 has no
zh text`` (VBench's prompts are English only), and a text listed twice with different
dimensions kept only the first entry's tags. The file is written here in VBench's format:
a JSON list of ``{"prompt_en", "dimension": [...], "auxiliary_info": {...}}``.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vbench_cn import synthetic as s
from vbench_cn.cli import app
from vbench_cn.manifest import PromptIndex
from vbench_cn.results import read_records

TEXT = "a red kite drifting over a quiet beach"


def _info(path: Path) -> Path:
    entries = [
        {"prompt_en": TEXT, "dimension": ["subject_consistency"]},
        {"prompt_en": "a bowl of ramen", "dimension": ["color"], "auxiliary_info": {}},
        {"prompt_en": TEXT, "dimension": ["temporal_flickering"]},
    ]
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def test_a_text_listed_twice_keeps_every_tag(tmp_path):
    index = PromptIndex.default(str(_info(tmp_path / "VBench_full_info.json")))
    info = index.info(*index.by_text[TEXT])
    assert info.id == "vb-0" and info.lang == "en" and info.text == TEXT
    assert {"subject_consistency", "temporal_flickering"} <= set(info.tags)


def test_evaluate_reads_videos_named_by_vbench_prompts(tmp_path):
    videos = tmp_path / "videos"
    s.write_video(videos / f"{TEXT}-0.mp4", s.static_clip(8, 32, 32), 8.0)
    info = _info(tmp_path / "VBench_full_info.json")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            *("evaluate", str(videos), "--model", "m", "--out", str(out), "--no-progress"),
            *("-d", "temporal_flickering", "--prompt-suite", str(info)),
        ],
    )
    assert result.exit_code == 0, result.output
    (record,) = read_records(out)
    assert record["prompt_id"] == "vb-0" and record["status"] == "ok", record
