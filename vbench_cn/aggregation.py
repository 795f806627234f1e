"""Aggregate records into per-model scores: means, prompt-bootstrap CIs, categories, VBench Total.

Per (model, dimension) the score is the mean over videos, or the frame/pair-weighted mean
(``details["weight"]``) for specs with ``aggregate = "weighted"``, as VBench's single-process
aggregate does. The 95 % interval resamples **prompts** (all samples of a prompt stay
together), seeded per (model, dimension) so a result never depends on which other models
are in the run. Errors and skips are counted, never averaged as zeros.

Category scores (quality, semantic, fidelity, duration, control, language, total) are the
spec-weighted means of normalised dimension scores; their CIs come from one joint
bootstrap over the union of a model's prompts, so correlated dimensions are resampled
together. For the dimensions that exist in VBench (``spec.vbench_name``) VBench's own rule
is reproduced (``scripts/cal_final_score.py``, see ``docs/vbench-reference.md`` §18):
Quality = Σ w·n / Σ w over its quality dimensions, Semantic = plain mean of its semantic
dimensions, Total = (4·Quality + Semantic) / 5, normalisation not clipped.

This module computes; :mod:`vbench_cn.report` renders the result (Markdown, CSV, JSON,
Parquet).
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vbench_cn.specs import CATEGORIES, DimensionSpec
from vbench_cn.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_NUM_RESAMPLES,
    cluster_bootstrap_mean,
    finite,
    percentile_interval,
    prompt_counts,
    ratio_replicates,
)

#: Category rows reported for every model, in display order ("total" = all categories).
CATEGORY_ROWS: tuple[str, ...] = (*CATEGORIES, "total")
#: VBench's Quality:Semantic weights in its Total (``scripts/constant.py``).
VBENCH_QUALITY_WEIGHT = 4.0
VBENCH_SEMANTIC_WEIGHT = 1.0
#: VBench's dimensions (vbench/__init__.py build_full_dimension_list): 7 quality, 9 semantic.
VBENCH_DIMENSION_COUNT = 16

DIMENSION_COLUMNS = [
    "model",
    "dimension",
    "category",
    "version",
    "aggregate",
    "higher_is_better",
    "mean",
    "ci_low",
    "ci_high",
    "normalized",
    "normalized_ci_low",
    "normalized_ci_high",
    "n_videos",
    "n_prompts",
    "n_errors",
    "n_skipped",
    "n_stale",
    "n_unweighted",
]
CATEGORY_COLUMNS = ["model", "category", "score", "ci_low", "ci_high", "n_dimensions", "dimensions"]
VBENCH_COLUMNS = [
    "model",
    "quality",
    "quality_ci_low",
    "quality_ci_high",
    "semantic",
    "semantic_ci_low",
    "semantic_ci_high",
    "total",
    "total_ci_low",
    "total_ci_high",
    "n_dimensions",
    "n_expected",
    "complete",
    "comparable",
    "not_comparable_because",
]
SET_COLUMNS = [
    "model",
    "dimension",
    "score",
    "higher_is_better",
    "status",
    "n_videos",
    "reference",
    "ci_low",
    "ci_high",
    "normalized",
    "details",
]


def _seed(base: int, *names: str) -> list[int]:
    """A seed that depends only on ``base`` and the names (stable across runs and Pythons)."""
    return [base, *(zlib.crc32(n.encode("utf-8")) for n in names)]


def prompt_key(rec: Mapping[str, Any]) -> str:
    """The prompt a record belongs to: the resampling unit, and what pairs two runs.

    The record's ``prompt_id`` when set; otherwise the video's file name without its
    extension and its ``-{sample}`` suffix (VBench's ``{prompt}-{i}.mp4`` naming), so the
    samples of one prompt stay together and the same prompt matches across models.

    Example:
        >>> prompt_key({"prompt_id": None, "video": "ckpt-2/a cat sleeping-3.mp4"})
        'a cat sleeping'
    """
    pid = rec.get("prompt_id")
    if pid not in (None, ""):
        return str(pid)
    name = str(rec.get("video") or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return re.sub(r"-\d+$", "", stem) or name


@functools.lru_cache(maxsize=1)
def suite_prompt_ids() -> frozenset[str]:
    """Ids of the built-in prompt suite: the prompts a leaderboard row must be scored on."""
    from vbench_cn.prompts import load_suite

    return frozenset(p.id for p in load_suite())


def category_scores(
    normalized: Mapping[str, Any], specs: Mapping[str, DimensionSpec]
) -> dict[str, Any]:
    """Spec-weighted mean of normalised scores per category, plus ``total`` over all of them.

    Works on floats or on equally shaped numpy arrays (bootstrap replicates). Dimensions
    with weight 0 or missing from ``normalized`` do not count; a category with none is
    absent from the result. Set-level dimensions (FVD, ...) count like the others, with
    their normalised value: the fidelity category consists of them.

    A category with a gate (a spec with ``category_gate = true``, e.g. ``duration_seconds``
    for Duration) is the exception: when its gate and at least one other member are present,
    it is :func:`gated_category_score` over its video-level members, so a long video that
    falls apart and a short one that cannot fail over time both score low. ``total`` stays
    the spec-weighted mean over every dimension.

    Args:
        normalized: dimension id → normalised score(s).
        specs: the specs of those dimensions.

    Example:
        >>> from vbench_cn.specs import parse_spec
        >>> base = dict(version=1, scorer="x", description={"en": "", "zh": ""},
        ...             name={"en": "a", "zh": "a"}, category="quality")
        >>> sp = {i: parse_spec(dict(base, id=i, weight=w), f"{i}.toml", check_registries=False)
        ...       for i, w in (("a", 1.0), ("b", 0.5))}
        >>> round(category_scores({"a": 1.0, "b": 0.4}, sp)["quality"], 4)
        0.8
    """
    sums: dict[str, list[Any]] = {}
    for dim, value in normalized.items():
        spec = specs.get(dim)
        if spec is None or spec.weight <= 0:
            continue
        for cat in (spec.category, "total"):
            acc = sums.setdefault(cat, [0.0, 0.0])
            acc[0] = acc[0] + spec.weight * value
            acc[1] += spec.weight
    out = {cat: num / den for cat, (num, den) in sums.items()}
    for gate in sorted((s for s in specs.values() if s.category_gate), key=lambda s: s.id):
        members = {
            d: v
            for d, v in normalized.items()
            if d in specs
            and specs[d].category == gate.category
            and specs[d].weight > 0
            and specs[d].level == "video"
        }
        if gate.id in members and len(members) > 1:
            out[gate.category] = gated_category_score(
                members, {d: specs[d].weight for d in members}, gate=gate.id
            )
    return out


def gated_category_score(
    normalized: Mapping[str, Any], weights: Mapping[str, float], *, gate: str
) -> Any:
    """A gated category = gate factor x weighted mean of the category's other dimensions.

    ``G = clip(n_gate, 0, 1)`` and ``S = sum w_d n_d / sum w_d`` over every other dimension
    present. For Duration the gate is the normalised length (``duration_seconds``: seconds
    / 60, capped at 60 s) and the others are the quality-over-time dimensions, frame rate
    and resolution. The product is high only when the video is both long *and* holds up:
    averaging would let a 60-s video that falls apart still collect the full length term,
    and a 5-s video that cannot fail over time collect near-perfect sustain terms. Both
    factors are in [0, 1] when their inputs are, so the category is too.

    Works on floats or on equally shaped numpy arrays (bootstrap replicates), like
    :func:`category_scores`.

    Args:
        normalized: dimension id → normalised score(s) of the category's dimensions.
        weights: dimension id → spec weight; a dimension without a positive one is ignored.
        gate: the gating dimension.

    Returns:
        The category score(s), or NaN when the gate or every other dimension is missing.

    Example:
        >>> w = {"duration_seconds": 1.0, "sustained_quality": 1.0, "loop_detection": 1.0}
        >>> n = {"duration_seconds": 0.5, "sustained_quality": 0.9, "loop_detection": 0.7}
        >>> gated_category_score(n, w, gate="duration_seconds")
        0.4
    """
    if gate not in normalized:
        return float("nan")
    num: Any = 0.0
    den = 0.0
    for dim, value in normalized.items():
        if dim == gate:
            continue
        weight = float(weights.get(dim, 0.0))
        if weight <= 0:
            continue
        num = num + weight * value
        den += weight
    if den == 0:
        return float("nan")
    out = np.clip(normalized[gate], 0.0, 1.0) * (num / den)
    return float(out) if np.ndim(out) == 0 else out


def vbench_specs(specs: Mapping[str, DimensionSpec]) -> dict[str, list[DimensionSpec]]:
    """VBench's dimensions among ``specs`` (those with ``vbench_name``), split by group."""
    groups: dict[str, list[DimensionSpec]] = {"quality": [], "semantic": []}
    for spec in sorted(specs.values(), key=lambda s: s.id):
        if spec.vbench_name and spec.category in groups:
            groups[spec.category].append(spec)
    return groups


def vbench_totals(
    normalized: Mapping[str, Any], specs: Mapping[str, DimensionSpec]
) -> dict[str, Any]:
    """VBench's Quality, Semantic and Total from normalised scores (floats or arrays).

    Quality = Σ w_i·n_i / Σ w_i over VBench's quality dimensions (dynamic degree weighs 0.5
    in its spec), Semantic = Σ n_i / N over its semantic dimensions, Total = (4·Q + S) / 5
    (VBench ``scripts/cal_final_score.py``). Each part is NaN unless every VBench dimension
    of its group is present, since VBench would count a missing one as 0.

    Returns:
        ``{"quality", "semantic", "total", "n_dimensions", "n_expected", "complete"}``.
    """
    groups = vbench_specs(specs)
    expected = len(groups["quality"]) + len(groups["semantic"])
    present = sum(1 for g in groups.values() for s in g if s.id in normalized)
    out: dict[str, Any] = {"n_dimensions": present, "n_expected": expected}
    q_specs, s_specs = groups["quality"], groups["semantic"]
    if q_specs and all(s.id in normalized for s in q_specs):
        out["quality"] = sum(s.weight * normalized[s.id] for s in q_specs) / sum(
            s.weight for s in q_specs
        )
    else:
        out["quality"] = float("nan")
    if s_specs and all(s.id in normalized for s in s_specs):
        out["semantic"] = sum(normalized[s.id] for s in s_specs) / len(s_specs)
    else:
        out["semantic"] = float("nan")
    out["total"] = (
        VBENCH_QUALITY_WEIGHT * out["quality"] + VBENCH_SEMANTIC_WEIGHT * out["semantic"]
    ) / (VBENCH_QUALITY_WEIGHT + VBENCH_SEMANTIC_WEIGHT)
    out["complete"] = bool(expected > 0 and present == expected)
    return out


def vbench_comparability(
    specs: Mapping[str, DimensionSpec],
    scored: Iterable[str],
    random_weights: Iterable[str] = (),
) -> tuple[bool, str]:
    """Whether a model's VBench Total can be set beside VBench's leaderboard, and why not.

    Comparable only when all 16 VBench dimensions were scored (``scored``: dimension ids with
    a finite score), each by a spec that reproduces VBench (``parity = "vbench"``), none with
    ``--random-weights`` (``random_weights``: dimension ids with a random-weights record).

    Returns:
        ``(comparable, reason)``; the reason is empty when comparable, else every cause.
    """
    vb = [s for g in vbench_specs(specs).values() for s in g]
    scored, rand = set(scored), set(random_weights)
    reasons = []
    if len(vb) != VBENCH_DIMENSION_COUNT:
        reasons.append(
            f"the specs define {len(vb)} of VBench's {VBENCH_DIMENSION_COUNT} dimensions"
        )
    missing = sorted(s.id for s in vb if s.id not in scored)
    if missing:
        reasons.append("missing: " + ", ".join(missing))
    stand_ins = sorted(f"{s.id} ({s.parity})" for s in vb if s.parity != "vbench")
    if stand_ins:
        reasons.append("not VBench's computation: " + ", ".join(stand_ins))
    randoms = sorted(s.id for s in vb if s.id in rand)
    if randoms:
        reasons.append("random weights: " + ", ".join(randoms))
    return not reasons, "; ".join(reasons)


@dataclass
class _Cell:
    """Accumulator of one (model, dimension)."""

    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    weights: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    n_videos: int = 0
    n_errors: int = 0
    n_skipped: int = 0
    n_stale: int = 0
    n_unweighted: int = 0
    random_weights: bool = False


@dataclass
class AggregateResult:
    """The aggregate of a run: one table per kind of row plus what produced it.

    Attributes:
        dimensions: one row per (model, video-level dimension), columns ``DIMENSION_COLUMNS``.
        categories: one row per (model, category), columns ``CATEGORY_COLUMNS``.
        vbench: one row per model with VBench's Quality/Semantic/Total (NaN when incomplete).
        set_level: set-level records (e.g. FVD) as they are, columns ``SET_COLUMNS``.
        models: per-model metadata (random weights, weights hashes, suite versions, ...).
        specs: the specs used, ``[{"id", "version", "sha256"}]``.
        unknown_dimensions: dimensions found in records but absent from the specs.
    """

    dimensions: pd.DataFrame
    categories: pd.DataFrame
    vbench: pd.DataFrame
    set_level: pd.DataFrame
    models: dict[str, dict[str, Any]]
    specs: list[dict[str, Any]]
    unknown_dimensions: list[str]
    num_resamples: int
    confidence: float
    seed: int


@dataclass
class _Collected:
    """One pass over a run's records, sorted into what each later step needs."""

    cells: dict[tuple[str, str], _Cell] = field(default_factory=lambda: defaultdict(_Cell))
    set_rows: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)

    def model_cells(self, model: str) -> dict[str, _Cell]:
        return {dim: c for (mod, dim), c in self.cells.items() if mod == model}

    def model_set_rows(self, model: str) -> list[dict[str, Any]]:
        return [r for r in self.set_rows if r["model"] == model]


