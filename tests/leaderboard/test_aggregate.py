"""Aggregation against hand-computed values, and the bootstrap's coverage on simulated data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from _lbhelpers import rec, section18_specs, spec, specs

from vbench_cn.aggregation import aggregate, category_scores, vbench_totals
from vbench_cn.report import render
from vbench_cn.stats import cluster_bootstrap_mean, holm, paired_permutation_pvalue


def _row(result, model, dim):
    rows = result.dimensions[
        (result.dimensions["model"] == model) & (result.dimensions["dimension"] == dim)
    ]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_mean_errors_skips_and_normalisation_by_hand():
    sp = specs(spec("a", normalization={"min": 0.5, "max": 1.0}))
    records = [
        rec("m", "a", "p1", 0, 0.6),
        rec("m", "a", "p1", 1, 0.8),
        rec("m", "a", "p2", 0, 1.0),
        rec("m", "a", "p3", 0, None, status="error", error="decode failed"),
        rec("m", "a", "p4", 0, None, status="skipped", error="not applicable"),
        rec("m", "a", "p5", 0, 0.9, dimension_version=2),  # stale version: counted, not averaged
    ]
    result = aggregate(records, sp, num_resamples=200)
    row = _row(result, "m", "a")
    assert row["mean"] == pytest.approx((0.6 + 0.8 + 1.0) / 3)  # errors/skips are not zeros
    assert row["normalized"] == pytest.approx(((0.6 + 0.8 + 1.0) / 3 - 0.5) / 0.5)
    assert (
        row["n_videos"],
        row["n_prompts"],
        row["n_errors"],
        row["n_skipped"],
        row["n_stale"],
    ) == (3, 2, 1, 1, 1)
    assert row["ci_low"] <= row["mean"] <= row["ci_high"]


def test_weighted_mean_uses_details_weight():
    sp = specs(spec("w", aggregate="weighted"))
    records = [
        rec("m", "w", "p1", 0, 1.0, details={"weight": 3}),
        rec("m", "w", "p2", 0, 0.0, details={"weight": 1}),
    ]
    row = _row(aggregate(records, sp, num_resamples=200), "m", "w")
    assert row["mean"] == pytest.approx(0.75)  # (3·1 + 1·0) / 4, not the plain 0.5


def test_lower_is_better_normalisation_is_flipped():
    sp = specs(spec("lat", normalization={"min": 0.0, "max": 10.0}, higher_is_better=False))
    row = _row(aggregate([rec("m", "lat", "p", 0, 2.0)], sp, num_resamples=100), "m", "lat")
    assert row["normalized"] == pytest.approx(0.8)


def test_category_and_total_scores_use_spec_weights():
    sp = specs(
        spec("q1", weight=1.0),
        spec("q2", weight=0.5),
        spec("s1", category="semantic", weight=2.0),
    )
    records = [
        rec("m", "q1", "p", 0, 0.9),
        rec("m", "q2", "p", 0, 0.3),
        rec("m", "s1", "p", 0, 0.6),
    ]
    cats = aggregate(records, sp, num_resamples=100).categories.set_index("category")["score"]
    assert cats["quality"] == pytest.approx((1.0 * 0.9 + 0.5 * 0.3) / 1.5)
    assert cats["semantic"] == pytest.approx(0.6)
    assert cats["total"] == pytest.approx((0.9 + 0.5 * 0.3 + 2 * 0.6) / 3.5)
    assert "fidelity" not in cats.index


def test_vbench_rule_reproduced_and_not_clipped():
    sp = section18_specs()
    raw = {i: 0.5 for i in sp}
    raw["appearance_style"] = (
        0.30  # above its max 0.2855: normalised > 1, kept (VBench does not clip)
    )
    norm = {i: sp[i].normalize(v) for i, v in raw.items()}
    out = vbench_totals(norm, sp)
    quality_ids = [i for i in sp if sp[i].category == "quality"]
    semantic_ids = [i for i in sp if sp[i].category == "semantic"]
    q = sum(sp[i].weight * norm[i] for i in quality_ids) / 6.5
    s = sum(norm[i] for i in semantic_ids) / 9
    assert norm["appearance_style"] > 1
    assert out["quality"] == pytest.approx(q)
    assert out["semantic"] == pytest.approx(s)
    assert out["total"] == pytest.approx((4 * q + s) / 5)
    assert out["complete"]
    del norm["scene"]
    partial = vbench_totals(norm, sp)
    assert (
        math.isnan(partial["semantic"]) and math.isnan(partial["total"]) and not partial["complete"]
    )


def test_vbench_rows_through_aggregate_match_function():
    sp = section18_specs()
    records = [
        rec("m", i, f"p{k}", 0, 0.4 + 0.01 * k + 0.001 * j)
        for j, i in enumerate(sp)
        for k in range(6)
    ]
    result = aggregate(records, sp, num_resamples=300)
    vb = result.vbench.iloc[0]
    norm = {r["dimension"]: r["normalized"] for r in result.dimensions.to_dict("records")}
    assert vb["total"] == pytest.approx(vbench_totals(norm, sp)["total"])
    assert vb["total_ci_low"] <= vb["total"] <= vb["total_ci_high"]
    assert bool(vb["complete"])


def test_set_level_records_shown_as_they_are():
    sp = specs(spec("fvd", level="set", higher_is_better=False, category="fidelity"))
    record = rec(
        "m",
        "fvd",
        None,
        0,
        412.5,
        level="set",
        video=None,
        details={"n_videos": 80, "reference": "ucf101-train", "ci": [380.0, 450.0]},
    )
    result = aggregate([record], sp, num_resamples=100)
    row = result.set_level.iloc[0]
    assert (row["score"], row["n_videos"], row["reference"], row["ci_low"], row["ci_high"]) == (
        412.5,
        80,
        "ucf101-train",
        380.0,
        450.0,
    )
    assert not bool(row["higher_is_better"])
    assert result.dimensions.empty  # a set-level score is never averaged into a video mean


def test_json_echoes_specs_and_outputs_are_deterministic():
    sp = specs(spec("a"), spec("b", category="semantic"))
    records = [
        rec("m", d, f"p{k}", s, 0.1 * k + 0.01 * s) for d in sp for k in range(5) for s in range(2)
    ]
    first = aggregate(records, sp, num_resamples=300, seed=7)
    second = aggregate(list(reversed(records)), sp, num_resamples=300, seed=7)
    assert render(first, "json") == render(second, "json")
    assert render(first, "csv") == render(second, "csv")
    doc = json.loads(render(first, "json"))
    assert doc["specs"] == [
        {"id": s.id, "version": s.version, "sha256": s.sha256} for s in sp.values()
    ]
    assert doc["bootstrap"]["unit"] == "prompt"
    assert "| m | a |" in render(first, "md")
    other_seed = aggregate(records, sp, num_resamples=300, seed=8)
    assert render(other_seed, "json") != render(first, "json")


def test_bootstrap_resamples_prompts_not_videos():
    # One prompt with very different samples: resampling prompts can only redraw that one
    # prompt, so the interval is a point. A video-level bootstrap would give a wide interval.
    est = cluster_bootstrap_mean([[0.0, 1.0, 0.2, 0.9]], seed=0, num_resamples=500)
    assert est.ci_low == pytest.approx(est.value) and est.ci_high == pytest.approx(est.value)
    # Same values, one prompt each: now the interval is wide.
    wide = cluster_bootstrap_mean([[0.0], [1.0], [0.2], [0.9]], seed=0, num_resamples=500)
    assert wide.ci_high - wide.ci_low > 0.3


def test_ci_coverage_on_simulated_prompts():
    """The 95 % interval covers the true mean about 95 % of the time (200 simulated runs)."""
    rng = np.random.default_rng(12345)
    true_mean, n_prompts, n_samples, hits, n_sims = 0.6, 40, 3, 0, 200
    for sim in range(n_sims):
        prompt_effect = rng.normal(0.0, 0.08, size=n_prompts)
        groups = [
            list(true_mean + e + rng.normal(0.0, 0.05, size=n_samples)) for e in prompt_effect
        ]
        est = cluster_bootstrap_mean(groups, num_resamples=1000, seed=sim)
        hits += est.ci_low <= true_mean <= est.ci_high
    assert 0.90 <= hits / n_sims <= 0.99, hits / n_sims


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 → ×3, ×2, ×1 = 0.03, 0.06, 0.04 → running max 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, float("nan"), 0.01])[1] != holm([0.5, float("nan"), 0.01])[1]  # NaN stays NaN
    assert holm([0.5, float("nan"), 0.01])[2] == pytest.approx(
        0.02
    )  # m counts only finite p-values
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # 0.8·2 capped at 1; running max keeps 1


def test_sign_flip_pvalue_exact_small_case():
    # 3 positive differences: of the 8 sign patterns, the observed mean is matched in absolute
    # value only by all-plus and all-minus, so the exact two-sided p is 2/8.
    assert paired_permutation_pvalue([1.0, 2.0, 3.0]) == pytest.approx(0.25)


def test_category_scores_ignore_unknown_and_zero_weight():
    sp = specs(spec("a"), spec("z", weight=0.0))
    assert category_scores({"a": 0.4, "z": 1.0, "ghost": 1.0}, sp) == {"quality": 0.4, "total": 0.4}


def test_duration_category_is_gated_by_length():
    sp = specs(
        spec(
            "duration_seconds",
            category="duration",
            normalization={"min": 0.0, "max": 60.0},
            category_gate=True,
        ),
        spec("sustained_quality", category="duration", weight=2.0),
        spec("frame_rate", category="duration"),
    )
    norm = {"duration_seconds": 0.5, "sustained_quality": 0.9, "frame_rate": 0.6}
    cats = category_scores(norm, sp)
    assert cats["duration"] == pytest.approx(
        0.5 * (2 * 0.9 + 0.6) / 3
    )  # L x weighted mean of the rest
    assert cats["total"] == pytest.approx((0.5 + 2 * 0.9 + 0.6) / 4)  # total stays linear
    only_length = category_scores({"duration_seconds": 0.5}, sp)
    assert only_length["duration"] == pytest.approx(0.5)  # nothing to gate: plain mean
    reps = category_scores({k: np.full(3, v) for k, v in norm.items()}, sp)
    assert np.allclose(reps["duration"], cats["duration"])  # works on bootstrap replicates


def test_set_level_scores_form_the_fidelity_category():
    sp = specs(
        spec(
            "fvd",
            level="set",
            higher_is_better=False,
            category="fidelity",
            normalization={"min": 0.0, "max": 2000.0},
        ),
        spec("q", normalization={"min": 0.0, "max": 1.0}),
    )
    records = [rec("m", "q", f"p{k}", 0, 0.5 + 0.1 * (k % 3)) for k in range(9)]
    records.append(
        rec(
            "m",
            "fvd",
            None,
            0,
            500.0,
            level="set",
            video=None,
            details={"ci_low": 400.0, "ci_high": 600.0},
        )
    )
    result = aggregate(records, sp, num_resamples=300)
    cats = result.categories.set_index("category")
    assert cats.loc["fidelity", "score"] == pytest.approx(1 - 500 / 2000)
    # its only member reports a CI: normalised and flipped (lower is better)
    assert (cats.loc["fidelity", "ci_low"], cats.loc["fidelity", "ci_high"]) == pytest.approx(
        (0.7, 0.8)
    )
    assert cats.loc["total", "score"] == pytest.approx((0.75 + 0.6) / 2)
    assert cats.loc["total", "ci_low"] < cats.loc["total", "score"] < cats.loc["total", "ci_high"]
    assert cats.loc["total", "dimensions"] == "fvd,q"
    assert result.set_level.iloc[0]["normalized"] == pytest.approx(0.75)


def test_vbench_total_is_comparable_only_with_all_16_parity_dimensions_and_real_weights():
    import dataclasses

    sp = section18_specs()
    records = [
        rec("m", i, f"p{k}", 0, 0.5 + 0.01 * k, weights=f"{i}@0123456789ab")
        for i in sp
        for k in range(3)
    ]

    def verdict(recs, specs_=sp):
        row = aggregate(recs, specs_, num_resamples=50).vbench.iloc[0]
        return bool(row["comparable"]), row["not_comparable_because"], row["total"]

    ok, why, total = verdict(records)
    assert ok and why == "" and math.isfinite(total)
    random_scene = [
        dict(r, random_weights=True, weights="random") if r["dimension"] == "scene" else r
        for r in records
    ]
    assert verdict(random_scene)[:2] == (False, "random weights: scene")
    from vbench_cn.report import render

    md = render(aggregate(random_scene, sp, num_resamples=50), "md")
    assert "| no: random weights: scene |" in md
    stand_in = dict(sp, color=dataclasses.replace(sp["color"], parity="substitute"))
    assert verdict(records, stand_in)[:2] == (False, "not VBench's computation: color (substitute)")
    ok, why, total = verdict([r for r in records if r["dimension"] != "dynamic_degree"])
    assert (ok, why) == (False, "missing: dynamic_degree") and math.isnan(total)
    fewer = {k: v for k, v in sp.items() if k != "scene"}
    ok, why, _ = verdict([r for r in records if r["dimension"] != "scene"], fewer)
    assert not ok and why == "the specs define 15 of VBench's 16 dimensions"


def test_shipped_specs_reproduce_all_16_vbench_dimensions():
    from vbench_cn.aggregation import vbench_comparability
    from vbench_cn.specs import load_specs

    sp = load_specs()
    vb = [s for s in sp.values() if s.vbench_name and s.category in ("quality", "semantic")]
    assert (
        len(vb) == 16 and sp["scene"].parity == "vbench" and "scene_clip" not in {s.id for s in vb}
    )
    assert not any(s.id.endswith("_owl") for s in vb)  # GRiT's OWLv2 alternatives stay out
    ok, why = vbench_comparability(sp, [s.id for s in vb])
    stand_ins = sorted(s.id for s in vb if s.parity != "vbench")
    # with GRiT (object class, multiple objects, colour, spatial) and Tag2Text (scene) all 16
    # reproduce VBench: a run of every one with real weights gives a comparable Total
    assert ok and not stand_ins and why == ""
