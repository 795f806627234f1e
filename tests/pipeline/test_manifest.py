"""Finding videos and their prompts: naming schemes, explicit manifests, bad manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vbench_cn import synthetic as s
from vbench_cn.manifest import ManifestError, PromptIndex, discover, parse_video_name, read_manifest
from vbench_cn.prompts import load_suite


@pytest.fixture(scope="module")
def index() -> PromptIndex:
    return PromptIndex.default()


def test_prompt_id_names_in_both_languages(index: PromptIndex) -> None:
    prompt, sample = parse_video_name("sc-0001-zh-3", index, "en")
    assert prompt is not None and prompt.id == "sc-0001" and prompt.lang == "zh" and sample == 3
    assert "subject_consistency" in prompt.tags
    prompt, sample = parse_video_name("sc-0001-2", index, "en")
    assert prompt is not None and prompt.lang == "en" and sample == 2


def test_vbench_style_names_match_suite_text_in_either_language(index: PromptIndex) -> None:
    suite = load_suite()
    p = next(x for x in suite if "scene" in x.tags)
    en, _ = parse_video_name(f"{p.text('en')}-4", index, "en")
    zh, _ = parse_video_name(f"{p.text('zh')}-0", index, "en")
    assert en is not None and en.id == p.id and en.lang == "en"
    assert zh is not None and zh.id == p.id and zh.lang == "zh"


def test_unknown_prompt_text_is_kept_and_flagged(index: PromptIndex) -> None:
    prompt, sample = parse_video_name("一只橘猫在窗台上打哈欠-1", index, "en")
    assert prompt is not None and not prompt.known and prompt.lang == "zh" and sample == 1
    assert prompt.text == "一只橘猫在窗台上打哈欠"


def test_model_folders(tmp_path: Path, index: PromptIndex) -> None:
    for model in ("sora", "boximator"):
        s.write_video(tmp_path / model / "sc-0002-0.mp4", s.static_clip(2, 16, 16))
    items = discover([tmp_path], index=index)
    assert sorted(it.model for it in items) == ["boximator", "sora"]
    assert all(it.prompt_id == "sc-0002" for it in items)


def test_jsonl_and_csv_manifests_carry_metadata(tmp_path: Path, index: PromptIndex) -> None:
    s.write_video(tmp_path / "a.mp4", s.static_clip(2, 16, 16))
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text(
        json.dumps(
            {
                "path": "a.mp4",
                "model": "ours",
                "prompt": "一块写着“开业大吉”的红色横幅",
                "lang": "zh",
                "sample": 0,
                "expected_text": "开业大吉",
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    item = read_manifest(jsonl, index=index)[0]
    assert (
        item.model == "ours"
        and item.prompt is not None
        and item.prompt.meta["expected_text"] == "开业大吉"
    )
    csv = tmp_path / "m.csv"
    csv.write_text(
        "path,model,prompt_id,lang,sample,relation\n"
        'a.mp4,ours,sr-0001,en,2,"{""a"": ""cat"", ""b"": ""dog"", ""relation"": ""left of""}"\n',
        encoding="utf-8",
    )
    item = read_manifest(csv, index=index)[0]
    assert item.sample == 2 and item.prompt is not None and item.prompt.known
    assert item.prompt.meta["relation"]["relation"] == "left of"


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "invalid JSON"),
        ('["a.mp4"]', "JSON object"),
        ('{"model": "x"}', "missing 'path'"),
        ('{"path": "a.mp4"}', "missing 'model'"),
        ('{"path": "a.mp4", "model": "x", "lang": "fr"}', "lang must be"),
        ('{"path": "a.mp4", "model": "x", "sample": "two"}', "sample must be an integer"),
    ],
)
def test_malformed_manifest_lines_are_one_line_errors(
    tmp_path: Path, index: PromptIndex, line: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ManifestError) as err:
        read_manifest(path, index=index)
    assert f"{path}:1" in str(err.value) and message in str(err.value)


def test_missing_input_is_an_error(tmp_path: Path, index: PromptIndex) -> None:
    with pytest.raises(ManifestError, match="no such file or folder"):
        discover([tmp_path / "nope"], index=index)
