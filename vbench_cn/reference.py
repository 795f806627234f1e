"""Reference sets for fidelity dimensions: cached statistics of real videos, on disk.

``vbench-cn reference build REAL_VIDEOS --name NAME`` runs the same extractors and sampling
as ``evaluate`` on real videos (:mod:`vbench_cn.reference_build`) and stores, per fidelity
dimension, what its scorer needs: mean and covariance (Fréchet distances) or a capped random
sample of feature vectors (KID). Published statistics (an ``.npz`` with ``mu`` and
``sigma``) can be imported. This module writes, reads and checks them; the runner reads
them through :func:`load_reference_for`.

Layout under ``$VBENCH_CN_HOME/references/NAME/`` (home: ``$VBENCH_CN_HOME`` or
``~/.cache/vbench_cn``)::

    meta.json          name, creation time, suite version, and per dimension: extractor,
                       detector weights id and sha256, sampling, spec version, counts, file
    <dimension>.npz    mu (D,), sigma (D, D) float64, and/or features (n, D) float32

A reference is used only with the detector and sampling it was made with: statistics of
other weights (random vs real, another checkpoint) or another frame sampling are refused
with one line naming both, since the distance between them would measure the mismatch.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vbench_cn import __version__
from vbench_cn.scorers import NotApplicable
from vbench_cn.scorers.fidelity import ReferenceStats

if TYPE_CHECKING:
    from vbench_cn.specs import DimensionSpec

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
META_FILE = "meta.json"
#: What each set-level scorer reads from a reference: moments (mean/covariance) or features.
SCORER_NEEDS: dict[str, str] = {"fidelity.frechet_distance": "moments", "fidelity.kid": "features"}


class ReferenceSetError(ValueError):
    """A reference set is missing, malformed or does not fit the run (message: one line)."""


# --------------------------------------------------------------------------- locations


def references_home() -> Path:
    """``<home>/references`` with home = ``$VBENCH_CN_HOME`` or ``~/.cache/vbench_cn``."""
    env = os.environ.get("VBENCH_CN_HOME")
    home = Path(env).expanduser() if env else Path.home() / ".cache" / "vbench_cn"
    return home / "references"


def reference_dir(name: str) -> Path:
    """Folder of reference ``name``; the name must be a simple file name."""
    if not _NAME_RE.match(name):
        raise ReferenceSetError(
            f"invalid reference name {name!r}: use letters, digits, '.', '_' or '-' (max 64)"
        )
    return references_home() / name


def list_references() -> list[dict[str, Any]]:
    """Every cached reference's ``meta.json`` plus ``path``, sorted by name; broken ones flagged."""
    root = references_home()
    out: list[dict[str, Any]] = []
    if not root.is_dir():
        return out
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            out.append(
                {
                    "name": folder.name,
                    "path": str(folder),
                    "error": f"unreadable {META_FILE}: {exc}",
                }
            )
            continue
        meta["path"] = str(folder)
        out.append(meta)
    return out


# --------------------------------------------------------------------------- writing


