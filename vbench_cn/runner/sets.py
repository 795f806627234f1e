"""The set-level pass: per-video features saved during the run, scored once after it
(rank 0, after every rank is done) into one record per (model, dimension).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from vbench_cn import __version__
from vbench_cn.features import FeatureExtractor
from vbench_cn.inputs import changes, digest, file_changed
from vbench_cn.manifest import VideoItem
from vbench_cn.preflight import Expectations
from vbench_cn.reference import load_reference_for
from vbench_cn.results import (
    Record,
    RecordWriter,
    make_record,
    shard_path,
)
from vbench_cn.run_lock import run_lock
from vbench_cn.runner.batching import Group
from vbench_cn.runner.options import RunOptions
from vbench_cn.scorers import NotApplicable, get_scorer
from vbench_cn.specs import DimensionSpec
from vbench_cn.video import VideoInfo

log = logging.getLogger(__name__)


class SetLevelPass:
    """The :class:`~vbench_cn.runner.core.Runner`'s set-level methods: saving each video's
    features during the run, and :meth:`score_sets`, the pass after it."""

    options: RunOptions
    expect: Expectations
    rescored: Counter[str]
    _extractors: dict[str, FeatureExtractor]

    def _set_feature_path(self, spec: DimensionSpec, item: VideoItem) -> Path:
        digest = hashlib.sha1(f"{item.model}/{item.rel_path}".encode()).hexdigest()[:16]
        return (
            set_feature_folder(self.options.out_dir, spec.id, item.model) / f"{digest}.safetensors"
        )

    def _set_features_valid(self, spec: DimensionSpec, item: VideoItem) -> bool:
        """Whether this video's saved features for a set-level dimension still hold.

        They carry the video file's identity, the weights and the spec they came from; a
        regenerated video or other weights mean extracting them again.
        """
        path = self._set_feature_path(spec, item)
        if not path.is_file():
            return False
        meta = _feature_metadata(path)
        try:
            source = json.loads(meta.get("source") or "null")
        except ValueError:
            return False
        return (
            file_changed(source, item.path) is None
            and meta.get("weights") == str(self.expect.weights(spec.backbone))
            and meta.get("spec") == spec.sha256
        )

    def _save_set_features(
        self,
        group: Group,
        item: VideoItem,
        info: VideoInfo | None,
        feats: Any = None,
        source: dict[str, Any] | None = None,
    ) -> None:
        from safetensors.torch import save_file

        if feats is None:
            feats = group.extractor.finalize(group.stacked_outputs(), info=info)
        for spec in group.specs:
            if spec.level != "set" or not isinstance(feats, torch.Tensor) or feats.numel() == 0:
                continue
            path = self._set_feature_path(spec, item)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            meta = {
                "source": json.dumps(source, sort_keys=True),
                "weights": str(group.extractor.weights_id),
                "spec": spec.sha256,
            }
            save_file({"features": feats.contiguous().float()}, str(tmp), metadata=meta)
            os.replace(tmp, path)

    def _score_sets(
        self, specs: Sequence[DimensionSpec], items: Sequence[VideoItem], writer: RecordWriter
    ) -> list[Record]:
        from safetensors.torch import load_file

        records: list[Record] = []
        models = sorted({it.model for it in items})
        for spec in specs:
            entry = get_scorer(spec.scorer)
            for model in models:
                folder = set_feature_folder(self.options.out_dir, spec.id, model)
                files = sorted(folder.glob("*.safetensors"))
                expected = self.expect.expected(spec, None, spec.backbone)
                expected["inputs"]["reference"] = self.options.reference
                expected["inputs"]["videos"] = digest(
                    [[p.name, _feature_metadata(p).get("source")] for p in files]
                )
                key = (model, None, spec.id, spec.version)
                stored = writer.records.get(key)
                if key in writer and stored is not None:
                    reasons = changes(stored, expected)
                    if not reasons:
                        continue
                    self.rescored[reasons[0]] += 1
                feats = [load_file(str(p))["features"] for p in files]
                ext = self._extractors.get(spec.backbone or "")
                base = dict(
                    model=model,
                    video=None,
                    prompt_id=None,
                    prompt_lang=None,
                    sample=None,
                    dimension=spec.id,
                    dimension_version=spec.version,
                    spec_sha256=spec.sha256,
                    level="set",
                    weights=ext.weights_id if ext else expected["weights"],
                    random_weights=self.options.random_weights,
                    probe=None,
                    inputs=expected["inputs"],
                    suite_version=__version__,
                )
                t0 = time.perf_counter()
                try:
                    kwargs: dict[str, Any] = dict(spec.params)
                    if "reference" in entry.context:
                        # The run's detector id, so that statistics of other weights are refused.
                        run_weights = base["weights"] or (
                            "random" if self.options.random_weights else None
                        )
                        kwargs["reference"] = load_reference_for(
                            spec, self.options.reference, weights_id=run_weights
                        )
                    score = entry.fn(feats, **kwargs)
                    rec = make_record(
                        **base,
                        score=float(score.value),
                        details=dict(score.details),
                        seconds=time.perf_counter() - t0,
                    )
                except NotApplicable as exc:
                    rec = make_record(**base, status="skipped", error=str(exc))
                except Exception as exc:
                    rec = make_record(
                        **base,
                        status="error",
                        error=f"{spec.scorer}: {type(exc).__name__}: {exc}"[:300],
                    )
                writer.write(rec)
                records.append(rec)
        return records

    def score_sets(self, items: Sequence[VideoItem]) -> list[Record]:
        """The set-level pass after the run: score set-level dimensions on every rank's saved
        features (rank 0, after a barrier; ``items``: all of the run's videos)."""
        set_specs = [s for s in self.specs if s.level == "set"]
        if not set_specs:
            return []
        with (
            run_lock(self.options.out_dir, self.options.rank),
            RecordWriter(shard_path(self.options.out_dir, self.options.rank)) as writer,
        ):
            return self._score_sets(set_specs, items, writer)


def _feature_metadata(path: Path) -> dict[str, str]:
    """The metadata a saved feature file carries (empty when unreadable or absent)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as fh:
            return dict(fh.metadata() or {})
    except Exception:  # a torn or foreign file: treated as absent, extracted again
        return {}


def set_feature_folder(out_dir: str | Path, dimension: str, model: str) -> Path:
    """Where a run keeps one model's per-video features of a set-level dimension."""
    return Path(out_dir) / "features" / dimension / _safe(model)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "_"
