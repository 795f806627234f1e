"""Motion-control prompts: the boxes schema, its agreement with the words, and the export."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from vbench_cn.cli.prompts import app
from vbench_cn.motion_targets import MOTION_KINDS, parse_motion
from vbench_cn.prompts import SuiteError, by_tag, export, load_suite, validate_prompt


def _box(cx: float, cy: float, w: float = 0.1, h: float = 0.2) -> list[float]:
    return [round(cx - w / 2, 4), round(cy - h / 2, 4), round(cx + w / 2, 4), round(cy + h / 2, 4)]


GOOD: dict[str, Any] = {
    "id": "mc-0001",
    "tags": ["motion_control"],
    "en": "A red ball rolls from the left to the right of the frame, static camera.",
    "zh": "固定镜头，一个红色皮球从画面左边滚到右边。",
    "category": "lifestyle",
    "meta": {
        "motion": {
            "kind": "straight",
            "camera": "static",
            "first_frame": {"en": "A red ball on the left.", "zh": "红色皮球在左边。"},
            "objects": [
                {
                    "en": "red ball",
                    "zh": "红色皮球",
                    "boxes": [{"t": 0, "box": _box(0.15, 0.6)}, {"t": 1, "box": _box(0.85, 0.6)}],
                }
            ],
        }
    },
}


def _broken(edit) -> dict[str, Any]:
    record = copy.deepcopy(GOOD)
    edit(record)
    return record


def _motion(record: dict[str, Any]) -> dict[str, Any]:
    return record["meta"]["motion"]


def _boxes(record: dict[str, Any], i: int = 0) -> list[dict[str, Any]]:
    return record["meta"]["motion"]["objects"][i]["boxes"]


def test_good_motion_record_is_accepted() -> None:
    prompt = validate_prompt(copy.deepcopy(GOOD), "x.jsonl:1")
    target = parse_motion(prompt.meta["motion"])
    assert target.objects[0].box_at(0.5) == pytest.approx(tuple(_box(0.5, 0.6)))


@pytest.mark.parametrize(
    ("edit", "field", "cause"),
    [
        (
            lambda r: _boxes(r)[1].update(box=[0.8, 0.5, 1.05, 0.7]),
            "boxes[1].box",
            "leaves the frame",
        ),
        (lambda r: _boxes(r)[0].update(box=[0.3, 0.5, 0.2, 0.7]), "boxes[0].box", "x1 > x0"),
        (lambda r: _boxes(r)[0].update(t=0.2), "boxes", "first key time must be 0"),
        (lambda r: _boxes(r)[1].update(t=0.9), "boxes", "last 1"),
        (
            lambda r: _boxes(r).insert(1, {"t": 1.0, "box": _box(0.5, 0.6)}),
            "boxes[2].t",
            "times must increase",
        ),
        (lambda r: _boxes(r).pop(), "boxes", "at least two"),
        (lambda r: _boxes(r)[0].update(t="0"), "boxes[0].t", "clip fraction"),
        (lambda r: _boxes(r)[0].update(box=[0, 0, 1]), "boxes[0].box", "four numbers"),
        (lambda r: _motion(r).update(kind="zigzag"), "meta.motion.kind", "not one of"),
        (lambda r: _motion(r).update(camera="drone"), "meta.motion.camera", "not one of"),
        (lambda r: _motion(r).update(speed=2), "meta.motion.speed", "unknown key"),
        (lambda r: _motion(r).update(kind="cross"), "meta.motion.objects", "needs two objects"),
        (lambda r: _motion(r).update(kind="approach"), "boxes", "approach: grows only"),
        (lambda r: _motion(r).update(kind="curved"), "boxes", "needs a waypoint"),
        (lambda r: _motion(r)["objects"][0].pop("zh"), "objects[0]", '"zh": name'),
        (lambda r: _motion(r).update(first_frame={"en": "x"}), "first_frame", '"zh"'),
    ],
)
def test_broken_boxes_and_fields_are_named(edit, field: str, cause: str) -> None:
    with pytest.raises(SuiteError) as err:
        validate_prompt(_broken(edit), "suite/motion_control.jsonl:7")
    message = str(err.value)
    assert message.startswith("suite/motion_control.jsonl:7: ")
    assert field in message and cause in message, message


def _two(kind: str, a: list[tuple[float, float]], b: list[tuple[float, float]]) -> dict:
    record = copy.deepcopy(GOOD)
    record["en"] = "A red ball goes left and right while a blue ball stays still, static camera."
    record["zh"] = "固定镜头，红色皮球左右移动，蓝色皮球静止不动。"
    _motion(record).update(kind=kind)
    _motion(record)["objects"] = [
        {
            "en": n,
            "zh": z,
            "boxes": [{"t": t, "box": _box(x, y)} for t, (x, y) in zip((0, 1), p, strict=True)],
        }
        for n, z, p in (("red ball", "红色皮球", a), ("blue ball", "蓝色皮球", b))
    ]
    return record


def test_two_object_kinds_check_what_the_boxes_do() -> None:
    swap = _two("swap", [(0.2, 0.6), (0.8, 0.6)], [(0.8, 0.4), (0.2, 0.4)])
    swap["zh"] = swap["zh"].replace("蓝色皮球静止不动", "蓝色皮球也左右移动")
    swap["en"] = swap["en"].replace("a blue ball stays still", "a blue ball goes right and left")
    validate_prompt(swap, "x:1")
    half = _two("swap", [(0.2, 0.6), (0.6, 0.6)], [(0.8, 0.4), (0.2, 0.4)])
    with pytest.raises(SuiteError, match="each must end where the other began"):
        validate_prompt(half, "x:1")
    same_side = _two("cross", [(0.2, 0.6), (0.4, 0.6)], [(0.8, 0.4), (0.6, 0.4)])
    with pytest.raises(SuiteError, match="must change sides"):
        validate_prompt(same_side, "x:1")
    one_still = _two("one_static", [(0.2, 0.6), (0.8, 0.6)], [(0.5, 0.3), (0.5, 0.3)])
    validate_prompt(one_still, "x:1")
    both_move = _two("one_static", [(0.2, 0.6), (0.8, 0.6)], [(0.2, 0.3), (0.8, 0.3)])
    with pytest.raises(SuiteError, match="exactly one object stays still"):
        validate_prompt(both_move, "x:1")
    clash = _two("one_static", [(0.2, 0.6), (0.8, 0.6)], [(0.5, 0.3), (0.5, 0.3)])
    _motion(clash)["objects"][1]["en"] = "Red Ball"
    with pytest.raises(SuiteError, match="different names"):
        validate_prompt(clash, "x:1")


def test_words_must_name_the_objects_and_the_motion_in_both_languages() -> None:
    def check(edit, lang: str, cause: str) -> None:
        with pytest.raises(SuiteError) as err:
            validate_prompt(_broken(edit), "x:3")
        assert f"x:3: {lang}: " in str(err.value) and cause in str(err.value), str(err.value)

    check(lambda r: r.update(en=r["en"].replace("red ball", "crimson ball")), "en", "'red ball'")
    check(lambda r: r.update(zh=r["zh"].replace("红色皮球", "皮球")), "zh", "'红色皮球'")
    check(
        lambda r: r.update(zh="固定镜头，一个红色皮球在画面中滚动。"),
        "zh",
        "neither left nor right",
    )
    check(
        lambda r: r.update(en="A red ball rolls from the left to the right of the frame."),
        "en",
        "camera is fixed",
    )

    # up in the boxes, but the words say down
    def down_to_up(r: dict[str, Any]) -> None:
        _boxes(r)[0]["box"], _boxes(r)[1]["box"] = _box(0.5, 0.8), _box(0.5, 0.2)
        r["en"] = "A red ball falls down, static camera."
        r["zh"] = "固定镜头，一个红色皮球往上飞。"

    check(down_to_up, "en", "upward motion")
    check(
        lambda r: _motion(r).update(first_frame={"en": "A red ball.", "zh": "一个red皮球。"}),
        "meta.motion.first_frame.zh",
        "Latin word 'red'",
    )


def test_free_camera_is_refused_for_approach_and_recede() -> None:
    record = copy.deepcopy(GOOD)
    record["en"] = "A red ball rolls toward the camera."
    record["zh"] = "一个红色皮球朝镜头滚来。"
    _motion(record).update(kind="approach", camera="free")
    _boxes(record)[0]["box"] = _box(0.5, 0.5, 0.05, 0.1)
    _boxes(record)[1]["box"] = _box(0.5, 0.55, 0.2, 0.4)
    with pytest.raises(SuiteError, match="need a static camera"):
        validate_prompt(record, "x:1")
    _motion(record)["camera"] = "static"
    record["en"] += " Static camera."
    record["zh"] = "固定镜头，" + record["zh"]
    validate_prompt(record, "x:1")


def test_shipped_motion_suite_covers_every_kind_in_both_languages() -> None:
    prompts = by_tag("motion_control", load_suite())
    assert len(prompts) >= 120
    targets = [parse_motion(p.meta["motion"]) for p in prompts]
    assert {t.kind for t in targets} == set(MOTION_KINDS)
    assert {t.camera for t in targets} == {"static", "free"}
    assert sum(len(t.objects) == 2 for t in targets) >= 20
    for p, t in zip(prompts, targets, strict=True):
        for obj in t.objects:
            assert obj.name["en"].lower() in p.en.lower() and obj.name["zh"] in p.zh
            for k in obj.keyframes:
                assert 0 <= k.box[0] < k.box[2] <= 1 and 0 <= k.box[1] < k.box[3] <= 1
            assert [k.t for k in obj.keyframes] == sorted({k.t for k in obj.keyframes})


def test_json_export_gives_box_conditioning_per_object_and_frame() -> None:
    prompts = by_tag("box_alignment", load_suite())
    items = json.loads(export(prompts, "zh", "json", samples=1, frames=16))
    assert len(items) == len(prompts)
    first = items[0]
    target = parse_motion(prompts[0].meta["motion"])
    cond = first["conditioning"]
    assert "fractions of frame width and height" in cond["format"]
    assert cond["camera"] == target.camera
    assert cond["first_frame"] == target.first_frame["zh"]
    obj = cond["objects"][0]
    assert obj["name"] == target.objects[0].name["zh"]
    assert [k["t"] for k in obj["keyframes"]] == [0.0, 1.0]
    assert len(obj["frames"]) == 16
    assert obj["frames"][0] == pytest.approx(list(target.objects[0].keyframes[0].box))
    assert obj["frames"][-1] == pytest.approx(list(target.objects[0].keyframes[-1].box))
    middle = target.objects[0].box_at(5 / 15)
    assert obj["frames"][5] == pytest.approx(list(middle), abs=1e-4)
    plain = json.loads(export(prompts[:1], "en", "json", samples=1))
    assert "frames" not in plain[0]["conditioning"]["objects"][0]
    other = json.loads(export(by_tag("scene", load_suite())[:1], "en", "json"))
    assert "conditioning" not in other[0]


def test_cli_exports_box_alignment_conditioning() -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["export", "--lang", "en", "--dimension", "box_alignment", "--format", "json"]
        + ["--frames", "8", "--samples", "1"],
    )
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert len(items) >= 120 and all(
        len(i["conditioning"]["objects"][0]["frames"]) == 8 for i in items
    )
    bad = runner.invoke(
        app, ["export", "--lang", "en", "--dimension", "box_alignment"] + ["--frames", "8"]
    )
    assert bad.exit_code == 2 and "--frames needs --format json" in bad.stderr
