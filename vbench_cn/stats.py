"""Resampling statistics for the leaderboard: cluster bootstrap, paired tests, Holm.

Pure functions on numpy arrays, no I/O. The unit of resampling is the **prompt**: the
samples of one prompt share the prompt's difficulty, so resampling videos one by one
would treat correlated samples as independent and give intervals that are too narrow.
Every function takes an explicit ``seed`` so the same input always gives the same output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats

#: Bootstrap replicates used unless the caller asks for another number.
DEFAULT_NUM_RESAMPLES = 2000
#: Two-sided level of every interval (95 %).
DEFAULT_CONFIDENCE = 0.95


def finite(x: Any) -> bool:
    """Whether ``x`` is a finite real number (an int or float, not a bool, None or NaN).

    Example:
        >>> [finite(v) for v in (1, 0.5, float("nan"), True, None, "1")]
        [True, True, False, False, False, False]
    """
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def prompt_counts(
    num_prompts: int, *, num_resamples: int = DEFAULT_NUM_RESAMPLES, seed: int | Sequence[int] = 0
) -> np.ndarray:
    """How many times each prompt is drawn in each bootstrap replicate.

    Drawing ``num_prompts`` prompts with replacement gives multinomial counts, which
    lets every statistic that is a ratio of per-prompt sums be computed for all
    replicates with one matrix product.

    Args:
        num_prompts: number of clusters (prompts), ``>= 1``.
        num_resamples: number of bootstrap replicates ``B``.
        seed: seed of numpy's ``default_rng`` (an int or a sequence of ints).

    Returns:
        ``(B, num_prompts)`` counts (whole numbers stored as float64, so products with
        them use BLAS); each row sums to ``num_prompts``.

    Example:
        >>> prompt_counts(3, num_resamples=4, seed=1).sum(axis=1).tolist()
        [3.0, 3.0, 3.0, 3.0]
    """
    if num_prompts < 1:
        raise ValueError(f"num_prompts must be >= 1, got {num_prompts}")
    rng = np.random.default_rng(seed)
    # Uniform draws + one bincount: ~25x faster than ``rng.multinomial`` for a few hundred
    # prompts, and the same distribution.
    draws = rng.integers(0, num_prompts, size=(num_resamples, num_prompts), dtype=np.int64)
    draws += np.arange(num_resamples, dtype=np.int64)[:, None] * num_prompts
    counts = np.bincount(draws.ravel(), minlength=num_resamples * num_prompts)
    return counts.reshape(num_resamples, num_prompts).astype(np.float64)  # float: BLAS matmul


def ratio_replicates(counts: np.ndarray, sum_wx: np.ndarray, sum_w: np.ndarray) -> np.ndarray:
    """Bootstrap replicates of ``Σ w·x / Σ w`` given per-prompt sums.

    Args:
        counts: ``(B, P)`` draws from :func:`prompt_counts`.
        sum_wx: ``(P,)`` per-prompt sum of weight × score (zero for a prompt not scored).
        sum_w: ``(P,)`` per-prompt sum of weights (the number of videos for a plain mean).

    Returns:
        ``(B,)`` replicate means; NaN where a replicate drew no scored prompt.
    """
    num = counts @ sum_wx
    den = counts @ sum_w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def percentile_interval(
    replicates: np.ndarray, *, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float]:
    """Percentile bootstrap interval, ignoring NaN replicates; (nan, nan) if none is finite."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return (float(lo), float(hi))


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its two-sided confidence interval."""

    value: float
    ci_low: float
    ci_high: float


def cluster_bootstrap_mean(
    groups: Sequence[Sequence[float]],
    weights: Sequence[Sequence[float]] | None = None,
    *,
    num_resamples: int = DEFAULT_NUM_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int | Sequence[int] = 0,
) -> Estimate:
    """(Weighted) mean of all values and its cluster-bootstrap CI, resampling whole groups.

    Args:
        groups: one sequence of scores per prompt (all samples of that prompt).
        weights: same shape as ``groups``; per-video weights (frames or pairs). ``None``
            weighs every video 1, i.e. the plain mean over videos.
        num_resamples: bootstrap replicates.
        confidence: two-sided level.
        seed: RNG seed.

    Example:
        >>> est = cluster_bootstrap_mean([[1.0, 1.0], [3.0]], seed=0)
        >>> round(est.value, 4)
        1.6667
    """
    if len(groups) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    if weights is None:
        weights = [[1.0] * len(g) for g in groups]
    sum_wx = np.array(
        [float(np.dot(w, g)) for g, w in zip(groups, weights, strict=True)], dtype=float
    )
    sum_w = np.array([float(np.sum(w)) for w in weights], dtype=float)
    total_w = sum_w.sum()
    value = float(sum_wx.sum() / total_w) if total_w > 0 else float("nan")
    counts = prompt_counts(len(groups), num_resamples=num_resamples, seed=seed)
    lo, hi = percentile_interval(ratio_replicates(counts, sum_wx, sum_w), confidence=confidence)
    return Estimate(value, lo, hi)


def paired_bootstrap_mean(
    differences: Sequence[float],
    *,
    num_resamples: int = DEFAULT_NUM_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int | Sequence[int] = 0,
) -> Estimate:
    """Mean of per-prompt differences with a bootstrap CI over prompts.

    Args:
        differences: ``mean_B(prompt) - mean_A(prompt)`` for each shared prompt.
        num_resamples: bootstrap replicates.
        confidence: two-sided level.
        seed: RNG seed.
    """
    d = np.asarray(differences, dtype=float)
    if d.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    counts = prompt_counts(d.size, num_resamples=num_resamples, seed=seed)
    lo, hi = percentile_interval(
        ratio_replicates(counts, d, np.ones_like(d)), confidence=confidence
    )
    return Estimate(float(d.mean()), lo, hi)


def paired_permutation_pvalue(
    differences: Sequence[float], *, num_resamples: int = 9999, seed: int = 0
) -> float:
    """Two-sided p-value of "mean difference = 0" by random sign flips of the differences.

    Under the null hypothesis that both runs come from the same model, each prompt's
    difference is as likely to be positive as negative; ``scipy.stats.permutation_test``
    with one sample and ``permutation_type="samples"`` flips the signs (exactly, over all
    ``2**n`` patterns, when that is fewer than ``num_resamples``).

    Args:
        differences: per-prompt differences ``B - A``.
        num_resamples: sign-flip patterns drawn when the exact test is too large.
        seed: RNG seed.

    Returns:
        The p-value in ``(0, 1]``; 1.0 when fewer than two prompts or all differences are 0.
    """
    d = np.asarray(differences, dtype=float)
    if d.size < 2 or not np.any(d != 0):
        return 1.0
    result = scipy.stats.permutation_test(
        (d,),
        lambda x, axis: np.mean(x, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=num_resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return float(min(1.0, result.pvalue))


def smallest_pvalue(num_prompts: int, *, num_resamples: int = 9999) -> float:
    """The smallest p-value :func:`paired_permutation_pvalue` can return for ``num_prompts``.

    Exact over ``2**n`` sign patterns, the most extreme pattern and its mirror give
    ``2 / 2**n``: with 4 prompts no difference, however large, reaches 0.05.

    Example:
        >>> smallest_pvalue(4), smallest_pvalue(6)
        (0.125, 0.03125)
    """
    if num_prompts < 2:
        return 1.0
    return max(2.0 ** (1 - num_prompts), 1.0 / (num_resamples + 1))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1).

    Holm (1979), "A simple sequentially rejective multiple test procedure": sort the m
    p-values, multiply the k-th smallest by ``m - k`` (k from 0), keep the running maximum.
    NaN entries are left NaN and do not count in ``m``.

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return [round(float(x), 12) if np.isfinite(x) else float("nan") for x in out]
