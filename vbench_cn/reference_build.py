"""Build a reference set from real videos: the evaluation's extractors, then statistics.

The videos go through the runner exactly as in ``evaluate`` (same decoding, sampling,
preprocessing and batching), as one model called ``reference``; the per-video features it
saves are reduced to what each fidelity scorer reads and written with
:func:`vbench_cn.reference.save_reference`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import load_file

from vbench_cn.features import FeatureExtractor
from vbench_cn.manifest import discover
from vbench_cn.reference import (
    SCORER_NEEDS,
    ReferenceSetError,
    reference_dir,
    references_home,
    save_reference,
)
from vbench_cn.runner import Runner, RunOptions, probe_all
from vbench_cn.runner.sets import set_feature_folder
from vbench_cn.scorers.fidelity import mean_and_covariance
from vbench_cn.specs import DimensionSpec, load_specs, select_specs
from vbench_cn.weights import WeightsError, file_sha256, locate

#: Feature vectors kept for KID (a seeded random sample beyond that; 4096 x 2048 float32 = 32 MiB).
DEFAULT_MAX_FEATURES = 4096

#: The model name the reference videos are run under (their features' folder in the run).
REFERENCE_MODEL = "reference"


def feature_sample(features: np.ndarray, max_rows: int, seed: int = 0) -> np.ndarray:
    """At most ``max_rows`` rows of ``features`` (seeded random choice, original order kept)."""
    if features.shape[0] <= max_rows:
        return features
    keep = np.sort(np.random.default_rng(seed).choice(features.shape[0], max_rows, replace=False))
    return features[keep]


def stats_from_features(
    features: np.ndarray, *, needs: str, max_features: int = DEFAULT_MAX_FEATURES, seed: int = 0
) -> dict[str, np.ndarray]:
    """Arrays to store for one dimension: ``mu``/``sigma`` (moments) or ``features`` (KID)."""
    x = np.asarray(features, dtype=np.float64)
    if needs == "features":
        return {"features": feature_sample(x, max_features, seed).astype(np.float32)}
    mu, sigma = mean_and_covariance(x)
    return {"mu": mu, "sigma": sigma}


def fidelity_specs(
    names: Iterable[str] | None = None, extra_dirs: Iterable[str | os.PathLike[str]] = ()
) -> list[DimensionSpec]:
    """Set-level specs to build statistics for (default: every set-level dimension)."""
    specs = select_specs(
        load_specs([Path(d) for d in extra_dirs]), list(names) if names else ["fidelity"]
    )
    bad = [s.id for s in specs if s.level != "set" or s.scorer not in SCORER_NEEDS]
    if bad:
        raise ReferenceSetError(f"not set-level fidelity dimensions: {', '.join(bad)}")
    return specs


def build_reference(
    videos: Sequence[str | os.PathLike[str]],
    name: str,
    *,
    dimensions: Iterable[str] | None = None,
    random_weights: bool = False,
    device: str = "auto",
    weights_dir: str | None = None,
    weights_overrides: Mapping[str, str] | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    max_features: int = DEFAULT_MAX_FEATURES,
    overwrite: bool = False,
    progress: bool = False,
    description: str = "",
) -> Path:
    """Extract features of real ``videos`` with the run's extractors and cache their statistics.

    The videos go through :class:`vbench_cn.runner.Runner` exactly as in ``evaluate`` (same
    decoding, sampling, preprocessing and batching), as one model called ``reference``;
    the per-video features it saves are then reduced to statistics.

    Returns:
        The reference folder.
    """
    reference_dir(name)  # validate the name before any work
    if (references_home() / name).exists() and not overwrite:
        raise ReferenceSetError(
            f"reference {name!r} already exists at {references_home() / name}; "
            "pass --overwrite to replace it"
        )
    specs = fidelity_specs(dimensions)
    items = discover([Path(v) for v in videos], model=REFERENCE_MODEL)
    if not items:
        raise ReferenceSetError(f"no video files found in {', '.join(map(str, videos))}")
    own_tmp = work_dir is None
    out = Path(tempfile.mkdtemp(prefix="vbench-cn-reference-")) if own_tmp else Path(work_dir)  # type: ignore[arg-type]
    try:
        options = RunOptions(
            out_dir=out,
            device=device,
            random_weights=random_weights,
            weights_dir=weights_dir,
            weights_overrides=dict(weights_overrides or {}),
            progress=progress,
        )
        probes, errors = probe_all(items)
        runner = Runner(specs, options)
        for backbone in dict.fromkeys(s.backbone for s in specs if s.backbone):
            try:  # build the detectors first: a missing checkpoint is one line, not an empty set
                runner.extractor(backbone)
            except (WeightsError, ImportError, OSError, RuntimeError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ReferenceSetError(f"{backbone}: {first}") from None
        runner.run(items, probes=probes)
        dims: dict[str, tuple[dict[str, np.ndarray], dict[str, Any]]] = {}
        for spec in specs:
            folder = set_feature_folder(out, spec.id, REFERENCE_MODEL)
            per_video = [
                load_file(str(p))["features"].numpy() for p in sorted(folder.glob("*.safetensors"))
            ]
            per_video = [
                f.reshape(f.shape[0], -1) if f.ndim > 1 else f[None] for f in per_video if f.size
            ]
            if not per_video:
                raise ReferenceSetError(
                    f"{spec.id}: no features from any of the {len(items)} videos "
                    f"({len(errors)} unreadable; the others too short for the sampling?)"
                )
            x = np.concatenate(per_video)
            if x.shape[0] < 2:
                raise ReferenceSetError(
                    f"{spec.id}: only {x.shape[0]} feature vector; need at least 2"
                )
            ext = runner.extractor(spec.backbone) if spec.backbone else None  # built above
            weights_id = (
                ext.weights_id if ext is not None else ("random" if random_weights else None)
            )
            sha = None
            if weights_id and weights_id != "random" and ext is not None:
                sha = _full_sha(ext)
            arrays = stats_from_features(
                x, needs=SCORER_NEEDS[spec.scorer], max_features=max_features
            )
            meta = {
                "extractor": spec.backbone,
                "weights_id": weights_id,
                "weights_sha256": sha,
                "weights": list(ext.weights) if ext is not None else [],
                "sampling": spec.sampling.key,
                "dimension_version": spec.version,
                "scorer": spec.scorer,
                "count": int(x.shape[0]),
                "videos": len(per_video),
                "random_weights": random_weights,
                "source": f"built from {len(per_video)} videos ({x.shape[0]} feature vectors)",
            }
            dims[spec.id] = (arrays, meta)
        return save_reference(name, dims, description=description, overwrite=overwrite)
    finally:
        if own_tmp:
            shutil.rmtree(out, ignore_errors=True)


def _full_sha(ext: FeatureExtractor) -> str | None:
    """Full sha256 of the detector file an extractor loaded (from the weights sha cache)."""
    for wname in ext.weights:
        try:
            path = locate(wname, ext.options)
        except WeightsError:  # an override that vanished: the short id in weights_id remains
            return None
        if path is not None:
            return file_sha256(path)
    return None
