"""Compare two runs (e.g. two checkpoints) dimension by dimension, on the prompts both share.

Per dimension: the difference of per-prompt means (B − A) averaged over shared prompts, a
paired 95 % bootstrap CI over prompts, a paired sign-flip permutation p-value, and the Holm
correction across dimensions (the family is every dimension compared). The verdict uses
the Holm-adjusted p-value and the spec's ``higher_is_better``. Pairing by prompt removes
prompt difficulty from the comparison, which is why it detects smaller changes than two
separate intervals would.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from vbench_cn._text import did_you_mean
from vbench_cn.aggregation import prompt_key
from vbench_cn.specs import DimensionSpec
from vbench_cn.stats import (
    finite,
    holm,
    paired_bootstrap_mean,
    paired_permutation_pvalue,
    smallest_pvalue,
)

Verdict = Literal[
    "better", "worse", "no detectable difference", "too few prompts to test", "not comparable"
]

COMPARE_COLUMNS = [
    "dimension",
    "higher_is_better",
    "n_prompts",
    "mean_a",
    "mean_b",
    "difference",
    "ci_low",
    "ci_high",
    "p_value",
    "p_holm",
    "verdict",
    "only_a",
    "only_b",
]


@dataclass
class CompareResult:
    """Outcome of :func:`compare`.

    Attributes:
        table: one row per dimension, columns ``COMPARE_COLUMNS``; ``difference`` is B − A.
        model_a, model_b: the model names found in each run.
        alpha: family-wise error level used for the verdicts.
        warnings: human-readable notes (mismatched prompt sets, models, versions).
    """

    table: pd.DataFrame
    model_a: str
    model_b: str
    alpha: float
    warnings: list[str]


def _pick_model(records: Sequence[Mapping[str, Any]], model: str | None, label: str) -> str:
    """The one model of a run to compare: ``model`` if given, else the run's only model."""
    models = sorted({str(r.get("model")) for r in records})
    if model is not None:
        if model not in models:
            raise ValueError(f"run {label} has no model {model!r}{did_you_mean(model, models)}")
        return model
    if len(models) != 1:
        raise ValueError(
            f"run {label} holds {len(models)} models ({', '.join(models)}); choose one"
        )
    return models[0]


def per_prompt_means(
    records: Iterable[Mapping[str, Any]],
    specs: Mapping[str, DimensionSpec],
    *,
    model: str | None = None,
) -> dict[str, dict[str, float]]:
    """Per dimension, the (weighted) mean score of each prompt, from ok video-level records.

    Args:
        records: records of one run.
        specs: dimension specs (version, level, aggregate rule).
        model: keep only this model's records (None: all).

    Returns:
        ``{dimension: {prompt_key: mean}}``; the key is
        :func:`vbench_cn.aggregation.prompt_key`, so the same prompt matches across runs.
    """
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for rec in records:
        if model is not None and str(rec.get("model")) != model:
            continue
        spec = specs.get(str(rec.get("dimension")))
        if spec is None or spec.level != "video" or (rec.get("level") or "video") != "video":
            continue
        if int(rec.get("dimension_version") or 1) != spec.version:
            continue
        score = rec.get("score")
        if rec.get("status", "ok") != "ok" or not finite(score):
            continue
        w = (rec.get("details") or {}).get("weight") if spec.aggregate == "weighted" else 1.0
        w = float(w) if finite(w) and w > 0 else 1.0
        acc = sums[spec.id][prompt_key(rec)]
        acc[0] += w * float(score)
        acc[1] += w
    return {d: {k: s / w for k, (s, w) in p.items()} for d, p in sums.items()}


def _prompts_needed(alpha: float) -> int:
    """The fewest prompts whose smallest reachable p-value is below ``alpha``."""
    n = 2
    while smallest_pvalue(n) >= alpha:
        n += 1
    return n


def _verdict(diff: float, p_holm: float, alpha: float, higher_is_better: bool) -> Verdict:
    if not (finite(diff) and finite(p_holm)):
        return "not comparable"
    if p_holm >= alpha or diff == 0:
        return "no detectable difference"
    improved = diff > 0 if higher_is_better else diff < 0
    return "better" if improved else "worse"


