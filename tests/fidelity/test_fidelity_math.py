"""Fréchet distance and KID on crafted features: closed forms, symmetry, bias, small sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vbench_cn.scorers import NotApplicable, get_scorer
from vbench_cn.scorers.fidelity import (
    ReferenceStats,
    _sym_sqrt,
    _WeightedFrechet,
    frechet_distance,
    frechet_distance_set,
    kernel_inception_distance,
    kid_set,
    mean_and_covariance,
    mmd2_unbiased,
    polynomial_kernel,
    trace_sqrt_product,
)


def ref_stats(
    features: np.ndarray | None = None,
    *,
    mu: np.ndarray | None = None,
    sigma: np.ndarray | None = None,
    keep_features: bool = False,
    count: int | None = None,
) -> ReferenceStats:
    if features is not None:
        mu, sigma = mean_and_covariance(features)
        count = features.shape[0] if count is None else count
    return ReferenceStats(
        name="unit",
        dimension="fvd",
        mu=mu,
        sigma=sigma,
        features=np.asarray(features, np.float32) if keep_features else None,
        count=count if count is not None else 10**6,
        videos=None,
        extractor=None,
        weights_id="random",
        weights_sha256=None,
        sampling="all",
        dimension_version=1,
    )


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


# --------------------------------------------------------------------------- Fréchet distance


def test_isotropic_gaussians_closed_form() -> None:
    d = 8
    # N(0, I) vs N(1, 4I): |mu|^2 = d, traces d + 4d - 2 tr(2I) = d  ->  2d.
    assert frechet_distance(np.zeros(d), np.eye(d), np.ones(d), 4 * np.eye(d)) == pytest.approx(
        2 * d, abs=1e-9
    )


def test_commuting_covariances_closed_form(rng: np.random.Generator) -> None:
    d = 6
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    a, b = rng.uniform(0.2, 3.0, d), rng.uniform(0.2, 3.0, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    expected = float(((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    got = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-9)


def test_non_commuting_2x2_closed_form(rng: np.random.Generator) -> None:
    s1, s2 = random_spd(rng, 2), random_spd(rng, 2)
    m = s1 @ s2
    # For a 2x2 matrix with positive eigenvalues: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)).
    tr_sqrt = math.sqrt(np.trace(m) + 2 * math.sqrt(np.linalg.det(m)))
    expected = np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert frechet_distance(np.zeros(2), s1, np.zeros(2), s2) == pytest.approx(expected, rel=1e-9)


def test_identical_sets_give_zero(rng: np.random.Generator) -> None:
    x = rng.normal(size=(300, 40)) @ rng.normal(size=(40, 40))
    mu, sigma = mean_and_covariance(x)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-6


def test_swapping_sets_gives_the_same_number(rng: np.random.Generator) -> None:
    x, y = rng.normal(size=(200, 30)), rng.normal(0.3, 1.5, size=(250, 30))
    a = frechet_distance(*mean_and_covariance(x), *mean_and_covariance(y))
    b = frechet_distance(*mean_and_covariance(y), *mean_and_covariance(x))
    assert a > 1.0
    assert a == pytest.approx(b, rel=1e-9)


def test_singular_covariances_stay_finite(rng: np.random.Generator) -> None:
    x = rng.normal(size=(5, 20))  # rank 4 covariance in 20 dims
    y = rng.normal(size=(5, 20)) + 1.0
    value = frechet_distance(*mean_and_covariance(x), *mean_and_covariance(y))
    assert math.isfinite(value) and value > 0


def test_sqrtm_and_symmetric_eigen_paths_agree(rng: np.random.Generator) -> None:
    s1, s2 = random_spd(rng, 25), random_spd(rng, 25)
    root = _sym_sqrt(s1)
    eig = np.linalg.eigvalsh(root @ s2 @ root)
    assert trace_sqrt_product(s1, s2) == pytest.approx(np.sqrt(eig).sum(), rel=1e-8)


def test_weighted_fast_path_matches_the_direct_formula(rng: np.random.Generator) -> None:
    x = rng.normal(size=(60, 12))
    ref = rng.normal(0.5, 1.2, size=(80, 12))
    mu_r, sigma_r = mean_and_covariance(ref)
    fast = _WeightedFrechet(x, mu_r, sigma_r)
    assert fast(np.ones(60)) == pytest.approx(
        frechet_distance(*mean_and_covariance(x), mu_r, sigma_r), rel=1e-8
    )
    counts = rng.integers(0, 3, 60).astype(float)  # a bootstrap draw: rows repeated or left out
    rows = np.repeat(np.arange(60), counts.astype(int))
    direct = frechet_distance(*mean_and_covariance(x[rows]), mu_r, sigma_r)
    assert fast(counts) == pytest.approx(direct, rel=1e-8)
    wide = rng.normal(size=(8, 12))  # fewer rows than dimensions: the rows x rows Gram path
    wide_fast = _WeightedFrechet(wide, mu_r, sigma_r)(np.ones(8))
    assert wide_fast == pytest.approx(
        frechet_distance(*mean_and_covariance(wide), mu_r, sigma_r), rel=1e-7
    )


# --------------------------------------------------------------------------- KID


def test_mmd2_unbiased_matches_brute_force(rng: np.random.Generator) -> None:
    x, y = rng.normal(size=(7, 3)), rng.normal(1.0, 1.0, size=(9, 3))

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float((a @ b / 3 + 1) ** 3)

    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(9) for j in range(9) if i != j) / (9 * 8)
    xy = sum(k(x[i], y[j]) for i in range(7) for j in range(9)) / (7 * 9)
    got = mmd2_unbiased(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))
    assert got == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kid_is_unbiased_on_one_distribution() -> None:
    """Same distribution: the unbiased estimate averages to 0, the biased V-statistic does not."""
    rng = np.random.default_rng(1)
    unbiased, biased = [], []
    for _ in range(40):
        x, y = rng.normal(size=(30, 16)), rng.normal(size=(30, 16))
        kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
        unbiased.append(mmd2_unbiased(kxx, kyy, kxy))
        biased.append(kxx.mean() + kyy.mean() - 2 * kxy.mean())
    u = np.asarray(unbiased)
    stderr = u.std(ddof=1) / math.sqrt(u.size)
    assert abs(u.mean()) < 3 * stderr
    assert np.mean(biased) > 10 * stderr  # the bias the unbiased estimator removes


def test_kid_grows_with_a_shift(rng: np.random.Generator) -> None:
    x = rng.normal(size=(200, 16))
    near, _ = kernel_inception_distance(x, rng.normal(size=(200, 16)), subsets=20, subset_size=100)
    far, _ = kernel_inception_distance(
        x, rng.normal(1.0, 1.0, size=(200, 16)), subsets=20, subset_size=100
    )
    assert far > 0.05 and far > 20 * abs(near)


# --------------------------------------------------------------------------- set scorers


def per_video(x: np.ndarray, per: int) -> list[torch.Tensor]:
    return [torch.from_numpy(x[i : i + per]).float() for i in range(0, x.shape[0], per)]


def test_scorers_are_registered() -> None:
    assert get_scorer("fidelity.frechet_distance").context == ("reference",)
    assert get_scorer("fidelity.kid").fn is kid_set


def test_too_small_set_is_refused_not_nan(rng: np.random.Generator) -> None:
    ref = ref_stats(rng.normal(size=(500, 32)))
    small = per_video(rng.normal(size=(12, 32)), 4)  # 12 vectors for a 32x32 covariance
    with pytest.raises(
        NotApplicable, match=r"set too small: 12 feature vectors from 3 videos.*at least 33"
    ):
        frechet_distance_set(small, reference=ref)
    tiny_ref = ref_stats(rng.normal(size=(20, 32)))
    with pytest.raises(NotApplicable, match="reference 'unit' too small: 20"):
        frechet_distance_set(per_video(rng.normal(size=(40, 32)), 4), reference=tiny_ref)
    with pytest.raises(NotApplicable, match="KID needs at least 2"):
        kid_set(
            [torch.ones(1, 32)], reference=ref_stats(rng.normal(size=(50, 32)), keep_features=True)
        )
    with pytest.raises(NotApplicable, match="no reference set"):
        frechet_distance_set(small, reference=None)


def test_frechet_set_score_interval_and_details(rng: np.random.Generator) -> None:
    ref_x = rng.normal(size=(400, 8))
    gen = rng.normal(0.5, 1.0, size=(120, 8))
    score = frechet_distance_set(per_video(gen, 4), reference=ref_stats(ref_x), bootstrap=60)
    direct = frechet_distance(*mean_and_covariance(gen), *mean_and_covariance(ref_x))
    assert score.value == pytest.approx(direct, rel=1e-9)
    d = score.details
    assert (
        d["videos"] == 30
        and d["samples"] == 120
        and d["feature_dim"] == 8
        and d["reference"] == "unit"
    )
    assert d["ci_low"] < score.value < d["ci_high"]
    assert math.isfinite(d["ci_low"]) and d["bootstrap"] == 60
    again = frechet_distance_set(per_video(gen, 4), reference=ref_stats(ref_x), bootstrap=60)
    assert again.details["ci_low"] == d["ci_low"]  # seeded


def test_kid_set_matches_the_pure_function(rng: np.random.Generator) -> None:
    ref_x = rng.normal(size=(150, 8))
    gen = rng.normal(0.4, 1.0, size=(90, 8))
    score = kid_set(
        per_video(gen, 3),
        reference=ref_stats(ref_x, keep_features=True),
        subsets=10,
        subset_size=50,
        bootstrap=50,
    )
    ref_f32 = ref_x.astype(np.float32).astype(np.float64)
    kxx, kyy, kxy = (
        polynomial_kernel(gen, gen),
        polynomial_kernel(ref_f32, ref_f32),
        polynomial_kernel(gen, ref_f32),
    )
    assert score.details["kid_all_pairs"] == pytest.approx(mmd2_unbiased(kxx, kyy, kxy), rel=1e-5)
    assert score.value > 0.0 and score.details["subset_size"] == 50
    assert score.details["ci_low"] <= score.details["kid_all_pairs"] <= score.details["ci_high"]


def test_kid_needs_stored_features(rng: np.random.Generator) -> None:
    with pytest.raises(NotApplicable, match="holds no feature vectors"):
        kid_set(
            per_video(rng.normal(size=(10, 4)), 2), reference=ref_stats(rng.normal(size=(50, 4)))
        )


def test_dimension_mismatch_is_an_error(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="features are 4-d but reference 'unit' is 5-d"):
        frechet_distance_set(
            per_video(rng.normal(size=(10, 4)), 2), reference=ref_stats(rng.normal(size=(50, 5)))
        )


def test_empty_set_is_not_applicable() -> None:
    with pytest.raises(NotApplicable, match="no features"):
        frechet_distance_set(
            [torch.zeros(0)], reference=ref_stats(np.random.default_rng(0).normal(size=(9, 2)))
        )


def test_subset_paths_agree(rng: np.random.Generator) -> None:
    """Large subsets (indicator products) and small ones (gathered blocks) estimate the same."""
    from vbench_cn.scorers.fidelity import _subset_mmds

    x, y = rng.normal(size=(50, 4)), rng.normal(0.2, 1.0, size=(60, 4))
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    got = _subset_mmds(kxx, kyy, kxy, subsets=5, subset_size=40, seed=1)  # large: indicator path
    draw = np.random.default_rng(1)
    expected = []
    for _ in range(5):
        a, b = draw.choice(50, 40, replace=False), draw.choice(60, 40, replace=False)
        expected.append(mmd2_unbiased(kxx[np.ix_(a, a)], kyy[np.ix_(b, b)], kxy[np.ix_(a, b)]))
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    whole = _subset_mmds(
        kxx[:50, :50], kyy[:50, :50], kxy[:, :50], subsets=3, subset_size=1000, seed=0
    )
    np.testing.assert_allclose(whole, mmd2_unbiased(kxx, kyy[:50, :50], kxy[:, :50]))
