"""Semantic scorers on crafted detections, probabilities and embeddings (no video, no model)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from vbench_cn.features.outputs import ClassProbabilities, Detection, TaggedEmbeddings
from vbench_cn.scorers import NotApplicable, get_scorer
from vbench_cn.scorers.semantic import (
    color,
    color_captions,
    human_action,
    multiple_objects,
    normalize_relation,
    object_class,
    pair_score,
    scene,
    scene_captions,
    spatial_relationship,
    text_similarity,
)


def P(lang: str = "en", text: str = "a prompt", **meta):
    return SimpleNamespace(meta=meta, lang=lang, text=text)


def box(label: str, x0: float, y0: float, x1: float, y1: float, **kw) -> Detection:
    return Detection(label, 0.9, (x0, y0, x1, y1), **kw)


LEFT = (0.0, 40.0, 20.0, 60.0)  # centre (10, 50)
RIGHT = (60.0, 40.0, 80.0, 60.0)  # centre (70, 50)
TOP = (40.0, 0.0, 60.0, 20.0)  # centre (50, 10)
BOTTOM = (40.0, 70.0, 60.0, 90.0)  # centre (50, 80)


def test_all_semantic_scorers_are_registered() -> None:
    for name in (
        "object_class",
        "multiple_objects",
        "color",
        "color_captions",
        "spatial_relationship",
        "human_action",
        "scene",
        "scene_captions",
        "text_similarity",
    ):
        assert get_scorer(f"semantic.{name}").fn.__name__ == name


def test_object_class_counts_frames_and_weights_by_frames() -> None:
    frames = [[box("dog", *LEFT)], [box("cat", *LEFT)], [], [box("dog", *LEFT), box("cat", *RIGHT)]]
    s = object_class(frames, prompt=P(object="dog"))
    assert s.value == pytest.approx(0.5)
    assert s.details == {"frames": 4, "successes": 2, "weight": 4}


def test_object_class_is_exact_name_match() -> None:
    s = object_class([[box("hot dog", *LEFT)]], prompt=P(object="dog"))
    assert s.value == 0.0


def test_missing_metadata_is_not_applicable_not_zero() -> None:
    frames = [[box("dog", *LEFT)]]
    with pytest.raises(NotApplicable, match="object"):
        object_class(frames, prompt=P())
    with pytest.raises(NotApplicable, match="no prompt"):
        object_class(frames, prompt=None)
    with pytest.raises(NotApplicable):
        spatial_relationship(frames, prompt=P(object="dog"))
    with pytest.raises(NotApplicable, match="action"):
        human_action(ClassProbabilities(torch.ones(3), ["a", "b", "c"]), prompt=P())
    with pytest.raises(NotApplicable, match="color"):
        color(frames, prompt=P(object="dog"))


def test_two_required_objects_with_one_detected_scores_zero_for_that_frame() -> None:
    both = [box("dog", *LEFT), box("cat", *RIGHT)]
    only_dog = [box("dog", *LEFT)]
    s = multiple_objects([both, only_dog], prompt=P(objects=["dog", "cat"]))
    assert s.value == pytest.approx(0.5)
    assert multiple_objects([only_dog], prompt=P(objects=["dog", "cat"])).value == 0.0


def test_multiple_objects_accepts_vbench_and_string() -> None:
    both = [box("dog", *LEFT), box("cat", *RIGHT)]
    assert multiple_objects([both], prompt=P(object="dog and cat")).value == 1.0
    with pytest.raises(NotApplicable, match="two objects"):
        multiple_objects([both], prompt=P(objects=["dog"]))


def test_box_left_of_another_satisfies_left_of_and_not_right_of() -> None:
    frame = [box("dog", *LEFT), box("cat", *RIGHT)]

    def rel(r: str) -> SimpleNamespace:
        return P(relation={"a": "dog", "b": "cat", "relation": r})

    assert spatial_relationship([frame], prompt=rel("left of")).value == 1.0
    assert spatial_relationship([frame], prompt=rel("right of")).value == 0.0
    assert spatial_relationship([frame], prompt=rel("above")).value == 0.0
    # VBench's rule ignores the sign: both horizontal relations score 1.
    assert spatial_relationship([frame], prompt=rel("right of"), direction="vbench").value == 1.0
    assert spatial_relationship([frame], prompt=rel("left of"), direction="vbench").value == 1.0


def test_vertical_relations_follow_image_coordinates() -> None:
    frame = [box("kite", *TOP), box("person", *BOTTOM)]

    def rel(r: str) -> SimpleNamespace:
        return P(relation={"a": "kite", "b": "person", "relation": r})

    assert spatial_relationship([frame], prompt=rel("above")).value == 1.0
    assert spatial_relationship([frame], prompt=rel("below")).value == 0.0
    assert (
        spatial_relationship([frame], prompt=rel("on the top of")).value == 1.0
    )  # VBench phrasing
    assert spatial_relationship([frame], prompt=rel("left of")).value == 0.0


def test_spatial_overlap_decays_as_threshold_over_iou() -> None:
    a, b = (0.0, 0.0, 10.0, 10.0), (4.0, 0.0, 14.0, 10.0)  # IoU = 60/140, dx = 4 > dy = 0
    iou = 60 / 140
    assert pair_score("left of", a, b) == pytest.approx(0.1 / iou)


def test_spatial_same_class_pairs_only_in_vbench_mode() -> None:
    frame = [box("dog", *LEFT), box("dog", *RIGHT)]  # two dogs, no cat
    prompt = P(relation={"a": "dog", "b": "cat", "relation": "left of"})
    assert spatial_relationship([frame], prompt=prompt, direction="vbench").value == 1.0
    assert spatial_relationship([frame], prompt=prompt).value == 0.0


def test_spatial_video_is_mean_of_frames_with_zero_for_missing_pair() -> None:
    good = [box("dog", *LEFT), box("cat", *RIGHT)]
    s = spatial_relationship(
        [good, [], good, [box("dog", *LEFT)]],
        prompt=P(relation={"a": "dog", "b": "cat", "relation": "left of"}),
    )
    assert s.value == pytest.approx(0.5)
    assert s.details["weight"] == 4


def test_unknown_relation_is_not_applicable() -> None:
    with pytest.raises(NotApplicable, match="unknown relation"):
        normalize_relation("behind")


def test_color_counts_object_frames_only_and_drops_videos_without_object() -> None:
    prompt = P(color="red", object="car")
    frames = [
        [box("car", *LEFT, color="red")],
        [box("car", *LEFT, color="blue")],
        [box("dog", *LEFT, color="red")],
        [],
    ]
    s = color(frames, prompt=prompt)
    assert s.value == pytest.approx(0.5)
    assert s.details["object_frames"] == 2
    with pytest.raises(NotApplicable, match="not detected"):
        color([[box("dog", *LEFT, color="red")]], prompt=prompt)


def test_color_captions_reproduces_vbench_top_box_quirk() -> None:
    prompt = P(color="red", object="car")
    # The top box is a dog: VBench labels every caption of the frame "dog", so the car never counts.
    frame = [box("dog", *LEFT, caption="a brown dog"), box("car", *RIGHT, caption="a red car")]
    with pytest.raises(NotApplicable):
        color_captions([frame], prompt=prompt)
    assert color_captions([frame], prompt=prompt, top_box_class=False).value == 1.0
    # An object caption without any colour word makes no object frame.
    frames = [
        [box("car", *LEFT, caption="a red car")],
        [box("car", *LEFT, caption="a car")],
        [box("car", *LEFT, caption="a blue car")],
    ]
    s = color_captions(frames, prompt=prompt)
    assert (s.value, s.details["object_frames"]) == (pytest.approx(0.5), 2)


def test_human_action_label_in_confident_top5_scores_one() -> None:
    labels = ["archery", "tai chi", "juggling balls", "skiing", "surfing water", "yoga"]
    probs = torch.tensor([0.99, 0.90, 0.95, 0.20, 0.10, 0.05])
    assert human_action(ClassProbabilities(probs, labels), prompt=P(action="tai chi")).value == 1.0
    assert human_action(ClassProbabilities(probs, labels), prompt=P(action="yoga")).value == 0.0
    # In the top 5 but under the 0.85 threshold: not kept.
    assert human_action(ClassProbabilities(probs, labels), prompt=P(action="skiing")).value == 0.0
    # Rounded to 4 decimals before the threshold, as VBench does.
    edge = torch.tensor([0.84996, 0.1])
    assert (
        human_action(
            ClassProbabilities(edge, ["tai chi", "yoga"]), prompt=P(action="tai chi")
        ).value
        == 1.0
    )


def test_human_action_outside_top_k_scores_zero() -> None:
    labels = [f"c{i}" for i in range(7)]
    probs = torch.tensor([0.99] * 6 + [0.98])
    assert human_action(ClassProbabilities(probs, labels), prompt=P(action="c6")).value == 0.0
    assert (
        human_action(ClassProbabilities(probs, labels), prompt=P(action="c6"), top_k=7).value == 1.0
    )


def test_scene_top_k_per_frame_and_label_spelling() -> None:
    labels = ["alley", "bazaar/outdoor", "beach", "forest_path"]
    probs = torch.tensor([[0.1, 0.6, 0.2, 0.1], [0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]])
    s = scene(ClassProbabilities(probs, labels), prompt=P(scene="bazaar outdoor"), top_k=1)
    assert s.value == pytest.approx(1 / 3)
    assert s.details["weight"] == 3
    assert scene(
        ClassProbabilities(probs, labels), prompt=P(scene="forest path"), top_k=2
    ).value == pytest.approx(1 / 3)
    with pytest.raises(NotApplicable, match="not one of"):
        scene(ClassProbabilities(probs, labels), prompt=P(scene="moon base"))


def test_scene_captions_needs_every_word() -> None:
    caps = ["a crowded outdoor bazaar with stalls", "a bazaar inside a hall"]
    assert scene_captions(caps, prompt=P(scene="bazaar outdoor")).value == pytest.approx(0.5)


def test_text_similarity_frames_and_video() -> None:
    text = torch.tensor([[3.0, 4.0]])  # not normalised on purpose
    frames = torch.tensor([[3.0, 4.0], [4.0, -3.0]])
    s = text_similarity(frames, text_features=text, prompt=P(lang="zh"))
    assert s.value == pytest.approx(0.5)
    assert s.details == {"items": 2, "weight": 2, "lang": "zh"}
    video = TaggedEmbeddings(torch.tensor([[-3.0, -4.0]]), model="viclip_l14")
    s = text_similarity(video, text_features=text)
    assert s.value == pytest.approx(-1.0)  # ViCLIP cosines can be negative (VBench issue #59)
    assert s.details["model"] == "viclip_l14"
    with pytest.raises(NotApplicable):
        text_similarity(frames, text_features=None)
    with pytest.raises(ValueError, match="different models"):
        text_similarity(frames, text_features=torch.ones(1, 3))


def test_min_score_drops_weak_boxes_in_every_detection_scorer() -> None:
    weak_dog = Detection("dog", 0.2, LEFT, color="red")
    strong_cat = Detection("cat", 0.9, RIGHT, color="red")
    frames = [[weak_dog, strong_cat]]
    assert object_class(frames, prompt=P(object="dog")).value == 1.0
    assert object_class(frames, prompt=P(object="dog"), min_score=0.3).value == 0.0
    assert multiple_objects(frames, prompt=P(objects=["dog", "cat"]), min_score=0.3).value == 0.0
    rel = P(relation={"a": "dog", "b": "cat", "relation": "left of"})
    assert spatial_relationship(frames, prompt=rel).value == 1.0
    assert spatial_relationship(frames, prompt=rel, min_score=0.3).value == 0.0
    with pytest.raises(NotApplicable):
        color(frames, prompt=P(object="dog", color="red"), min_score=0.3)


def test_human_action_label_spelling_is_normalised() -> None:
    pr = ClassProbabilities(torch.tensor([0.95]), ["passing american football (in game)"])
    assert human_action(pr, prompt=P(action="passing American football (in game)")).value == 1.0


def test_vbench_prompts_without_metadata_use_vbench_text_rules() -> None:
    # VBench's prompt-info has no action for human_action and no object for color: its code reads
    # the label from the prompt ("A person is X") and the object from "a <colour> <object>".
    pr = ClassProbabilities(torch.tensor([0.95, 0.1]), ["riding a bike", "archery"])
    assert human_action(pr, prompt=P(text="A person is riding a bike")).value == 1.0
    with pytest.raises(NotApplicable, match="action"):
        human_action(pr, prompt=P(lang="zh", text="一个人在骑自行车"))
    red_car = [[box("car", *LEFT, color="red")]]
    assert color(red_car, prompt=P(text="a red car", color="red")).value == 1.0
    with pytest.raises(NotApplicable, match="object"):
        color(red_car, prompt=P(lang="zh", text="一辆红色的汽车", color="red"))
