"""Schema validation of prompt records: every broken record fails with ``file:line: field``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from vbench_cn.prompts import (
    Prompt,
    SuiteError,
    by_id,
    by_tag,
    check_chinese,
    check_english,
    export,
    find_near_duplicates,
    load_suite,
    load_vbench_prompt_info,
    output_filename,
    parse_output_filename,
    read_export,
    stats,
    validate_prompt,
)

GOOD: dict[str, dict[str, Any]] = {
    "subject_consistency": {
        "id": "sc-0001",
        "tags": ["subject_consistency"],
        "en": "A beagle sniffs its way along a hedge.",
        "zh": "一只比格犬沿着树篱一路嗅来嗅去。",
        "category": "animal",
        "meta": {"subject": "beagle"},
    },
    "object_class": {
        "id": "oc-0001",
        "tags": ["object_class"],
        "en": "A toaster on a cluttered counter.",
        "zh": "杂乱的台面上放着一台烤面包机。",
        "category": "lifestyle",
        "meta": {"object": "toaster"},
    },
    "multiple_objects": {
        "id": "mo-0001",
        "tags": ["multiple_objects"],
        "en": "A kite and a frisbee on the sand.",
        "zh": "沙滩上有一只风筝和一个飞盘。",
        "category": "lifestyle",
        "meta": {"objects": ["kite", "frisbee"]},
    },
    "color": {
        "id": "co-0001",
        "tags": ["color"],
        "en": "A purple umbrella in the rain.",
        "zh": "雨中一把紫色的伞。",
        "category": "lifestyle",
        "meta": {"object": "umbrella", "color": "purple"},
    },
    "spatial_relationship": {
        "id": "sr-0001",
        "tags": ["spatial_relationship"],
        "en": "A clock hangs above a couch.",
        "zh": "沙发上方挂着一只钟。",
        "category": "lifestyle",
        "meta": {"relation": {"a": "clock", "b": "couch", "relation": "above"}},
    },
    "human_action": {
        "id": "ha-0001",
        "tags": ["human_action"],
        "en": "A man juggles three oranges in a kitchen.",
        "zh": "一个男人在厨房里抛接三个橙子。",
        "category": "human",
        "meta": {"action": "juggling balls"},
    },
    "scene": {
        "id": "sn-0001",
        "tags": ["scene"],
        "en": "A laundromat late at night.",
        "zh": "深夜的自助洗衣店。",
        "category": "lifestyle",
        "meta": {"scene": "laundromat"},
    },
    "appearance_style": {
        "id": "as-0001",
        "tags": ["appearance_style"],
        "en": "A harbour at dusk, in watercolor.",
        "zh": "黄昏的港口，水彩画风格。",
        "category": "scenery",
        "meta": {"style": {"en": "watercolor", "zh": "水彩画"}},
    },
    "temporal_style": {
        "id": "ts-0001",
        "tags": ["temporal_style"],
        "en": "A lighthouse at noon, the camera slowly orbits it.",
        "zh": "正午的灯塔，镜头缓缓环绕。",
        "category": "architecture",
        "meta": {"camera_motion": "orbit"},
    },
    "text_rendering": {
        "id": "tx-0001",
        "tags": ["text_rendering"],
        "en": "A shop sign that reads 早餐 above a doorway.",
        "zh": "门口上方挂着写有早餐的招牌。",
        "category": "text",
        "meta": {"text": "早餐", "text_lang": "zh"},
    },
    "long_multi_event": {
        "id": "lm-0001",
        "tags": ["long_multi_event"],
        "en": "A baker's morning, from dough to shop window.",
        "zh": "面包师的一个早晨，从揉面到摆上橱窗。",
        "category": "food",
        "meta": {
            "subject": "baker",
            "events": [
                {"en": "kneads the dough", "zh": "揉面"},
                {"en": "slides trays into the oven", "zh": "把烤盘推进烤箱"},
                {"en": "arranges loaves in the window", "zh": "把面包摆进橱窗"},
            ],
            "duration_seconds": 20,
        },
    },
}


def _write(path: Path, records: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("tag", sorted(GOOD))
def test_good_record_of_every_tag_is_accepted(tag: str) -> None:
    prompt = validate_prompt(copy.deepcopy(GOOD[tag]), "x.jsonl:1")
    assert prompt.tags[0] == tag
    assert prompt.text("en") == GOOD[tag]["en"]
    assert prompt.text("zh") == GOOD[tag]["zh"]


def _mutate(tag: str, path: str, value: Any) -> dict[str, Any]:
    record = copy.deepcopy(GOOD[tag])
    *parents, last = path.split(".")
    target = record
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return record


_DELETE = object()

BROKEN = [
    # (tag, dotted path, new value, field named in the error, words of the cause)
    ("subject_consistency", "id", "sc-1", "id", "4 digits"),
    ("subject_consistency", "id", "tf-0001", "id", "must start with 'sc'"),
    ("subject_consistency", "tags", ["subject_consistancy"], "tags", "did you mean"),
    ("subject_consistency", "tags", [], "tags", "non-empty"),
    ("subject_consistency", "category", "animals", "category", "did you mean animal"),
    ("subject_consistency", "en", "一只狗", "en", "CJK character"),
    ("subject_consistency", "en", " A dog.", "en", "whitespace"),
    ("subject_consistency", "zh", "A beagle sniffs along a hedge.", "zh", "no Chinese"),
    ("subject_consistency", "zh", "一只beagle在跑。", "zh", "Latin word 'beagle'"),
    ("subject_consistency", "zh", "一只比格犬,在跑。", "zh", "ASCII punctuation"),
    ("subject_consistency", "meta.subject", _DELETE, "meta.subject", "required"),
    ("object_class", "meta.object", "sofa", "meta.object", "not a COCO-80 class"),
    ("object_class", "meta.object", "Toaster", "meta.object", "did you mean toaster"),
    ("multiple_objects", "meta.objects", ["kite"], "meta.objects", "two"),
    ("multiple_objects", "meta.objects", ["kite", "kite"], "meta.objects", "must differ"),
    ("multiple_objects", "meta.objects", ["kite", "ufo"], "meta.objects", "'ufo'"),
    ("color", "meta.color", "violet", "meta.color", "is not one of"),
    ("color", "meta.object", _DELETE, "meta.object", "missing; a COCO-80"),
    (
        "spatial_relationship",
        "meta.relation.relation",
        "beside",
        "meta.relation.relation",
        "beside",
    ),
    ("spatial_relationship", "meta.relation.b", "sofa", "meta.relation.b", "COCO-80"),
    ("spatial_relationship", "meta.relation", {"a": "clock"}, "meta.relation", "must be"),
    ("human_action", "meta.action", "juggling", "meta.action", "did you mean juggling balls"),
    ("scene", "meta.scene", "laundry room", "meta.scene", "Places365"),
    ("scene", "meta.scene", "bamboo_forest", "meta.scene", "did you mean bamboo forest"),
    ("appearance_style", "meta.style", {"en": "watercolor"}, "meta.style", "must be"),
    ("temporal_style", "meta.camera_motion", "pan up", "meta.camera_motion", "is not one of"),
    ("text_rendering", "meta.text_lang", "cn", "meta.text_lang", "'cn'"),
    ("text_rendering", "meta.text", "午餐", "en", "sign text '午餐'"),
    ("long_multi_event", "meta.events", [{"en": "a", "zh": "甲"}], "meta.events", "3-6"),
    ("long_multi_event", "meta.duration_seconds", 90, "meta.duration_seconds", "10-60"),
    ("long_multi_event", "meta.duration_seconds", True, "meta.duration_seconds", "True"),
]


@pytest.mark.parametrize(("tag", "path", "value", "field", "cause"), BROKEN)
def test_broken_record_names_file_line_field_and_cause(
    tmp_path: Path, tag: str, path: str, value: Any, field: str, cause: str
) -> None:
    good = copy.deepcopy(GOOD[tag])
    good["id"] = good["id"][:3] + "0002"
    file = _write(tmp_path / "suite" / f"{tag}.jsonl", [good, _mutate(tag, path, value)])
    with pytest.raises(SuiteError) as err:
        load_suite(tmp_path)
    message = str(err.value)
    assert message.startswith(f"{file}:2: {field}: "), message
    assert cause in message
    assert "\n" not in message


def test_event_text_is_checked_per_language(tmp_path: Path) -> None:
    record = copy.deepcopy(GOOD["long_multi_event"])
    record["meta"]["events"][1]["zh"] = "put it in the oven"
    with pytest.raises(SuiteError, match=r"meta\.events\[1\]\.zh: no Chinese"):
        validate_prompt(record, "f:1")


def test_missing_unknown_and_misordered_keys(tmp_path: Path) -> None:
    record = copy.deepcopy(GOOD["scene"])
    del record["category"]
    with pytest.raises(SuiteError, match=r"^f:1: category: missing$"):
        validate_prompt(record, "f:1")
    record = {**copy.deepcopy(GOOD["scene"]), "catgory": "x"}
    with pytest.raises(SuiteError, match=r"catgory: unknown key; did you mean category"):
        validate_prompt(record, "f:1")
    good = GOOD["scene"]
    reordered = {k: good[k] for k in ("tags", "id", "en", "zh", "category", "meta")}
    with pytest.raises(SuiteError, match=r"keys: must be in the order id, tags"):
        validate_prompt(reordered, "f:1")
    with pytest.raises(SuiteError, match=r"record: expected a JSON object, got list"):
        validate_prompt([1, 2], "f:1")


def test_invalid_json_and_empty_line_fail_with_line_number(tmp_path: Path) -> None:
    file = _write(tmp_path / "scene.jsonl", [GOOD["scene"], '{"id": "sn-0002",'])
    with pytest.raises(SuiteError, match=rf"^{file}:2: json: "):
        load_suite(file)
    file.write_text(json.dumps(GOOD["scene"], ensure_ascii=False) + "\n\n", encoding="utf-8")
    with pytest.raises(SuiteError, match=rf"^{file}:2: line: empty line$"):
        load_suite(file)


def test_duplicate_id_across_files_names_both_places(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "scene.jsonl", [GOOD["scene"]])
    twin = copy.deepcopy(GOOD["scene"])
    twin["tags"] = ["scene", "overall_consistency"]
    # Same id in a second file of the same folder (only possible through a misnamed file).
    _write(tmp_path / "a" / "zz_extra.jsonl", [twin])
    with pytest.raises(
        SuiteError, match=r"zz_extra\.jsonl:1: id: 'sn-0001' already used at .*scene\.jsonl:1"
    ):
        load_suite(tmp_path / "a")


def test_first_tag_must_match_the_file_set(tmp_path: Path) -> None:
    _write(tmp_path / "color.jsonl", [GOOD["scene"]])
    with pytest.raises(
        SuiteError, match=r"color\.jsonl:1: tags: first tag must be the file's set 'color'"
    ):
        load_suite(tmp_path)


def test_not_a_suite_folder(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="not a prompt-suite folder"):
        load_suite(tmp_path / "nowhere")


def test_proper_nouns_and_sign_text_may_be_latin_in_chinese() -> None:
    assert check_chinese("一辆Vespa停在路边。", ["Vespa"]) is None
    assert check_chinese("一辆Vespa停在路边。") is not None
    record = copy.deepcopy(GOOD["subject_consistency"])
    record["zh"] = "一辆Vespa小摩托驶过罗马街头。"
    record["en"] = "A Vespa scooter zips through a Roman street."
    with pytest.raises(SuiteError, match="Latin word 'Vespa'"):
        validate_prompt(record, "f:1")
    record["meta"]["proper_nouns"] = ["Vespa"]
    assert validate_prompt(record, "f:1").zh.startswith("一辆Vespa")
    english_sign = copy.deepcopy(GOOD["text_rendering"])
    english_sign["en"] = "A neon sign that reads OPEN in a window."
    english_sign["zh"] = "窗户里亮着一块写着OPEN的霓虹灯牌。"
    english_sign["meta"] = {"text": "OPEN", "text_lang": "en"}
    assert validate_prompt(english_sign, "f:1").meta["text"] == "OPEN"


def test_check_english_and_decimal_point() -> None:
    assert check_english("A red kite.") is None
    assert check_english("一只风筝") is not None
    assert check_chinese("气温只有3.5度。") is None
    assert check_chinese("真冷.") is not None


def _prompt(pid: str, en: str, zh: str, tags: tuple[str, ...] = ("scene",)) -> Prompt:
    return Prompt(pid, tags, en, zh, "scenery", {"scene": "beach"})


def test_near_duplicates_ignore_case_and_punctuation_but_not_content() -> None:
    prompts = [
        _prompt("sn-0001", "A quiet beach at dawn.", "黎明时安静的海滩。"),
        _prompt("sn-0002", "a quiet beach at dawn", "黎明时安静的海滩"),
        _prompt("sn-0003", "A crowded night market in the rain.", "雨中拥挤的夜市。"),
    ]
    assert find_near_duplicates(prompts, "en") == [("sn-0001", "sn-0002", 1.0)]
    assert find_near_duplicates(prompts, "zh") == [("sn-0001", "sn-0002", 1.0)]
    close = [
        _prompt("sn-0001", "A quiet beach at dawn", "甲"),
        _prompt("sn-0002", "A quiet beach at dusk", "乙"),
    ]
    assert find_near_duplicates(close, "en", 0.6)
    assert not find_near_duplicates(close, "en", 0.95)
    with pytest.raises(ValueError, match="threshold"):
        find_near_duplicates(prompts, "en", 0)


def test_output_filename_round_trip() -> None:
    assert output_filename("cn-0042", 4) == "cn-0042-4.mp4"
    assert output_filename("cn-0042", 0, ext=".gif") == "cn-0042-0.gif"
    assert parse_output_filename("models/a/cn-0042-4.mp4") == ("cn-0042", 4)
    assert parse_output_filename("vb-17-2.mp4") == ("vb-17", 2)
    assert parse_output_filename("a panda eating bamboo-0.mp4") is None
    assert parse_output_filename("cn-0042.mp4") is None
    with pytest.raises(ValueError):
        output_filename("cn-0042", -1)


def test_export_txt_and_json_round_trip() -> None:
    prompts = [
        validate_prompt(copy.deepcopy(GOOD[t]), "f:1") for t in ("scene", "color", "text_rendering")
    ]
    for lang in ("en", "zh"):
        txt = export(prompts, lang, "txt", samples=3)
        assert txt.startswith("# ") and "{prompt_id}-{i}.mp4" in txt and "i = 0..2" in txt
        assert read_export(txt, "txt") == [(p.id, p.text(lang)) for p in prompts]
        items = json.loads(export(prompts, lang, "json", samples=3))
        assert [i["files"] for i in items][0] == ["sn-0001-0.mp4", "sn-0001-1.mp4", "sn-0001-2.mp4"]
        assert items[1]["meta"] == {"object": "umbrella", "color": "purple"}
        assert read_export(json.dumps(items), "json") == [(p.id, p.text(lang)) for p in prompts]
    with pytest.raises(ValueError, match="unknown format"):
        export(prompts, "en", "csv")  # type: ignore[arg-type]


def test_by_tag_by_id_and_stats() -> None:
    prompts = [validate_prompt(copy.deepcopy(r), "f:1") for r in GOOD.values()]
    assert [p.id for p in by_tag("dynamic_degree", prompts)] == ["sc-0001"]
    assert [p.id for p in by_tag("background_consistency", prompts)] == ["sn-0001"]
    with pytest.raises(KeyError, match="did you mean scene"):
        by_tag("scnee", prompts)
    assert by_id(prompts)["co-0001"].meta["color"] == "purple"
    counts = stats(prompts)
    assert counts["color"] == {"total": 1, "en": 1, "zh": 1, "minimum": 85}
    assert counts["chinese_culture"]["total"] == 0


def test_text_rejects_unknown_or_missing_language() -> None:
    prompt = _prompt("sn-0001", "A beach.", "")
    with pytest.raises(ValueError, match="no zh text"):
        prompt.text("zh")
    with pytest.raises(ValueError, match="unknown language"):
        prompt.text("fr")  # type: ignore[arg-type]


def test_load_vbench_prompt_info(tmp_path: Path) -> None:
    # Our own made-up entries in VBench's file layout (we ship none of VBench's text).
    entries = [
        {"prompt_en": "a heron wading", "dimension": ["subject_consistency", "dynamic_degree"]},
        {
            "prompt_en": "a toaster and a kite",
            "dimension": ["multiple_objects"],
            "auxiliary_info": {"multiple_objects": {"object": "toaster and kite"}},
        },
        {
            "prompt_en": "a clock above a couch",
            "dimension": ["spatial_relationship"],
            "auxiliary_info": {
                "spatial_relationship": {
                    "spatial_relationship": {
                        "object_a": "clock",
                        "object_b": "couch",
                        "relationship": "on the left of",
                    }
                }
            },
        },
        {
            "prompt_en": "laundromat",
            "dimension": ["scene", "background_consistency"],
            "auxiliary_info": {"scene": {"scene": {"scene": "laundromat"}}},
        },
        {
            "prompt_en": "a purple umbrella",
            "dimension": ["color"],
            "auxiliary_info": {"color": {"color": "purple"}},
        },
    ]
    path = tmp_path / "VBench_full_info.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    prompts = load_vbench_prompt_info(path)
    assert [p.id for p in prompts] == ["vb-0", "vb-1", "vb-2", "vb-3", "vb-4"]
    assert prompts[0].tags == ("subject_consistency",)
    assert prompts[1].meta["objects"] == ["toaster", "kite"]
    assert prompts[2].meta["relation"] == {"a": "clock", "b": "couch", "relation": "left of"}
    assert prompts[3].tags == ("scene",) and prompts[3].meta["scene"] == "laundromat"
    assert prompts[4].meta["color"] == "purple"
    assert prompts[0].text("en") == "a heron wading"
    path.write_text(json.dumps([{"prompt_en": "x", "dimension": ["colour"]}]), encoding="utf-8")
    with pytest.raises(
        SuiteError, match=r"entry 0: dimension: unknown dimension 'colour'; did you mean color"
    ):
        load_vbench_prompt_info(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(SuiteError, match="cannot read VBench prompt info"):
        load_vbench_prompt_info(path)