def aggregate(
    records: Iterable[Mapping[str, Any]],
    specs: Mapping[str, DimensionSpec],
    *,
    num_resamples: int = DEFAULT_NUM_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> AggregateResult:
    """Aggregate a run's records per model and dimension.

    Steps: collect the records into per-(model, dimension) cells; per model, bootstrap each
    dimension, then the categories and VBench's rule from one joint resampling of the
    model's prompts; finally the per-model metadata.

    Args:
        records: records as read by :func:`vbench_cn.results.read_records`.
        specs: dimension id → spec (normalisation, weights, level, aggregate rule).
        num_resamples: bootstrap replicates for every interval.
        confidence: two-sided level of every interval.
        seed: base seed; each (model, dimension) derives its own from it.

    Returns:
        An :class:`AggregateResult` (use ``.dimensions`` for the per-dimension DataFrame).
    """
    data = _collect(records, specs)
    dim_rows: list[dict[str, Any]] = []
    cat_rows: list[dict[str, Any]] = []
    vb_rows: list[dict[str, Any]] = []
    for model in sorted(data.meta):
        cells = data.model_cells(model)
        rows, point_norm = _dimension_rows(model, cells, specs, num_resamples, confidence, seed)
        dim_rows += rows
        rep_norm = _joint_replicates(
            cells, specs, point_norm, num_resamples, _seed(seed, model, "joint")
        )
        cat_rows += _category_rows(
            model,
            point_norm,
            rep_norm,
            data.model_set_rows(model),
            specs,
            num_resamples,
            confidence,
        )
        randoms = [d for d, c in cells.items() if c.random_weights]
        vb_row = _vbench_row(model, point_norm, rep_norm, specs, confidence, randoms)
        if vb_row is not None:
            vb_rows.append(vb_row)
    return AggregateResult(
        dimensions=pd.DataFrame(dim_rows, columns=DIMENSION_COLUMNS),
        categories=pd.DataFrame(cat_rows, columns=CATEGORY_COLUMNS),
        vbench=pd.DataFrame(vb_rows, columns=VBENCH_COLUMNS),
        set_level=pd.DataFrame(data.set_rows, columns=SET_COLUMNS),
        models={name: _model_meta(m) for name, m in data.meta.items()},
        specs=[
            {"id": s.id, "version": s.version, "sha256": s.sha256}
            for s in sorted(specs.values(), key=lambda s: s.id)
        ],
        unknown_dimensions=sorted(data.unknown),
        num_resamples=num_resamples,
        confidence=confidence,
        seed=seed,
    )


def _collect(
    records: Iterable[Mapping[str, Any]], specs: Mapping[str, DimensionSpec]
) -> _Collected:
    """Sort records into video-level cells, set-level rows, per-model metadata and unknowns.

    A video-level record counts as stale (another spec version), skipped, an error (not ok
    or no finite score) or a value with its weight (``details["weight"]`` for weighted
    specs), grouped by its prompt (:func:`prompt_key`).
    """
    data = _Collected()
    for rec in records:
        model, dim = str(rec.get("model")), str(rec.get("dimension"))
        m = data.meta.setdefault(model, _new_meta())
        m["random_weights"] |= bool(rec.get("random_weights")) or rec.get("weights") == "random"
        for key, field_name in (
            ("weights", "weights"),
            ("suite_versions", "suite_version"),
            ("prompt_langs", "prompt_lang"),
        ):
            if rec.get(field_name):
                m[key].add(str(rec[field_name]))
        spec = specs.get(dim)
        level = rec.get("level") or (spec.level if spec else "video")
        if level != "video" or (spec is not None and spec.level != "video"):
            data.set_rows.append(_set_row(rec, spec))
            continue
        if spec is None:
            data.unknown.add(dim)
            continue
        _add_video_record(data.cells[(model, dim)], rec, spec, m["samples"])
    data.set_rows.sort(key=lambda r: (r["model"], r["dimension"]))
    return data


def _new_meta() -> dict[str, Any]:
    return {
        "random_weights": False,
        "weights": set(),
        "suite_versions": set(),
        "prompt_langs": set(),
        "samples": defaultdict(set),
    }


def _add_video_record(
    cell: _Cell, rec: Mapping[str, Any], spec: DimensionSpec, samples: dict[str, set[Any]]
) -> None:
    """Count one video-level record into its (model, dimension) cell."""
    cell.random_weights |= bool(rec.get("random_weights")) or rec.get("weights") == "random"
    if int(rec.get("dimension_version") or 1) != spec.version:
        cell.n_stale += 1
        return
    status = rec.get("status", "ok")
    if status == "skipped":
        cell.n_skipped += 1
        return
    score = rec.get("score")
    if status != "ok" or not finite(score):
        cell.n_errors += 1
        return
    weight = 1.0
    if spec.aggregate == "weighted":
        w = (rec.get("details") or {}).get("weight")
        if finite(w) and w > 0:
            weight = float(w)
        else:
            cell.n_unweighted += 1
    key = prompt_key(rec)
    cell.values[key].append(float(score))
    cell.weights[key].append(weight)
    cell.n_videos += 1
    if rec.get("sample") is not None:
        samples[key].add(rec["sample"])


def _dimension_rows(
    model: str,
    cells: Mapping[str, _Cell],
    specs: Mapping[str, DimensionSpec],
    num_resamples: int,
    confidence: float,
    seed: int,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """One row per dimension of ``model`` (mean, prompt-bootstrap CI, normalised score),
    and the finite normalised means that the categories and VBench's rule are made of."""
    rows: list[dict[str, Any]] = []
    point_norm: dict[str, float] = {}
    for dim in sorted(cells):
        cell, spec = cells[dim], specs[dim]
        keys = sorted(cell.values)
        est = cluster_bootstrap_mean(
            [cell.values[k] for k in keys],
            [cell.weights[k] for k in keys],
            num_resamples=num_resamples,
            confidence=confidence,
            seed=_seed(seed, model, dim),
        )
        norm = spec.normalize(est.value) if finite(est.value) else float("nan")
        n_lo, n_hi = (
            (spec.normalize(est.ci_low), spec.normalize(est.ci_high))
            if finite(est.ci_low)
            else (float("nan"), float("nan"))
        )
        if finite(norm):
            point_norm[dim] = norm
        rows.append(
            {
                "model": model,
                "dimension": dim,
                "category": spec.category,
                "version": spec.version,
                "aggregate": spec.aggregate,
                "higher_is_better": spec.higher_is_better,
                "mean": est.value,
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
                "normalized": norm,
                "normalized_ci_low": min(n_lo, n_hi),
                "normalized_ci_high": max(n_lo, n_hi),
                "n_videos": cell.n_videos,
                "n_prompts": len(keys),
                "n_errors": cell.n_errors,
                "n_skipped": cell.n_skipped,
                "n_stale": cell.n_stale,
                "n_unweighted": cell.n_unweighted,
            }
        )
    return rows, point_norm


def _category_rows(
    model: str,
    point_norm: Mapping[str, float],
    rep_norm: Mapping[str, np.ndarray],
    set_rows: Sequence[Mapping[str, Any]],
    specs: Mapping[str, DimensionSpec],
    num_resamples: int,
    confidence: float,
) -> list[dict[str, Any]]:
    """One row per category of ``model`` present, in :data:`CATEGORY_ROWS` order.

    Set-level scores enter the categories with their normalised value; their own
    uncertainty is not resampled over prompts, so they are held fixed in the replicates.
    """
    set_norm = {
        r["dimension"]: r["normalized"]
        for r in set_rows
        if r["dimension"] in specs and finite(r["normalized"])
    }
    all_norm = {**point_norm, **set_norm}
    cats = category_scores(all_norm, specs)
    cat_reps: dict[str, Any] = {}
    if rep_norm or set_norm:
        fixed = {d: np.full(num_resamples, v) for d, v in set_norm.items()}
        cat_reps = category_scores({**rep_norm, **fixed}, specs)
    rows = []
    for cat in CATEGORY_ROWS:
        if cat not in cats:
            continue
        members = sorted(
            d
            for d in all_norm
            if specs[d].weight > 0 and (cat == "total" or specs[d].category == cat)
        )
        if all(d in set_norm for d in members):
            lo, hi = _set_category_interval(members, set_rows, model, specs)
        else:
            lo, hi = percentile_interval(cat_reps[cat], confidence=confidence)
        rows.append(
            {
                "model": model,
                "category": cat,
                "score": cats[cat],
                "ci_low": lo,
                "ci_high": hi,
                "n_dimensions": len(members),
                "dimensions": ",".join(members),
            }
        )
    return rows


def _vbench_row(
    model: str,
    point_norm: Mapping[str, float],
    rep_norm: Mapping[str, np.ndarray],
    specs: Mapping[str, DimensionSpec],
    confidence: float,
    random_weights: Iterable[str] = (),
) -> dict[str, Any] | None:
    """VBench's Quality, Semantic and Total of ``model`` with CIs and whether they compare
    with VBench's leaderboard (:func:`vbench_comparability`), or None when it has no VBench
    dimension (see :func:`vbench_totals`)."""
    vb = vbench_totals(point_norm, specs)
    if not (vb["n_expected"] > 0 and vb["n_dimensions"] > 0):
        return None
    vb_reps = vbench_totals(rep_norm, specs) if rep_norm else {}
    row: dict[str, Any] = {"model": model}
    for part in ("quality", "semantic", "total"):
        row[part] = vb[part]
        lo, hi = (
            percentile_interval(np.asarray(vb_reps[part]), confidence=confidence)
            if finite(vb[part])
            else (float("nan"), float("nan"))
        )
        row[f"{part}_ci_low"], row[f"{part}_ci_high"] = lo, hi
    comparable, why = vbench_comparability(specs, point_norm, random_weights)
    row.update(
        n_dimensions=vb["n_dimensions"],
        n_expected=vb["n_expected"],
        complete=vb["complete"],
        comparable=comparable,
        not_comparable_because=why,
    )
    return row


def _model_meta(m: Mapping[str, Any]) -> dict[str, Any]:
    """A model's metadata as reported: sorted lists, samples per prompt, prompt count."""
    return {
        "random_weights": m["random_weights"],
        "weights": sorted(m["weights"]),
        "suite_versions": sorted(m["suite_versions"]),
        "prompt_langs": sorted(m["prompt_langs"]),
        "samples_per_prompt": max((len(s) for s in m["samples"].values()), default=None),
        "n_prompts": len(m["samples"]),
        "n_suite_prompts": sum(1 for key in m["samples"] if key in suite_prompt_ids()),
    }


def _joint_replicates(
    cells: Mapping[str, _Cell],
    specs: Mapping[str, DimensionSpec],
    point_norm: Mapping[str, float],
    num_resamples: int,
    seed: Sequence[int],
) -> dict[str, np.ndarray]:
    """Normalised bootstrap replicates of every dimension, the model's prompts resampled jointly."""
    dims = [d for d in sorted(cells) if d in point_norm]
    keys = sorted({k for d in dims for k in cells[d].values})
    if not keys:
        return {}
    index = {k: i for i, k in enumerate(keys)}
    counts = prompt_counts(len(keys), num_resamples=num_resamples, seed=seed)
    reps: dict[str, np.ndarray] = {}
    for dim in dims:
        sum_wx = np.zeros(len(keys))
        sum_w = np.zeros(len(keys))
        for k, vals in cells[dim].values.items():
            w = np.asarray(cells[dim].weights[k])
            sum_wx[index[k]] = float(np.dot(w, vals))
            sum_w[index[k]] = float(w.sum())
        reps[dim] = specs[dim].normalize(ratio_replicates(counts, sum_wx, sum_w))
    return reps


def _set_category_interval(
    members: Sequence[str],
    set_rows: Sequence[Mapping[str, Any]],
    model: str,
    specs: Mapping[str, DimensionSpec],
) -> tuple[float, float]:
    """CI of a category made only of set-level scores.

    The scorer's own CI, normalised, when the category has exactly one member that reports
    one; otherwise unknown (NaN): set-level scores are not resampled over prompts here.
    """
    nan = (float("nan"), float("nan"))
    if len(members) != 1:
        return nan
    for row in set_rows:
        if row["model"] == model and row["dimension"] == members[0]:
            if finite(row["ci_low"]) and finite(row["ci_high"]):
                spec = specs[members[0]]
                a, b = spec.normalize(row["ci_low"]), spec.normalize(row["ci_high"])
                return (min(a, b), max(a, b))
    return nan


def _set_row(rec: Mapping[str, Any], spec: DimensionSpec | None) -> dict[str, Any]:
    """A set-level record as a display row (score, n videos, reference, CI from details)."""
    details = dict(rec.get("details") or {})
    ci = details.get("ci")
    ci_low = details.get(
        "ci_low", ci[0] if isinstance(ci, (list, tuple)) and len(ci) == 2 else None
    )
    ci_high = details.get(
        "ci_high", ci[1] if isinstance(ci, (list, tuple)) and len(ci) == 2 else None
    )
    score = rec.get("score")
    return {
        "model": str(rec.get("model")),
        "dimension": str(rec.get("dimension")),
        "score": float(score) if finite(score) else float("nan"),
        "higher_is_better": spec.higher_is_better
        if spec
        else bool(details.get("higher_is_better", False)),
        "status": rec.get("status", "ok"),
        "n_videos": details.get("n_videos", details.get("num_videos")),
        "reference": details.get("reference", details.get("reference_id")),
        "ci_low": float(ci_low) if finite(ci_low) else float("nan"),
        "ci_high": float(ci_high) if finite(ci_high) else float("nan"),
        "normalized": spec.normalize(float(score))
        if spec is not None
        and finite(score)
        and rec.get("status", "ok") == "ok"
        and int(rec.get("dimension_version") or 1) == spec.version
        else float("nan"),
        "details": json.dumps(details, sort_keys=True, ensure_ascii=False, default=str),
    }