def compare(
    records_a: Iterable[Mapping[str, Any]],
    records_b: Iterable[Mapping[str, Any]],
    specs: Mapping[str, DimensionSpec],
    *,
    model_a: str | None = None,
    model_b: str | None = None,
    alpha: float = 0.05,
    num_resamples: int = 2000,
    num_permutations: int = 9999,
    seed: int = 0,
) -> CompareResult:
    """Paired comparison of run B against run A on their shared prompts.

    Args:
        records_a: records of the baseline run (one model).
        records_b: records of the candidate run (one model).
        specs: dimension specs (direction, aggregate rule, version).
        model_a: which model of run A (needed only when it holds several).
        model_b: which model of run B (needed only when it holds several).
        alpha: family-wise error level for the Holm-corrected verdicts.
        num_resamples: bootstrap replicates for the CI of the difference.
        num_permutations: sign-flip patterns for the p-value (exact when ``2**n`` is fewer).
        seed: base seed; each dimension derives its own.

    Returns:
        A :class:`CompareResult`; ``verdict`` says whether B is better/worse than A.

    Raises:
        ValueError: a run holds several models and none was chosen, or the chosen one is absent.
    """
    records_a, records_b = list(records_a), list(records_b)
    name_a = _pick_model(records_a, model_a, "A")
    name_b = _pick_model(records_b, model_b, "B")
    means_a = per_prompt_means(records_a, specs, model=name_a)
    means_b = per_prompt_means(records_b, specs, model=name_b)
    warnings: list[str] = []
    rows: list[dict[str, Any]] = []
    for dim in sorted(set(means_a) | set(means_b)):
        pa, pb = means_a.get(dim, {}), means_b.get(dim, {})
        shared = sorted(set(pa) & set(pb))
        only_a, only_b = len(set(pa) - set(pb)), len(set(pb) - set(pa))
        if only_a or only_b:
            warnings.append(
                f"{dim}: prompt sets differ ({only_a} only in A, {only_b} only in B); "
                f"compared on the {len(shared)} shared prompts"
            )
        diffs = [pb[k] - pa[k] for k in shared]
        dim_seed = [seed, zlib.crc32(dim.encode("utf-8"))]
        est = paired_bootstrap_mean(diffs, num_resamples=num_resamples, seed=dim_seed)
        p = (
            paired_permutation_pvalue(diffs, num_resamples=num_permutations, seed=dim_seed[1])
            if shared
            else float("nan")
        )
        rows.append(
            {
                "dimension": dim,
                "higher_is_better": specs[dim].higher_is_better,
                "n_prompts": len(shared),
                "mean_a": sum(pa[k] for k in shared) / len(shared) if shared else float("nan"),
                "mean_b": sum(pb[k] for k in shared) / len(shared) if shared else float("nan"),
                "difference": est.value,
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
                "p_value": p,
                "only_a": only_a,
                "only_b": only_b,
            }
        )
    adjusted = holm([r["p_value"] for r in rows])
    for row, p_adj in zip(rows, adjusted, strict=True):
        row["p_holm"] = p_adj
        row["verdict"] = _verdict(row["difference"], p_adj, alpha, row["higher_is_better"])
        reachable = smallest_pvalue(row["n_prompts"], num_resamples=num_permutations)
        if row["n_prompts"] and row["verdict"] == "no detectable difference" and reachable >= alpha:
            row["verdict"] = "too few prompts to test"
            excludes_zero = row["ci_low"] > 0 or row["ci_high"] < 0
            warnings.append(
                f"{row['dimension']}: with {row['n_prompts']} shared prompts the smallest p-value "
                f"the paired test can reach is {reachable:.3g}, not below alpha {alpha}"
                + (", although the 95 % CI excludes 0" if excludes_zero else "")
                + f"; compare on {_prompts_needed(alpha)} or more prompts"
            )
    return CompareResult(
        table=pd.DataFrame(rows, columns=COMPARE_COLUMNS),
        model_a=name_a,
        model_b=name_b,
        alpha=alpha,
        warnings=warnings,
    )
