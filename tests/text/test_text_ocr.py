"""Real PP-OCRv4 (rapidocr, weights from the wheel, offline) on signs rendered with known text.

Clear text must score high, wrong, pseudo- or missing characters low, and letters that
change between frames low on stability, in Chinese and in English. All frames go through
one ``forward`` call, as the runner batches them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from vbench_cn.features.ocr import KNOWN_SHA256, model_digests
from vbench_cn.manifest import PromptInfo
from vbench_cn.scorers.text import text_rendering, text_stability
from vbench_cn.synthetic_text import drop_characters, garble_text, morphing_texts, render_sign

CASES = {"zh": "北京烤鸭", "en": "MAPLE STREET"}
STEADY_FRAMES = 3
MORPH_FRAMES = 4


@pytest.fixture(scope="module")
def readings(ocr, cjk_font: Path) -> dict[tuple[str, str], list]:  # noqa: ANN001
    """OCR of every rendered case: (lang, case) -> one reading per frame."""
    frames: dict[tuple[str, str], list[np.ndarray]] = {}
    for lang, text in CASES.items():
        frames[(lang, "clear")] = [
            render_sign(text, seed=t, offset_xy=(3 * t, 0)) for t in range(STEADY_FRAMES)
        ]
        frames[(lang, "wrong")] = [render_sign(garble_text(text, seed=5))]
        frames[(lang, "pseudo")] = [render_sign(text, pseudo_glyphs=True, seed=1)]
        frames[(lang, "missing")] = [
            render_sign(drop_characters(text, keep=len(text.replace(" ", "")) // 2))
        ]
        frames[(lang, "absent")] = [render_sign("")]
        frames[(lang, "morph")] = [
            render_sign(t, offset_xy=(3 * i, 0))
            for i, t in enumerate(morphing_texts(text, MORPH_FRAMES, seed=3))
        ]
    keys = list(frames)
    batch = torch.from_numpy(np.stack([f for k in keys for f in frames[k]]))
    out = ocr.finalize(ocr.forward(ocr.prepare(batch, position=0, info=None)), info=None)
    result, start = {}, 0
    for k in keys:
        result[k] = out[start : start + len(frames[k])]
        start += len(frames[k])
    return result


def prompt(lang: str) -> PromptInfo:
    return PromptInfo(
        "tx-0001", "a sign", lang, ("text_rendering",), {"text": CASES[lang], "text_lang": lang}
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_clear_text_is_read_exactly_and_scores_high(readings: dict, lang: str) -> None:
    s = text_rendering(readings[(lang, "clear")], prompt=prompt(lang))
    assert s.details["char_accuracy"] == 1.0, s.details
    assert s.value > 0.95, s.details
    assert text_stability(readings[(lang, "clear")], prompt=prompt(lang)).value == 1.0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_wrong_pseudo_missing_and_absent_characters_score_low(readings: dict, lang: str) -> None:
    score = {
        case: text_rendering(readings[(lang, case)], prompt=prompt(lang)).value
        for case in ("clear", "wrong", "pseudo", "missing", "absent")
    }
    assert score["wrong"] < 0.35, score  # random letters line up with a few expected ones by chance
    assert score["absent"] == 0.0, score
    assert 0.3 < score["missing"] < 0.6, score  # half the characters, read clearly
    assert score["pseudo"] < 0.75, score  # fused glyphs: some halves still read, unsurely
    assert score["clear"] - max(score["wrong"], score["pseudo"], score["missing"]) > 0.3, score


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_letters_that_morph_between_frames_score_low_on_stability(
    readings: dict, lang: str
) -> None:
    morph = text_stability(readings[(lang, "morph")], prompt=prompt(lang))
    assert morph.details["distinct_readings"] >= 3, morph.details
    assert morph.value < 0.7, morph.details
    assert text_rendering(readings[(lang, "morph")], prompt=prompt(lang)).value < 0.7


def test_weights_id_names_the_wheel_version_and_its_model_files(ocr) -> None:  # noqa: ANN001
    version, digests = model_digests()
    assert re.fullmatch(
        rf"rapidocr-onnxruntime-{re.escape(version)}@[0-9a-f]{{12}}", ocr.weights_id
    )
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in digests.values())
    if version in KNOWN_SHA256:
        assert digests == KNOWN_SHA256[version]
