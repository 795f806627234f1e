"""Text scorers on crafted OCR results: no video, no model; every answer worked out by hand."""

from __future__ import annotations

import pytest
import torch

from vbench_cn.features.ocr import (
    MAX_BOXES,
    MAX_CHARS,
    ROW_WIDTH,
    OcrBox,
    decode_frame,
    encode_frame,
)
from vbench_cn.manifest import PromptInfo
from vbench_cn.scorers import NotApplicable, get_scorer
from vbench_cn.scorers.text import (
    FrameReading,
    align,
    edit_distance,
    expected_text,
    normalize_text,
    text_rendering,
    text_stability,
)


def prompt(text: str | None = None, *, lang: str = "zh", **meta: object) -> PromptInfo:
    if text is not None:
        meta["text"] = text
    return PromptInfo("tx-0001", "a sign", lang, ("text_rendering",), meta)


def box(text: str, conf: float = 1.0, chars: tuple[float, ...] = ()) -> OcrBox:
    return OcrBox(text, conf, chars)


def reading(text: str, conf: float = 1.0) -> FrameReading:
    return FrameReading(tuple(text), (conf,) * len(text))


# ------------------------------------------------------------------ normalisation and alignment


@pytest.mark.parametrize(
    "raw, want",
    [
        ("北京烤鸭", "北京烤鸭"),
        ("“北京烤鸭”！", "北京烤鸭"),
        ("ＯＰＥＮ", "open"),  # full-width Latin (NFKC)
        ("Maple  Street", "maplestreet"),
        ("GATE 12", "gate12"),
        ("ICE\tCREAM\n", "icecream"),
    ],
)
def test_normalize_text(raw: str, want: str) -> None:
    assert normalize_text(raw) == want


def test_align_finds_the_text_inside_other_text_at_no_cost() -> None:
    a = align("北京烤鸭", reading("欢迎光临北京烤鸭店"))
    assert (a.cost, a.edits, a.matched, a.reading) == (0.0, 0, 4, "北京烤鸭")


@pytest.mark.parametrize(
    "text, cost, edits",
    [
        ("北京烧鸭", 1.0, 1),  # one wrong character
        ("北京鸭", 1.0, 1),  # one missing
        ("北京大烤鸭", 1.0, 1),  # one extra inside
        ("", 4.0, 4),  # nothing read
        ("天地玄黄", 4.0, 4),  # all wrong
    ],
)
def test_align_costs_one_per_edit(text: str, cost: float, edits: int) -> None:
    a = align("北京烤鸭", reading(text))
    assert a.cost == pytest.approx(cost) and a.edits == edits


def test_align_charges_one_minus_probability_for_a_right_character() -> None:
    r = FrameReading(tuple("open"), (1.0, 0.3, 1.0, 0.8))
    a = align("open", r)
    assert a.cost == pytest.approx(0.7 + 0.2)
    assert a.mean_confidence == pytest.approx((1.0 + 0.3 + 1.0 + 0.8) / 4)


def test_edit_distance() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "北京") == 2
    assert edit_distance("北京", "北京") == 0


# ------------------------------------------------------------------ text_rendering


def test_clear_text_in_every_frame_scores_its_confidence() -> None:
    frames = [[box("北京烤鸭", 0.98)]] * 4
    s = text_rendering(frames, prompt=prompt("北京烤鸭"))
    assert s.value == pytest.approx(0.98)
    assert s.details["char_accuracy"] == 1.0 and s.details["reading"] == "北京烤鸭"


def test_scrambled_missing_and_absent_text_score_low() -> None:
    p = prompt("北京烤鸭")
    assert (
        text_rendering([[box("鸭烤京北")]], prompt=p).value <= 0.5
    )  # same characters, wrong order
    assert text_rendering([[box("天地玄黄")]], prompt=p).value == 0.0
    assert text_rendering([[box("北京")]], prompt=p).value == pytest.approx(0.5)
    assert text_rendering([[]], prompt=p).value == 0.0


def test_low_confidence_pseudo_characters_score_below_crisp_ones() -> None:
    p = prompt("北京烤鸭")
    crisp = text_rendering([[box("北京烤鸭", 0.99, (0.99,) * 4)]], prompt=p).value
    pseudo = text_rendering([[box("北京烤鸭", 0.65, (0.95, 0.95, 0.35, 0.35))]], prompt=p).value
    assert crisp == pytest.approx(0.99)
    assert pseudo == pytest.approx(1 - (0.05 + 0.05 + 0.65 + 0.65) / 4)


def test_frames_without_the_text_pull_the_mean_down() -> None:
    frames = [[box("OPEN")], [box("OPEN")], [], [box("SHUT")]]
    s = text_rendering(frames, prompt=prompt("OPEN", lang="en"))
    assert s.value == pytest.approx(0.5)
    assert s.details["frames_with_match"] == 2 and s.details["best_frame"] == 1.0


def test_text_split_over_boxes_and_lines_is_read_in_order() -> None:
    s = text_rendering([[box("Maple"), box("STREET")]], prompt=prompt("MAPLE STREET", lang="en"))
    assert s.value == 1.0