def save_reference(
    name: str,
    dims: Mapping[str, tuple[Mapping[str, np.ndarray], Mapping[str, Any]]],
    *,
    description: str = "",
    overwrite: bool = False,
) -> Path:
    """Write reference ``name``: per dimension its arrays and its metadata.

    Args:
        name: reference name (folder under :func:`references_home`).
        dims: ``{dimension: (arrays, meta)}``; ``arrays`` has ``mu``/``sigma`` and/or
            ``features``; ``meta`` has extractor, weights_id, weights_sha256, sampling,
            dimension_version, count, videos, source.
        description: free text kept in ``meta.json``.
        overwrite: replace an existing reference of that name.
    """
    folder = reference_dir(name)
    if folder.exists() and not (folder / META_FILE).is_file():
        raise ReferenceSetError(
            f"{folder}: exists and holds no vbench-cn reference ({META_FILE}); not replaced, "
            "move it or choose another name"
        )
    if folder.exists() and not overwrite:
        raise ReferenceSetError(
            f"reference {name!r} already exists at {folder}; pass --overwrite to replace it"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
    try:
        meta: dict[str, Any] = {
            "name": name,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "suite_version": __version__,
            "description": description,
            "dimensions": {},
        }
        for dim, (arrays, dim_meta) in sorted(dims.items()):
            file = f"{dim}.npz"
            payload: dict[str, Any] = {k: np.asarray(v) for k, v in arrays.items()}
            np.savez(tmp / file, **payload)
            entry = dict(dim_meta)
            entry.update(
                file=file,
                arrays=sorted(arrays),
                feature_dim=int(next(iter(arrays.values())).shape[-1]),
                sha256=_sha256(tmp / file),
            )
            meta["dimensions"][dim] = entry
        (tmp / META_FILE).write_text(
            json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8"
        )
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- loading and checks


def same_detector(stored: str | None, current: str | None) -> bool:
    """Whether features of detector ``current`` may be compared with statistics of ``stored``.

    Equal ids match. A bare weights name (imported statistics: the published detector, digest
    unknown) matches any file of that entry (``name@...``). ``random`` matches only ``random``.
    Unknown (None) on either side matches only a non-random other side.
    """
    if stored == current:
        return True
    if stored is None or current is None:
        return (stored or current) != "random"
    if "@" not in stored and stored != "random":
        return current.split("@", 1)[0] == stored
    return False


def load_reference(
    name: str, spec: DimensionSpec, *, weights_id: str | None = None
) -> ReferenceStats:
    """Statistics of reference ``name`` for ``spec``, refused when they do not fit the run.

    Args:
        name: a cached reference name, or the path of an ``.npz`` with ``mu``/``sigma``
            (and/or ``features``) used as is (detector unchecked unless the run is random).
        spec: the dimension being scored.
        weights_id: the run's detector id (``"random"`` under ``--random-weights``).

    Raises:
        ReferenceSetError: unknown name, missing files, or detector / sampling / extractor /
            version mismatch (one line naming both sides).
    """
    if name.endswith(".npz") and Path(name).is_file():
        arrays = _read_npz(Path(name))
        ref = _stats(name, spec.id, arrays, {"source": f"file {name}"})
        if weights_id == "random":
            raise ReferenceSetError(
                f"{name}: statistics of unknown detector cannot be compared with random-weight "
                "features; build a reference with --random-weights"
            )
        return ref
    folder = reference_dir(name)
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        known = [m["name"] for m in list_references()]
        from vbench_cn._text import did_you_mean

        raise ReferenceSetError(
            f"unknown reference {name!r} (no {meta_path}){did_you_mean(name, known)}; "
            "create it with `vbench-cn reference build` or `reference import`"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ReferenceSetError(f"{meta_path}: invalid JSON ({exc})") from None
    entry = meta.get("dimensions", {}).get(spec.id)
    if entry is None:
        have = ", ".join(sorted(meta.get("dimensions", {}))) or "none"
        raise ReferenceSetError(
            f"reference {name!r} has no statistics for {spec.id} (it has: {have})"
        )
    if not same_detector(entry.get("weights_id"), weights_id):
        raise ReferenceSetError(
            f"reference {name!r} ({spec.id}) was built with detector {entry.get('weights_id')}, "
            f"this run uses {weights_id}; rebuild it with the same weights"
        )
    if entry.get("sampling") is not None and entry["sampling"] != spec.sampling.key:
        raise ReferenceSetError(
            f"reference {name!r} ({spec.id}) was built with sampling {entry['sampling']}, "
            f"the spec now samples {spec.sampling.key}; rebuild it"
        )
    if (
        entry.get("extractor") is not None
        and spec.backbone is not None
        and entry["extractor"] != spec.backbone
    ):
        raise ReferenceSetError(
            f"reference {name!r} ({spec.id}) holds {entry['extractor']} features, "
            f"the spec uses {spec.backbone}; rebuild it"
        )
    if entry.get("dimension_version") is not None and entry["dimension_version"] != spec.version:
        raise ReferenceSetError(
            f"reference {name!r} ({spec.id}) was built for version {entry['dimension_version']} "
            f"of the dimension, this is version {spec.version}; rebuild it"
        )
    path = folder / entry.get("file", f"{spec.id}.npz")
    if entry.get("sha256") and _sha256(path) != entry["sha256"]:
        raise ReferenceSetError(
            f"{path}: sha256 differs from {meta_path} (file changed or corrupt); rebuild it"
        )
    return _stats(name, spec.id, _read_npz(path), entry)


def load_reference_for(
    spec: DimensionSpec, name: str | None, *, weights_id: str | None = None
) -> ReferenceStats:
    """Reference statistics for a set-level dimension (``--reference NAME``).

    ``weights_id`` is the run's detector (``"random"`` under ``--random-weights``); a
    reference built with other weights is refused by :func:`load_reference`.
    """
    if not name:
        raise NotApplicable("no reference set given (use --reference NAME)")
    return load_reference(name, spec, weights_id=weights_id)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError) as exc:
        raise ReferenceSetError(f"{path}: cannot read ({exc})") from None


def _stats(
    name: str, dim: str, arrays: Mapping[str, np.ndarray], entry: Mapping[str, Any]
) -> ReferenceStats:
    mu = arrays.get("mu", arrays.get("mean"))
    sigma = arrays.get("sigma", arrays.get("cov"))
    feats = arrays.get("features")
    if (mu is None) != (sigma is None):
        raise ReferenceSetError(
            f"reference {name!r} ({dim}): needs both mu and sigma, found {sorted(arrays)}"
        )
    if mu is None and feats is None:
        raise ReferenceSetError(
            f"reference {name!r} ({dim}): holds neither mu/sigma nor features ({sorted(arrays)})"
        )
    if mu is not None:
        mu = np.asarray(mu, np.float64).reshape(-1)
        sigma = np.asarray(sigma, np.float64)
        if sigma.shape != (mu.size, mu.size):
            raise ReferenceSetError(
                f"reference {name!r} ({dim}): sigma {sigma.shape} does not fit mu {mu.shape}"
            )
        if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
            raise ReferenceSetError(f"reference {name!r} ({dim}): mu/sigma hold NaN or inf")
    count = entry.get("count")
    if count is None and "count" in arrays:
        count = int(arrays["count"])
    if count is None and feats is not None:
        count = int(feats.shape[0])
    return ReferenceStats(
        name=name,
        dimension=dim,
        mu=mu,
        sigma=sigma,
        features=None if feats is None else np.asarray(feats, np.float32),
        count=None if count is None else int(count),
        videos=entry.get("videos"),
        extractor=entry.get("extractor"),
        weights_id=entry.get("weights_id"),
        weights_sha256=entry.get("weights_sha256"),
        sampling=entry.get("sampling"),
        dimension_version=entry.get("dimension_version"),
        source=str(entry.get("source", "")),
        meta=dict(entry),
    )


# --------------------------------------------------------------------------- published statistics


def import_reference(
    path: str | os.PathLike[str],
    name: str,
    *,
    dimension: str,
    weights_id: str | None = None,
    count: int | None = None,
    overwrite: bool = False,
    description: str = "",
) -> Path:
    """Cache published statistics as reference ``name``.

    The file is an ``.npz`` with ``mu`` and ``sigma``, or ``features``.

    Args:
        path: the ``.npz`` file (pytorch-fid / cd-fvd style keys ``mu``/``sigma``, or
            ``mean``/``cov``).
        name: reference name.
        dimension: the dimension they are statistics of (``fid_frames``, ``fvd``...).
        weights_id: detector they were computed with; default the dimension's registered
            weights name (the published detector, digest unknown).
        count: number of feature vectors behind them, if known (else ``count`` in the file,
            else unknown; the full-rank check then trusts the file).
    """
    from vbench_cn.specs import load_specs

    src = Path(path)
    specs = load_specs()
    if dimension not in specs:
        from vbench_cn._text import did_you_mean

        raise ReferenceSetError(f"unknown dimension {dimension!r}{did_you_mean(dimension, specs)}")
    spec = specs[dimension]
    if spec.scorer not in SCORER_NEEDS:
        raise ReferenceSetError(f"{dimension} is not a set-level fidelity dimension")
    if not src.is_file():
        raise ReferenceSetError(f"{src}: file not found")
    arrays = _read_npz(src)
    stats = _stats(str(src), dimension, arrays, {})
    keep: dict[str, np.ndarray] = {}
    if stats.mu is not None:
        keep.update(mu=stats.mu, sigma=stats.sigma)  # type: ignore[arg-type]
    if stats.features is not None:
        keep["features"] = stats.features
    if SCORER_NEEDS[spec.scorer] == "features" and "features" not in keep:
        raise ReferenceSetError(
            f"{src}: {dimension} needs feature vectors ('features'), the file has {sorted(arrays)}"
        )
    if weights_id is None:
        weights_id = _default_weights_name(spec)
    n = (
        count
        if count is not None
        else (
            int(arrays["count"])
            if "count" in arrays
            else (stats.features.shape[0] if stats.features is not None else None)
        )
    )
    meta = {
        "extractor": spec.backbone,
        "weights_id": weights_id,
        "weights_sha256": None,
        "sampling": spec.sampling.key,
        "dimension_version": spec.version,
        "scorer": spec.scorer,
        "count": n,
        "videos": None,
        "source": f"imported from {src.name} (sha256 {_sha256(src)[:12]})",
    }
    return save_reference(
        name, {dimension: (keep, meta)}, description=description, overwrite=overwrite
    )


def _default_weights_name(spec: DimensionSpec) -> str | None:
    """The registered weights entry of the spec's extractor (the detector published stats use)."""
    from vbench_cn.features import EXTRACTORS

    if spec.backbone is None:
        return None
    cls = EXTRACTORS.get(spec.backbone)
    names = tuple(getattr(cls, "weights", ()) or ())
    return names[0] if names else None
