"""Language parity: does a model do as well from Chinese prompts as from their English twins?

For a model that generated videos from both versions of the same suite prompts
(``{id}-zh-{i}.mp4`` and ``{id}-en-{i}.mp4``), each dimension's per-prompt mean score is
taken in each language, and the gap zh − en is averaged over the prompts scored in both,
with a paired bootstrap interval that resamples prompts (both languages of a prompt stay
together) and a sign-flip permutation p-value.

Detection- and label-based dimensions read the prompt's language-independent metadata,
so their gap measures the generator alone. Text-similarity dimensions score a Chinese
prompt with a Chinese text model (Chinese-CLIP) and an English one with VBench's model:
their gap also contains the difference between two models' similarity scales, so each row
says which models scored each language (``same_model``) and such gaps should be read as
indicative only.

It is a report over a run's records, not a dimension: no spec, nothing for the runner to
score per video. ``vbench-cn aggregate RUN --language-parity`` renders it
(:mod:`vbench_cn.report`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vbench_cn.scorers import NotApplicable, Score
from vbench_cn.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_NUM_RESAMPLES,
    paired_bootstrap_mean,
    paired_permutation_pvalue,
)

#: Columns of :func:`language_parity`'s table, in order.
COLUMNS: tuple[str, ...] = (
    "model",
    "dimension",
    "n_prompts",
    "zh",
    "en",
    "gap",
    "ci_low",
    "ci_high",
    "p_value",
    "gap_normalized",
    "same_model",
    "zh_scored_by",
    "en_scored_by",
)


def parity_gap(
    differences: Any,
    *,
    num_resamples: int = DEFAULT_NUM_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Score:
    """Mean of per-prompt differences zh − en with its paired bootstrap CI and p-value.

    Args:
        differences: ``(n_prompts,)`` per-prompt ``mean_zh − mean_en``.
        num_resamples: bootstrap replicates (prompts resampled with replacement).
        confidence: two-sided level.
        seed: RNG seed.

    Example:
        >>> parity_gap([0.1, 0.1, 0.1]).value
        0.1
    """
    d = np.asarray(differences, dtype=float).reshape(-1)
    if d.size == 0:
        raise NotApplicable("no prompt was scored in both languages")
    est = paired_bootstrap_mean(d, num_resamples=num_resamples, confidence=confidence, seed=seed)
    return Score(
        round(est.value, 12),
        {
            "n_prompts": int(d.size),
            "ci_low": est.ci_low,
            "ci_high": est.ci_high,
            "p_value": paired_permutation_pvalue(d, seed=seed),
        },
    )


def _scored_by(rec: Mapping[str, Any]) -> str:
    """Which model scored a record: ``details.model``, else the weights name, else ``"none"``."""
    details = rec.get("details") or {}
    if details.get("model"):
        return str(details["model"])
    weights = rec.get("weights")
    if weights and weights != "random":
        return str(weights).split("@", 1)[0]
    return str(weights or "none")


def paired_prompt_means(
    records: Iterable[Mapping[str, Any]],
    *,
    weighted: bool = False,
) -> dict[str, dict[str, float]]:
    """Per prompt id, the mean score in each language (only ``ok`` records with a prompt id).

    Args:
        records: records of one model and one dimension.
        weighted: weigh each video by ``details["weight"]`` (specs with ``aggregate = "weighted"``).

    Returns:
        ``{prompt_id: {"zh": mean, "en": mean}}`` for prompts seen in at least one language.
    """
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for rec in records:
        if rec.get("status") != "ok" or rec.get("score") is None or not rec.get("prompt_id"):
            continue
        lang = rec.get("prompt_lang")
        if lang not in ("zh", "en"):
            continue
        w = float((rec.get("details") or {}).get("weight", 1.0)) if weighted else 1.0
        acc = sums[(str(rec["prompt_id"]), str(lang))]
        acc[0] += w * float(rec["score"])
        acc[1] += w
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for (pid, lang), (num, den) in sums.items():
        if den > 0:
            out[pid][lang] = num / den
    return dict(out)


def language_parity(
    records: Iterable[Mapping[str, Any]],
    specs: Mapping[str, Any],
    *,
    num_resamples: int = DEFAULT_NUM_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> pd.DataFrame:
    """The zh − en gap of every (model, video-level dimension) scored in both languages.

    Args:
        records: records of a run (any models and dimensions; set-level ones are ignored).
        specs: dimension id → :class:`~vbench_cn.specs.DimensionSpec` (aggregate rule,
            normalisation); dimensions without a spec are skipped.
        num_resamples: bootstrap replicates.
        confidence: two-sided level of the interval.
        seed: RNG seed (same input, same output).

    Returns:
        One row per (model, dimension) with at least one prompt scored in both languages;
        columns :data:`COLUMNS`. ``gap`` is the mean over those prompts of
        ``mean_zh(prompt) − mean_en(prompt)``; ``gap_normalized`` divides it by the spec's
        normalisation range; ``same_model`` is False when the two languages were scored by
        different models (text-similarity dimensions), which makes the gap indicative only.

    Example:
        >>> from types import SimpleNamespace as S
        >>> recs = [dict(model="m", dimension="d", prompt_id=f"p{i}", prompt_lang=lang,
        ...              status="ok", score=s, weights="random")
        ...         for i in range(3) for lang, s in (("zh", 0.4), ("en", 0.5))]
        >>> spec = S(level="video", aggregate="mean", normalization=(0.0, 1.0))
        >>> df = language_parity(recs, {"d": spec})
        >>> round(float(df.loc[0, "gap"]), 6), int(df.loc[0, "n_prompts"])
        (-0.1, 3)
    """
    params = {"num_resamples": num_resamples, "confidence": confidence, "seed": seed}
    by_cell: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for rec in records:
        spec = specs.get(rec.get("dimension", ""))
        if (
            spec is None
            or getattr(spec, "level", "video") != "video"
            or rec.get("level", "video") != "video"
        ):
            continue
        by_cell[(str(rec.get("model")), str(rec["dimension"]))].append(rec)
    rows = []
    for (model, dim), recs in sorted(by_cell.items()):
        spec = specs[dim]
        means = paired_prompt_means(recs, weighted=getattr(spec, "aggregate", "mean") == "weighted")
        paired = sorted(pid for pid, m in means.items() if "zh" in m and "en" in m)
        if not paired:
            continue
        zh = np.array([means[p]["zh"] for p in paired])
        en = np.array([means[p]["en"] for p in paired])
        diff = zh - en
        score = parity_gap(diff, **params)
        lo, hi = getattr(spec, "normalization", (0.0, 1.0))
        used = {
            lang: sorted(
                {
                    _scored_by(r)
                    for r in recs
                    if r.get("prompt_lang") == lang
                    and r.get("status") == "ok"
                    and r.get("prompt_id") in paired
                }
            )
            for lang in ("zh", "en")
        }
        rows.append(
            {
                "model": model,
                "dimension": dim,
                "n_prompts": len(paired),
                "zh": float(zh.mean()),
                "en": float(en.mean()),
                "gap": score.value,
                "ci_low": score.details["ci_low"],
                "ci_high": score.details["ci_high"],
                "p_value": score.details["p_value"],
                "gap_normalized": score.value / (hi - lo) if hi > lo else float("nan"),
                "same_model": used["zh"] == used["en"],
                "zh_scored_by": ",".join(used["zh"]),
                "en_scored_by": ",".join(used["en"]),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


@dataclass
class LanguageParityResult:
    """The language-parity report of a run: :func:`language_parity`'s table, to render."""

    table: pd.DataFrame


def language_parity_of_run(
    run_dir: str | Path, *, dimensions_dirs: Iterable[str | Path] = (), **options: Any
) -> pd.DataFrame:
    """:func:`language_parity` of every record in a run directory, with the built-in specs.

    The hook for a CLI command (``vbench-cn aggregate RUN --language-parity``) or the API.

    Args:
        run_dir: a run directory (its ``records/*.jsonl`` shards are read).
        dimensions_dirs: extra spec folders (as ``--dimensions-dir``).
        **options: ``num_resamples``, ``confidence``, ``seed``.
    """
    from vbench_cn.results import read_records
    from vbench_cn.specs import load_specs

    return language_parity(read_records(run_dir), load_specs(dimensions_dirs), **options)
