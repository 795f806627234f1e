"""Set-level fidelity to real video: Fréchet distance (FVD, cd-FVD, FID) and KID.

Both compare one model's set of feature vectors (I3D logits of 16-frame clips, VideoMAE-v2
embeddings, Inception pool features of frames) with cached statistics of a real reference
set (:class:`ReferenceStats`, read from disk by :mod:`vbench_cn.reference`). Lower is better.

* Fréchet distance (Heusel et al., NeurIPS 2017; Unterthiner et al., arXiv:1812.01717 for
  video): ``||mu_g - mu_r||^2 + tr(S_g + S_r - 2 (S_g S_r)^{1/2})`` in float64, the square
  root by ``scipy.linalg.sqrtm`` as pytorch-fid does.
* KID (Bińkowski et al., "Demystifying MMD GANs", ICLR 2018): the unbiased estimate of the
  squared MMD with the cubic polynomial kernel ``k(x, y) = (x·y / d + 1)^3``, averaged over
  random subsets.

Confidence intervals come from a bootstrap over videos (each video's clips or frames stay
together), recorded as ``details["ci_low"]`` / ``details["ci_high"]``. A set too small for a
full-rank covariance is refused (:class:`NotApplicable`) rather than scored: a
rank-deficient covariance makes the Fréchet distance depend on the set size more than on
the model, and it is never NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vbench_cn.scorers import NotApplicable, Score, scorer

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class ReferenceStats:
    """One dimension's statistics of a reference set.

    Attributes:
        name: reference name (or the ``.npz`` path it was read from).
        dimension: dimension id the statistics were made for.
        mu: ``(D,)`` mean, float64 (None when only features are stored).
        sigma: ``(D, D)`` covariance (``ddof=1``), float64.
        features: ``(n, D)`` float32 sample of feature vectors (KID), or None.
        count: feature vectors behind ``mu``/``sigma`` (clips or frames); None when an
            imported file does not say.
        videos: reference videos, when known.
        extractor: feature extractor name (``i3d_fvd``...).
        weights_id: ``"name@sha256[:12]"``, ``"random"``, or a bare weights name for
            imported statistics; None when unknown.
        weights_sha256: full digest of the detector file, when known.
        sampling: the spec's sampling key (``all``, ``frames=16``...).
        dimension_version: spec version the statistics were made with.
        source: how the statistics were made (``built from 100 videos``, ``imported from X``).
    """

    name: str
    dimension: str
    mu: np.ndarray | None
    sigma: np.ndarray | None
    features: np.ndarray | None
    count: int | None
    videos: int | None
    extractor: str | None
    weights_id: str | None
    weights_sha256: str | None
    sampling: str | None
    dimension_version: int | None
    source: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def describe(self) -> dict[str, Any]:
        """What a score's details say about its reference."""
        return {
            "reference": self.name,
            "reference_samples": self.count,
            "reference_videos": self.videos,
            "reference_weights": self.weights_id,
        }


# --------------------------------------------------------------------------- pure functions


