"""Cached reference statistics: round trip, refusal on detector / sampling / version, import."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from vbench_cn.reference import (
    ReferenceSetError,
    import_reference,
    list_references,
    load_reference,
    same_detector,
    save_reference,
)
from vbench_cn.scorers.fidelity import mean_and_covariance
from vbench_cn.specs import load_specs
from vbench_cn.video import Sampling

SPECS = load_specs()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VBENCH_CN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def meta_for(
    dim: str, weights_id: str | None = "i3d_kinetics400@0123456789ab", count: int = 500
) -> dict:
    spec = SPECS[dim]
    return {
        "extractor": spec.backbone,
        "weights_id": weights_id,
        "weights_sha256": None,
        "sampling": spec.sampling.key,
        "dimension_version": spec.version,
        "scorer": spec.scorer,
        "count": count,
        "videos": 50,
        "source": "unit test",
    }


def test_round_trip(home: Path, rng: np.random.Generator) -> None:
    x = rng.normal(size=(500, 400))
    mu, sigma = mean_and_covariance(x)
    feats = rng.normal(size=(64, 2048)).astype(np.float32)
    folder = save_reference(
        "k400",
        {
            "fvd": ({"mu": mu, "sigma": sigma}, meta_for("fvd")),
            "kid_frames": (
                {"features": feats},
                meta_for("kid_frames", "inception_v3_fid@aaaaaaaaaaaa", 64),
            ),
        },
    )
    assert folder == home / "references" / "k400"
    ref = load_reference("k400", SPECS["fvd"], weights_id="i3d_kinetics400@0123456789ab")
    np.testing.assert_array_equal(ref.mu, mu)
    np.testing.assert_array_equal(ref.sigma, sigma)
    assert ref.count == 500 and ref.videos == 50 and ref.features is None and ref.sampling == "all"
    kid = load_reference("k400", SPECS["kid_frames"], weights_id="inception_v3_fid@aaaaaaaaaaaa")
    np.testing.assert_array_equal(kid.features, feats)
    listed = list_references()
    assert [r["name"] for r in listed] == ["k400"]
    assert listed[0]["dimensions"]["fvd"]["feature_dim"] == 400
    with pytest.raises(ReferenceSetError, match="already exists"):
        save_reference("k400", {"fvd": ({"mu": mu, "sigma": sigma}, meta_for("fvd"))})


def test_refused_on_detector_mismatch(home: Path, rng: np.random.Generator) -> None:
    mu, sigma = mean_and_covariance(rng.normal(size=(50, 4)))
    save_reference("real", {"fvd": ({"mu": mu, "sigma": sigma}, meta_for("fvd"))})
    with pytest.raises(
        ReferenceSetError,
        match=r"built with detector i3d_kinetics400@0123456789ab, this run uses random",
    ):
        load_reference("real", SPECS["fvd"], weights_id="random")
    with pytest.raises(ReferenceSetError, match="this run uses i3d_kinetics400@ffffffffffff"):
        load_reference("real", SPECS["fvd"], weights_id="i3d_kinetics400@ffffffffffff")
    save_reference("rand", {"fvd": ({"mu": mu, "sigma": sigma}, meta_for("fvd", "random"))})
    with pytest.raises(ReferenceSetError, match="built with detector random"):
        load_reference("rand", SPECS["fvd"], weights_id="i3d_kinetics400@0123456789ab")
    assert load_reference("rand", SPECS["fvd"], weights_id="random").weights_id == "random"


def test_same_detector_rules() -> None:
    assert same_detector("random", "random")
    assert same_detector(
        "inception_v3_fid", "inception_v3_fid@0123456789ab"
    )  # imported: digest unknown
    assert not same_detector("inception_v3_fid", "random")
    assert not same_detector("inception_v3_fid", "i3d_kinetics400@0123456789ab")
    assert not same_detector("a@1", "a@2")
    assert not same_detector(None, "random") and same_detector(None, "a@1")


def test_refused_on_sampling_version_or_missing_dimension(
    home: Path, rng: np.random.Generator
) -> None:
    mu, sigma = mean_and_covariance(rng.normal(size=(50, 4)))
    save_reference("r", {"fvd": ({"mu": mu, "sigma": sigma}, meta_for("fvd"))})
    other_sampling = dataclasses.replace(SPECS["fvd"], sampling=Sampling("fps", 8.0))
    with pytest.raises(
        ReferenceSetError, match="built with sampling all, the spec now samples fps=8"
    ):
        load_reference("r", other_sampling, weights_id="i3d_kinetics400@0123456789ab")
    newer = dataclasses.replace(SPECS["fvd"], version=2)
    with pytest.raises(ReferenceSetError, match="version 1 of the dimension, this is version 2"):
        load_reference("r", newer, weights_id="i3d_kinetics400@0123456789ab")
    with pytest.raises(ReferenceSetError, match=r"no statistics for fid_frames \(it has: fvd\)"):
        load_reference("r", SPECS["fid_frames"], weights_id="inception_v3_fid@0123456789ab")
    with pytest.raises(ReferenceSetError, match="unknown reference 'x'"):
        load_reference("x", SPECS["fvd"])


def test_changed_file_is_refused(home: Path, rng: np.random.Generator) -> None:
    mu, sigma = mean_and_covariance(rng.normal(size=(50, 4)))
    folder = save_reference("r", {"fvd": ({"mu": mu, "sigma": sigma}, meta_for("fvd"))})
    np.savez(folder / "fvd.npz", mu=mu + 1, sigma=sigma)
    with pytest.raises(ReferenceSetError, match="sha256 differs"):
        load_reference("r", SPECS["fvd"], weights_id="i3d_kinetics400@0123456789ab")


def test_invalid_names_are_refused(home: Path) -> None:
    for bad in ("../up", "a/b", "", ".hidden"):
        with pytest.raises(ReferenceSetError, match="invalid reference name"):
            save_reference(bad, {})


def test_import_published_stats(home: Path, tmp_path: Path, rng: np.random.Generator) -> None:
    mu, sigma = mean_and_covariance(rng.normal(size=(3000, 16)))
    src = tmp_path / "fid_stats_x.npz"
    np.savez(src, mu=mu, sigma=sigma)
    import_reference(src, "pub", dimension="fid_frames")
    meta = json.loads((home / "references" / "pub" / "meta.json").read_text())
    entry = meta["dimensions"]["fid_frames"]
    assert entry["weights_id"] == "inception_v3_fid" and entry["count"] is None
    assert entry["source"].startswith("imported from fid_stats_x.npz")
    ref = load_reference("pub", SPECS["fid_frames"], weights_id="inception_v3_fid@0123456789ab")
    np.testing.assert_allclose(ref.mu, mu)
    assert ref.count is None
    with pytest.raises(
        ReferenceSetError, match="built with detector inception_v3_fid, this run uses random"
    ):
        load_reference("pub", SPECS["fid_frames"], weights_id="random")
    with pytest.raises(ReferenceSetError, match="needs feature vectors"):
        import_reference(src, "pub_kid", dimension="kid_frames")
    np.savez(tmp_path / "bad.npz", mu=mu, sigma=sigma[:3])
    with pytest.raises(ReferenceSetError, match=r"sigma \(3, 16\) does not fit mu \(16,\)"):
        import_reference(tmp_path / "bad.npz", "bad", dimension="fid_frames")
    with pytest.raises(ReferenceSetError, match="unknown dimension 'fid_frame'"):
        import_reference(src, "typo", dimension="fid_frame")


def test_npz_path_is_usable_directly(tmp_path: Path, rng: np.random.Generator) -> None:
    mu, sigma = mean_and_covariance(rng.normal(size=(40, 4)))
    src = tmp_path / "stats.npz"
    np.savez(src, mu=mu, sigma=sigma)
    ref = load_reference(str(src), SPECS["fvd"], weights_id="i3d_kinetics400@0123456789ab")
    np.testing.assert_allclose(ref.sigma, sigma)
    with pytest.raises(
        ReferenceSetError, match="unknown detector cannot be compared with random-weight"
    ):
        load_reference(str(src), SPECS["fvd"], weights_id="random")
