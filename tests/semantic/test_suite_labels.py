"""The suite's semantic metadata fits the label spaces of the backbones that score it."""

from __future__ import annotations

import pytest

from vbench_cn.features.detector import COLOR_NAMES, coco_labels
from vbench_cn.features.scene import places365_labels
from vbench_cn.features.umt import umt_labels
from vbench_cn.prompts import load_suite
from vbench_cn.scorers.semantic import _action_key, _label_key, normalize_relation


@pytest.fixture(scope="module")
def suite():
    return load_suite()


def test_every_action_is_a_umt_class(suite) -> None:
    classes = {_action_key(c) for c in umt_labels()}
    actions = {p.meta["action"] for p in suite if "action" in p.meta}
    assert len(actions) > 100
    assert {a for a in actions if _action_key(a) not in classes} == set()


def test_every_scene_is_a_places365_label(suite) -> None:
    labels = {_label_key(lab) for lab in places365_labels()}
    scenes = {p.meta["scene"] for p in suite if "scene" in p.meta}
    assert len(scenes) > 50
    assert {s for s in scenes if _label_key(s) not in labels} == set()


def test_every_detection_target_is_a_coco_query_and_every_colour_nameable(suite) -> None:
    coco = set(coco_labels())
    assert len(coco) == 80
    for p in suite:
        meta = p.meta
        names = [meta.get("object")] if "object" in meta else []
        names += list(meta.get("objects", []))
        if "relation" in meta:
            names += [meta["relation"]["a"], meta["relation"]["b"]]
            normalize_relation(meta["relation"]["relation"])
        assert set(names) <= coco, (p.id, names)
        if "color" in meta:
            assert meta["color"] in COLOR_NAMES, p.id