def mean_and_covariance(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` (``ddof=1``, as pytorch-fid) in float64.

    StyleGAN-V and cd-fvd divide by ``n`` instead of ``n - 1``; for the >= 2048 samples FVD
    is meant for the two differ by < 0.05 %.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors of shape (n, D), got {x.shape}")
    mu = x.mean(axis=0)
    xc = x - mu
    return mu, (xc.T @ xc) / (x.shape[0] - 1)


def _sym_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix through its eigendecomposition (negatives clipped)."""
    w, v = np.linalg.eigh((sigma + sigma.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, *, eps: float = 1e-6) -> float:
    """``tr((sigma1 sigma2)^{1/2})`` for covariance matrices, float64.

    ``scipy.linalg.sqrtm`` of the product first. When it fails (non-finite entries, as for
    singular products) the product is recomputed with ``eps·I`` added to both matrices
    (pytorch-fid's remedy). A complex result whose imaginary diagonal is not negligible (a
    symptom of rounding on a nearly singular product) falls back to the symmetric form
    ``tr((S1^{1/2} S2 S1^{1/2})^{1/2})``, which has the same eigenvalues and is computed
    with ``eigh`` (real, non-negative by construction).
    """
    from scipy import linalg

    s1 = np.asarray(sigma1, dtype=np.float64)
    s2 = np.asarray(sigma2, dtype=np.float64)
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        scale = max(1.0, float(np.abs(np.diagonal(covmean)).max()))
        if np.abs(np.diagonal(covmean).imag).max() > 1e-3 * scale or not np.isfinite(covmean).all():
            root = _sym_sqrt(s1)
            w = np.linalg.eigvalsh(root @ s2 @ root)
            return float(np.sqrt(np.clip(w, 0.0, None)).sum())
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, *, eps: float = 1e-6
) -> float:
    """Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``, float64, never NaN.

    ``d^2 = ||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^{1/2})``
    (Dowson & Landau 1982; Heusel et al. 2017). Rounding below zero is returned as 0.

    Example:
        >>> import numpy as np
        >>> round(frechet_distance(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2)), 6)
        4.0
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    s1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    s2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}"
        )
    diff = mu1 - mu2
    value = float(
        diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2, eps=eps)
    )
    if not np.isfinite(value):
        raise FloatingPointError("Fréchet distance is not finite (features overflow?)")
    return max(value, 0.0)


def polynomial_kernel(
    x: np.ndarray, y: np.ndarray, *, degree: int = 3, coef0: float = 1.0, gamma: float | None = None
) -> np.ndarray:
    """``(gamma · x y^T + coef0)^degree`` with ``gamma = 1 / D`` by default (KID's kernel)."""
    g = 1.0 / x.shape[1] if gamma is None else gamma
    return (g * (np.asarray(x, np.float64) @ np.asarray(y, np.float64).T) + coef0) ** degree


def mmd2_unbiased(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """Unbiased squared MMD from kernel matrices (Gretton et al., JMLR 2012, Lemma 6).

    ``sum_{i!=j} k(x_i,x_j) / (m(m-1)) + sum_{i!=j} k(y_i,y_j) / (n(n-1)) - 2 mean k(x_i,y_j)``.
    """
    m, n = k_xx.shape[0], k_yy.shape[0]
    if m < 2 or n < 2:
        raise ValueError("the unbiased MMD needs at least 2 samples per set")
    t_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    t_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(t_xx + t_yy - 2.0 * k_xy.mean())


def kernel_inception_distance(
    x: np.ndarray,
    y: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    seed: int = 0,
) -> tuple[float, float]:
    """KID between feature sets ``x (m, D)`` and ``y (n, D)``: mean and std over random subsets.

    Each subset draws ``min(subset_size, m, n)`` rows of each set without replacement
    (Bińkowski et al. 2018, Sec. 4; the torch-fidelity / clean-fid defaults are 100 subsets
    of 1000).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    k_xx = polynomial_kernel(x, x, degree=degree)
    k_yy = polynomial_kernel(y, y, degree=degree)
    k_xy = polynomial_kernel(x, y, degree=degree)
    values = _subset_mmds(k_xx, k_yy, k_xy, subsets=subsets, subset_size=subset_size, seed=seed)
    return float(values.mean()), float(values.std())


def _subset_mmds(
    k_xx: np.ndarray,
    k_yy: np.ndarray,
    k_xy: np.ndarray,
    *,
    subsets: int,
    subset_size: int,
    seed: int,
) -> np.ndarray:
    """Unbiased MMD^2 of ``subsets`` random subsets drawn from precomputed kernel matrices.

    Block sums are gathered for small subsets and computed as ``u^T K u`` with 0/1 indicator
    vectors for large ones (a matrix-vector product beats fancy indexing there). When the
    subsets are the whole of both sets every draw gives the same number, computed once.
    """
    m, n = k_xx.shape[0], k_yy.shape[0]
    s = min(subset_size, m, n)
    if s < 2:
        raise ValueError("KID needs at least 2 samples per set")
    if s == m == n:
        return np.full(max(1, subsets), mmd2_unbiased(k_xx, k_yy, k_xy))
    rng = np.random.default_rng(seed)
    diag_x, diag_y = np.diagonal(k_xx), np.diagonal(k_yy)
    out = np.empty(max(1, subsets))
    for i in range(out.size):
        a = rng.choice(m, s, replace=False)
        b = rng.choice(n, s, replace=False)
        if 4 * s * s < min(m, n) ** 2:
            out[i] = mmd2_unbiased(k_xx[np.ix_(a, a)], k_yy[np.ix_(b, b)], k_xy[np.ix_(a, b)])
            continue
        u, v = np.zeros(m), np.zeros(n)
        u[a], v[b] = 1.0, 1.0
        t_xx = (u @ k_xx @ u - diag_x[a].sum()) / (s * (s - 1))
        t_yy = (v @ k_yy @ v - diag_y[b].sum()) / (s * (s - 1))
        out[i] = t_xx + t_yy - 2.0 * (u @ k_xy @ v) / (s * s)
    return out


# --------------------------------------------------------------------------- bootstrap helpers


def _stack(features: Sequence[Any]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per-video tensors → ``(all rows, row indices of each video)``; empty videos dropped."""
    arrays = []
    for f in features:
        a = f.detach().cpu().numpy() if hasattr(f, "detach") else np.asarray(f)
        a = np.asarray(a, dtype=np.float64)
        if a.ndim == 1:
            a = a[None]
        if a.size:
            arrays.append(a.reshape(a.shape[0], -1))
    if not arrays:
        raise NotApplicable("no features: every video of the set failed or was too short")
    dims = {a.shape[1] for a in arrays}
    if len(dims) != 1:
        raise ValueError(f"videos have features of different sizes {sorted(dims)}")
    rows, start = [], 0
    for a in arrays:
        rows.append(np.arange(start, start + a.shape[0]))
        start += a.shape[0]
    return np.concatenate(arrays), rows


def _video_counts(rows: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """Row multiplicities of one bootstrap resample of the videos (with replacement)."""
    picks = rng.integers(0, len(rows), len(rows))
    video_counts = np.bincount(picks, minlength=len(rows))
    counts = np.zeros(n)
    for v, c in enumerate(video_counts):
        if c:
            counts[rows[v]] = c
    return counts


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


class _WeightedFrechet:
    """Fréchet distance of a re-weighted sample to fixed reference moments, fast.

    With ``R = sigma_r^{1/2}`` precomputed, ``tr((S_g sigma_r)^{1/2})`` equals the sum of
    square roots of the eigenvalues of ``R S_g R``, whose non-zero eigenvalues are those of
    ``W W^T`` with ``W`` the weighted, centred rows of ``X R``: one ``eigvalsh`` of size
    ``min(rows, D)`` per bootstrap replicate instead of a general ``sqrtm``.
    """

    def __init__(self, x: np.ndarray, mu_r: np.ndarray, sigma_r: np.ndarray) -> None:
        self.x = x
        self.mu_r = mu_r
        self.tr_r = float(np.trace(sigma_r))
        self.z = x @ _sym_sqrt(sigma_r)

    def __call__(self, counts: np.ndarray) -> float:
        keep = counts > 0
        c, x, z = counts[keep], self.x[keep], self.z[keep]
        n = c.sum()
        mu = c @ x / n
        mz = c @ z / n
        xc = (x - mu) * np.sqrt(c)[:, None]
        wz = (z - mz) * np.sqrt(c)[:, None]
        gram = wz @ wz.T if wz.shape[0] <= wz.shape[1] else wz.T @ wz
        eig = np.linalg.eigvalsh(gram / (n - 1))
        tr_g = float((xc * xc).sum() / (n - 1))
        diff = mu - self.mu_r
        return max(
            float(diff @ diff + tr_g + self.tr_r - 2.0 * np.sqrt(np.clip(eig, 0, None)).sum()), 0.0
        )


def _check_reference(reference: ReferenceStats | None, kind: str) -> ReferenceStats:
    if reference is None:
        raise NotApplicable("no reference set given (use --reference NAME)")
    if kind == "moments" and (reference.mu is None or reference.sigma is None):
        raise NotApplicable(
            f"reference {reference.name!r} holds no mean/covariance for {reference.dimension}"
        )
    if kind == "features" and reference.features is None:
        raise NotApplicable(
            f"reference {reference.name!r} holds no feature vectors for {reference.dimension} "
            "(imported mean/covariance only; KID needs samples)"
        )
    return reference


# --------------------------------------------------------------------------- scorers


@scorer("fidelity.frechet_distance")
def frechet_distance_set(
    features: Sequence[torch.Tensor],
    *,
    reference: ReferenceStats | None = None,
    bootstrap: int = 100,
    confidence: float = 0.95,
    min_samples: int | None = None,
    seed: int = 0,
) -> Score:
    """Fréchet distance of one model's feature set to a reference set (FVD, cd-FVD, FID).

    Args:
        features: one ``(items, D)`` tensor per video (clips or frames).
        reference: cached real-video statistics for this dimension.
        bootstrap: resamples of the videos for the confidence interval (0: none).
        confidence: coverage of the percentile interval.
        min_samples: fewest feature vectors accepted; default ``D + 1`` (full-rank covariance).
        seed: seed of the bootstrap.
    """
    ref = _check_reference(reference, "moments")
    x, rows = _stack(features)
    n, d = x.shape
    if ref.mu.shape[0] != d:  # type: ignore[union-attr]
        raise ValueError(f"features are {d}-d but reference {ref.name!r} is {ref.mu.shape[0]}-d")  # type: ignore[union-attr]
    need = d + 1 if min_samples is None else max(2, int(min_samples))
    if n < need:
        raise NotApplicable(
            f"set too small: {n} feature vectors from {len(rows)} videos; a full-rank "
            f"{d}x{d} covariance needs at least {need}"
        )
    if ref.count is not None and ref.count < need:
        raise NotApplicable(
            f"reference {ref.name!r} too small: {ref.count} feature vectors; a full-rank "
            f"{d}x{d} covariance needs at least {need}"
        )
    mu, sigma = mean_and_covariance(x)
    value = frechet_distance(mu, sigma, ref.mu, ref.sigma)  # type: ignore[arg-type]
    details: dict[str, Any] = {
        "videos": len(rows),
        "samples": n,
        "feature_dim": d,
        **ref.describe(),
        "mean_term": float(((mu - ref.mu) ** 2).sum()),  # type: ignore[operator]
    }
    if bootstrap > 0 and len(rows) >= 2:
        rng = np.random.default_rng(seed)
        fd = _WeightedFrechet(x, ref.mu, ref.sigma)  # type: ignore[arg-type]
        reps = np.array([fd(_video_counts(rows, n, rng)) for _ in range(bootstrap)])
        details["ci_low"], details["ci_high"] = _percentiles(reps, confidence)
        details.update(bootstrap=bootstrap, confidence=confidence)
    return Score(value, details)


@scorer("fidelity.kid")
def kid_set(
    features: Sequence[torch.Tensor],
    *,
    reference: ReferenceStats | None = None,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    bootstrap: int = 200,
    confidence: float = 0.95,
    max_rows: int = 10000,
    seed: int = 0,
) -> Score:
    """Kernel Inception Distance of one model's feature set to a reference set's stored features.

    Args:
        features: one ``(items, D)`` tensor per video.
        reference: real-video features for this dimension (a capped random sample).
        subsets: random subsets averaged (Bińkowski et al. 2018).
        subset_size: rows per subset (capped by the smaller set).
        degree: degree of the polynomial kernel.
        bootstrap: resamples of the videos for the interval of the all-pairs unbiased
            estimate (0: none). A video drawn twice counts as two videos.
        confidence: coverage of the percentile interval.
        max_rows: generated rows kept for the kernel matrices (a seeded random subset
            beyond that bounds memory at ``max_rows^2`` doubles).
        seed: seed of subsets and bootstrap.
    """
    ref = _check_reference(reference, "features")
    x, rows = _stack(features)
    y = np.asarray(ref.features, dtype=np.float64)
    n, d = x.shape
    if y.shape[1] != d:
        raise ValueError(f"features are {d}-d but reference {ref.name!r} is {y.shape[1]}-d")
    if n < 2 or y.shape[0] < 2:
        raise NotApplicable(
            "set too small: KID needs at least 2 feature vectors per set "
            f"(got {n} and {y.shape[0]})"
        )
    rng = np.random.default_rng(seed)
    if n > max_rows:
        keep = np.sort(rng.choice(n, max_rows, replace=False))
        where = np.full(n, -1)
        where[keep] = np.arange(keep.size)
        rows = [where[r][where[r] >= 0] for r in rows]
        rows = [r for r in rows if r.size]
        x, n = x[keep], keep.size
    k_xx = polynomial_kernel(x, x, degree=degree)
    k_yy = polynomial_kernel(y, y, degree=degree)
    k_xy = polynomial_kernel(x, y, degree=degree)
    values = _subset_mmds(k_xx, k_yy, k_xy, subsets=subsets, subset_size=subset_size, seed=seed)
    m = y.shape[0]
    t_yy = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    xy_rows = k_xy.mean(axis=1)
    diag_xx = np.diagonal(k_xx).copy()

    def full(counts: np.ndarray) -> float:
        total = counts.sum()
        pairs = (
            counts @ k_xx @ counts - counts @ diag_xx
        )  # every ordered pair of distinct positions
        return float(pairs / (total * (total - 1)) + t_yy - 2.0 * (counts @ xy_rows) / total)

    details: dict[str, Any] = {
        "videos": len(rows),
        "samples": n,
        "feature_dim": d,
        **ref.describe(),
        "kid_std": float(values.std()),
        "subsets": int(values.size),
        "subset_size": int(min(subset_size, n, m)),
        "kid_all_pairs": full(np.ones(n)),
    }
    if bootstrap > 0 and len(rows) >= 2:
        reps = []
        for _ in range(bootstrap):
            counts = _video_counts(rows, n, rng)
            if counts.sum() >= 2:
                reps.append(full(counts))
        details["ci_low"], details["ci_high"] = _percentiles(np.asarray(reps), confidence)
        details.update(bootstrap=bootstrap, confidence=confidence)
    return Score(float(values.mean()), details)