def test_boxes_below_min_confidence_are_ignored() -> None:
    frames = [[box("OPEN", 0.3)]]
    assert text_rendering(frames, prompt=prompt("OPEN"), min_confidence=0.5).value == 0.0
    assert text_rendering(frames, prompt=prompt("OPEN"), min_confidence=0.2).value == pytest.approx(
        0.3
    )


def test_expected_text_comes_from_meta_expected_text_first() -> None:
    p = prompt("北京烤鸭", expected_text="同仁堂")
    assert expected_text(p) == "同仁堂"
    assert text_rendering([[box("同仁堂")]], prompt=p).value == 1.0
    bilingual = PromptInfo(
        None, "a sign", "en", (), {"expected_text": {"en": "OPEN", "zh": "营业"}}, known=False
    )
    assert expected_text(bilingual) == "OPEN"


@pytest.mark.parametrize("p", [None, prompt(), prompt(""), prompt("！？")])
def test_no_expected_text_is_not_applicable(p: PromptInfo | None) -> None:
    with pytest.raises(NotApplicable):
        text_rendering([[box("OPEN")]], prompt=p)
    with pytest.raises(NotApplicable):
        text_stability([[box("OPEN")], [box("OPEN")]], prompt=p)


def test_no_frame_is_not_applicable() -> None:
    with pytest.raises(NotApplicable):
        text_rendering([], prompt=prompt("OPEN"))


# ------------------------------------------------------------------ text_stability


def test_the_same_reading_in_every_frame_is_fully_stable_even_if_wrong() -> None:
    s = text_stability([[box("SHUT")]] * 5, prompt=prompt("OPEN"))
    assert s.value == 1.0 and s.details["distinct_readings"] == 1


def test_letters_that_morph_score_low() -> None:
    frames = [[box(t)] for t in ("北京烤鸭", "北我烤的", "人京上鸭", "北和来鸭")]
    s = text_stability(frames, prompt=prompt("北京烤鸭"))
    # pairs by hand (1 - edits/4): AB 0.5, AC 0.5, AD 0.5, BC 0, BD 0.25, CD 0.25 -> 2.0 / 6
    assert s.value == pytest.approx(2.0 / 6)


def test_text_that_pops_in_and_out_is_unstable() -> None:
    frames = [[box("OPEN")], [], [box("OPEN")], []]
    s = text_stability(frames, prompt=prompt("OPEN"))
    # pairs with text on at least one side: (0,1)=0 (0,2)=1 (0,3)=0 (1,2)=0 (2,3)=0; (1,3) left out
    assert s.value == pytest.approx(1 / 5) and s.details["pairs"] == 5
    consecutive = text_stability(frames, prompt=prompt("OPEN"), pairs="consecutive")
    assert consecutive.value == 0.0


def test_stability_without_two_frames_of_text_is_not_applicable() -> None:
    with pytest.raises(NotApplicable, match="0 of 3 frames"):
        text_stability([[], [], []], prompt=prompt("OPEN"))
    one_artefact = [[box("口", 0.7)], [], [], []]  # a blank board read once as 口
    with pytest.raises(NotApplicable, match="1 of 4 frames"):
        text_stability(one_artefact, prompt=prompt("OPEN"))
    assert text_stability(one_artefact, prompt=prompt("OPEN"), min_frames_with_text=1).value == 0.0


def test_scorers_are_registered_with_their_params() -> None:
    assert get_scorer("text.rendering").params == ("min_confidence",)
    assert set(get_scorer("text.stability").params) == {
        "min_confidence",
        "pairs",
        "min_frames_with_text",
    }
    assert get_scorer("text.rendering").context == ("prompt",)


# ------------------------------------------------------------------ the extractor's tensor encoding


def test_encoding_round_trips_text_confidences_and_boxes() -> None:
    boxes = [
        OcrBox("北京烤鸭", 0.9, (0.9, 0.8, 1.0, 0.9), (1, 2, 3, 4, 5, 6, 7, 8)),
        OcrBox("𠀀OPEN", 0.5),
    ]
    rows = encode_frame(boxes)
    assert rows.shape == (MAX_BOXES, ROW_WIDTH) and rows.dtype == torch.float32
    back = decode_frame(rows)
    assert [b.text for b in back] == ["北京烤鸭", "𠀀OPEN"]  # a code point above the BMP survives
    assert back[0].char_confidences == pytest.approx((0.9, 0.8, 1.0, 0.9))
    assert back[0].box == (1, 2, 3, 4, 5, 6, 7, 8)
    assert decode_frame(encode_frame([])) == ()


def test_encoding_keeps_the_most_confident_boxes_in_reading_order() -> None:
    boxes = [OcrBox(f"t{i}", confidence=i / 100) for i in range(MAX_BOXES + 4)]
    back = decode_frame(encode_frame(boxes))
    assert [b.text for b in back] == [f"t{i}" for i in range(4, MAX_BOXES + 4)]
    long = decode_frame(encode_frame([OcrBox("x" * (MAX_CHARS + 5), 1.0)]))
    assert long[0].text == "x" * MAX_CHARS
