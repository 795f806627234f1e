"""The shipped suite itself: every file present is valid, unique, Chinese, and big enough."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from vbench_cn._resources import prompts_dir
from vbench_cn.prompts import (
    CATEGORIES,
    MIN_PROMPTS,
    SET_PREFIXES,
    Prompt,
    check_chinese,
    export,
    find_near_duplicates,
    labels,
    load_suite,
    normalize_scene,
)

SUITE_DIR = prompts_dir() / "suite"
PRESENT = sorted(p.stem for p in SUITE_DIR.glob("*.jsonl"))


@pytest.fixture(scope="module")
def suite() -> list[Prompt]:
    return load_suite()


def test_suite_folder_holds_only_known_sets() -> None:
    assert PRESENT, f"no prompt files in {SUITE_DIR}"
    unknown = [name for name in PRESENT if name not in SET_PREFIXES]
    assert not unknown, f"files without a set: {unknown}; known: {sorted(SET_PREFIXES)}"


def test_every_file_loads_and_ids_are_unique(suite: list[Prompt]) -> None:
    counts = Counter(p.id for p in suite)
    assert [pid for pid, n in counts.items() if n > 1] == []
    assert {p.tags[0] for p in suite} == set(PRESENT)
    for p in suite:
        assert p.id.startswith(SET_PREFIXES[p.tags[0]] + "-")
        assert p.category in CATEGORIES


def test_each_file_numbers_its_ids_from_one_without_gaps(suite: list[Prompt]) -> None:
    for name in PRESENT:
        numbers = sorted(int(p.id[3:]) for p in suite if p.tags[0] == name)
        assert numbers == list(range(1, len(numbers) + 1)), name


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_near_duplicates_across_the_whole_suite(suite: list[Prompt], lang: str) -> None:
    pairs = find_near_duplicates(suite, lang, threshold=0.8)
    assert pairs == [], f"{len(pairs)} near-duplicate pairs ({lang}), first: {pairs[:5]}"


@pytest.mark.parametrize(
    "tag",
    [
        pytest.param(
            tag,
            marks=()
            if tag in PRESENT
            else pytest.mark.skip(reason=f"suite/{tag}.jsonl not written yet"),
        )
        for tag in MIN_PROMPTS
    ],
)
def test_every_tag_meets_its_minimum(suite: list[Prompt], tag: str) -> None:
    tagged = [p for p in suite if tag in p.tags]
    for lang in ("en", "zh"):
        have = sum(1 for p in tagged if p.text(lang))
        assert have >= MIN_PROMPTS[tag], f"{tag} ({lang}): {have} < {MIN_PROMPTS[tag]}"


def test_label_lists_are_complete_and_clean() -> None:
    expected = {"coco80": 80, "kinetics400": 400, "places365": 365}
    for name, size in expected.items():
        items = labels(name)  # type: ignore[arg-type]
        assert len(items) == size == len(set(items)), name
        assert all(item == item.strip() and item for item in items)
    assert {"person", "hair drier", "dining table", "tv", "cell phone"} <= set(labels("coco80"))
    assert {"abseiling", "zumba", "passing American football (in game)"} <= set(
        labels("kinetics400")
    )
    places = set(labels("places365"))
    assert {"airfield", "zen garden", "bazaar outdoor", "underwater ocean deep"} <= places
    assert all(normalize_scene(p) == p for p in places)


def test_metadata_names_valid_labels(suite: list[Prompt]) -> None:
    coco, k400, places = (set(labels(n)) for n in ("coco80", "kinetics400", "places365"))
    bad = []
    for p in suite:
        m = p.meta
        names = [m.get("object")] if "object" in m else []
        names += list(m.get("objects", []))
        if "relation" in m:
            names += [m["relation"]["a"], m["relation"]["b"]]
        bad += [(p.id, n) for n in names if n not in coco]
        if "action" in m and m["action"] not in k400:
            bad.append((p.id, m["action"]))
        if "scene" in m and m["scene"] not in places:
            bad.append((p.id, m["scene"]))
    assert bad == []


def test_scene_prompts_cover_distinct_places(suite: list[Prompt]) -> None:
    scenes = [p.meta["scene"] for p in suite if "scene" in p.tags]
    if "scene" not in PRESENT:
        pytest.skip("suite/scene.jsonl not written yet")
    assert len(set(scenes)) >= 0.9 * len(scenes), Counter(scenes).most_common(3)


def test_chinese_text_is_chinese(suite: list[Prompt]) -> None:
    bad = []
    for p in suite:
        allowed = list(p.meta.get("proper_nouns", [])) + (
            [p.meta["text"]] if isinstance(p.meta.get("text"), str) else []
        )
        cause = check_chinese(p.zh, allowed)
        if cause:
            bad.append((p.id, cause))
    assert bad == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_json_export_round_trips(suite: list[Prompt], lang: str) -> None:
    items = json.loads(export(suite, lang, "json", samples=5))
    assert [i["id"] for i in items] == [p.id for p in suite]
    assert [i["text"] for i in items] == [p.text(lang) for p in suite]
    assert all(i["files"][-1] == f"{i['id']}-4.mp4" for i in items)
    assert [i["meta"] for i in items] == [dict(p.meta) for p in suite]
