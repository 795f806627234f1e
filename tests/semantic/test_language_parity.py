"""language_parity: the zh − en gap over paired prompts, on crafted records."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vbench_cn.language_parity import COLUMNS, language_parity, paired_prompt_means, parity_gap
from vbench_cn.scorers import NotApplicable, get_scorer
from vbench_cn.specs import load_specs


def rec(
    model, dim, pid, lang, score, *, weights="random", weight=None, status="ok", model_name=None
):
    details = {}
    if weight is not None:
        details["weight"] = weight
    if model_name:
        details["model"] = model_name
    return {
        "model": model,
        "dimension": dim,
        "prompt_id": pid,
        "prompt_lang": lang,
        "status": status,
        "score": score if status == "ok" else None,
        "weights": weights,
        "details": details,
        "level": "video",
    }


@pytest.fixture(scope="module")
def specs():
    return load_specs()


def test_language_parity_is_a_report_not_a_dimension(specs) -> None:
    """No spec, no registered scorer: ``aggregate --language-parity`` computes it."""
    assert "language_parity" not in specs
    assert {s.level for s in specs.values()} == {"video", "set"}
    with pytest.raises(KeyError):
        get_scorer("language.parity_gap")


def test_gap_is_zh_minus_en_with_ci_over_prompts(specs) -> None:
    rng = np.random.default_rng(0)
    records = []
    for i in range(30):
        base = rng.uniform(0.3, 0.7)
        for s in range(2):
            records.append(rec("m", "object_class", f"oc-{i:04d}", "en", base + 0.01 * s))
            records.append(rec("m", "object_class", f"oc-{i:04d}", "zh", base - 0.1 + 0.01 * s))
    records.append(rec("m", "object_class", "oc-9999", "zh", 0.0))  # unpaired: ignored
    records.append(
        rec("m", "object_class", "oc-0000", "zh", None, status="skipped")
    )  # skipped: ignored
    df = language_parity(records, specs)
    assert list(df.columns) == list(COLUMNS)
    row = df.iloc[0]
    assert (row["model"], row["dimension"], row["n_prompts"]) == ("m", "object_class", 30)
    assert row["gap"] == pytest.approx(-0.1)
    assert row["ci_low"] <= -0.1 <= row["ci_high"] and row["ci_high"] < 0
    assert row["p_value"] < 0.01
    assert bool(row["same_model"]) is True


def test_no_gap_when_languages_agree(specs) -> None:
    records = [
        rec("m", "color", f"co-{i:04d}", lang, 0.5 + 0.01 * i)
        for i in range(10)
        for lang in ("zh", "en")
    ]
    row = language_parity(records, specs).iloc[0]
    assert row["gap"] == pytest.approx(0.0)
    assert row["p_value"] == 1.0


def test_weighted_dimensions_use_details_weight(specs) -> None:
    assert specs["object_class"].aggregate == "weighted"
    records = [
        rec("m", "object_class", "p", "zh", 1.0, weight=3),
        rec("m", "object_class", "p", "zh", 0.0, weight=1),
        rec("m", "object_class", "p", "en", 0.5, weight=1),
    ]
    means = paired_prompt_means(records, weighted=True)
    assert means["p"]["zh"] == pytest.approx(0.75)
    assert language_parity(records, specs).iloc[0]["gap"] == pytest.approx(0.25)


def test_rows_say_when_languages_were_scored_by_different_models(specs) -> None:
    records = []
    for i in range(5):
        records.append(
            rec(
                "m",
                "overall_consistency",
                f"ov-{i:04d}",
                "en",
                0.25,
                weights="viclip_l14@0123456789ab",
            )
        )
        records.append(
            rec("m", "overall_consistency", f"ov-{i:04d}", "zh", 0.30, model_name="cnclip_vitl14")
        )
    row = language_parity(records, specs).iloc[0]
    assert bool(row["same_model"]) is False
    assert (row["zh_scored_by"], row["en_scored_by"]) == ("cnclip_vitl14", "viclip_l14")
    assert row["gap_normalized"] == pytest.approx(0.05 / 0.364)


def test_models_and_dimensions_are_separate_rows_and_unknown_dims_skipped(specs) -> None:
    records = [
        rec(m, d, "p", lang, s)
        for m in ("a", "b")
        for d in ("color", "scene")
        for lang, s in (("zh", 0.2), ("en", 0.4))
    ]
    records.append(rec("a", "not_a_dimension", "p", "zh", 1.0))
    df = language_parity(records, specs)
    assert sorted(zip(df["model"], df["dimension"], strict=True)) == [
        ("a", "color"),
        ("a", "scene"),
        ("b", "color"),
        ("b", "scene"),
    ]
    assert language_parity([], specs).empty


def test_parity_gap_needs_prompts() -> None:
    with pytest.raises(NotApplicable):
        parity_gap([])
    assert math.isclose(parity_gap([0.2, 0.4]).value, 0.3)


def test_parity_of_a_run_directory(tmp_path) -> None:
    import json

    from vbench_cn.language_parity import language_parity_of_run
    from vbench_cn.results import shard_path

    path = shard_path(tmp_path, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    recs = [
        dict(
            rec("m", "scene", f"sn-{i:04d}", lang, s, weight=16), video=f"m/sn-{i:04d}-{lang}-0.mp4"
        )
        for i in range(4)
        for lang, s in (("zh", 0.25), ("en", 0.5))
    ]
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n", encoding="utf-8")
    df = language_parity_of_run(tmp_path, num_resamples=200)
    assert df.iloc[0]["gap"] == pytest.approx(-0.25) and df.iloc[0]["n_prompts"] == 4
