"""Import of VBench's result files into vbench-cn records.

:func:`import_eval_results` converts VBench's ``{name}_eval_results.json`` (dimension →
``[aggregate, [{"video_path", "video_results"}, ...]]``) into our records, so a VBench run
gets prompt-bootstrap intervals, comparisons and the site. VBench's constants
(normalisation, weights) live in each dimension's spec (``dimensions/<id>.toml``).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vbench_cn import __version__
from vbench_cn.results import Record, make_record, shard_path, write_run_info_file
from vbench_cn.specs import DimensionSpec

#: VBench reports imaging quality per video as a 0–100 MOS and divides only the aggregate by 100.
_PERCENT_PER_VIDEO = {"imaging_quality"}
_SAMPLE_RE = re.compile(r"^(?P<prompt>.*)-(?P<sample>\d+)$")


class VBenchImportError(ValueError):
    """A VBench result file cannot be read; the message names the file and the cause."""


def _resolve_dimension(key: str, specs: Mapping[str, DimensionSpec]) -> str:
    """Our dimension id for a VBench result key (same id, or a spec whose vbench_name matches)."""
    if key in specs:
        return key
    for spec in specs.values():
        if spec.vbench_name and re.sub(r"\W+", "_", spec.vbench_name.strip().lower()) == key:
            return spec.id
    return key


def _video_score(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def parse_eval_results(
    path: str | os.PathLike[str], *, model: str, specs: Mapping[str, DimensionSpec]
) -> tuple[list[Record], dict[str, float]]:
    """Records from a VBench ``*_eval_results.json``, plus VBench's own aggregates.

    Each per-video entry becomes one record: the prompt is the file name without
    ``-{i}.mp4`` and is used as the prompt id (so the samples of a prompt stay together),
    ``i`` is the sample. Imaging quality per-video values are divided by 100, as VBench
    divides its aggregate. Booleans (dynamic degree) become 0/1. A value that is not a
    number becomes an ``error`` record with the cause.

    Raises:
        VBenchImportError: unreadable file or unexpected structure (one line naming both).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VBenchImportError(f"{path}: cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VBenchImportError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise VBenchImportError(
            f"{path}: expected an object mapping dimension -> [aggregate, [per-video results]]"
        )
    records: list[Record] = []
    aggregates: dict[str, float] = {}
    for key in sorted(data):
        entry = data[key]
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list)):
            raise VBenchImportError(f"{path}: {key}: expected [aggregate, [per-video results]]")
        dim = _resolve_dimension(key, specs)
        spec = specs.get(dim)
        agg = _video_score(entry[0])
        if agg is not None:
            aggregates[dim] = agg
        for i, item in enumerate(entry[1]):
            if (
                not isinstance(item, dict)
                or "video_path" not in item
                or "video_results" not in item
            ):
                raise VBenchImportError(
                    f"{path}: {key}[1][{i}]: expected an object with video_path and video_results"
                )
            video = str(item["video_path"])
            stem = Path(video.replace("\\", "/")).stem
            match = _SAMPLE_RE.match(stem)
            prompt, sample = (match["prompt"], int(match["sample"])) if match else (stem, 0)
            score = _video_score(item["video_results"])
            fields: dict[str, Any] = dict(
                model=model,
                video=video,
                prompt_id=prompt,
                prompt_lang="en",
                sample=sample,
                dimension=dim,
                dimension_version=spec.version if spec else 1,
                spec_sha256=spec.sha256 if spec else None,
                level="video",
                details={"source": "vbench eval_results"},
                weights=None,
                random_weights=False,
                suite_version=__version__,
            )
            if score is None:
                fields.update(
                    status="error",
                    error=f"video_results is not a number ({type(item['video_results']).__name__})",
                )
            else:
                fields["score"] = score / 100.0 if dim in _PERCENT_PER_VIDEO else score
            records.append(make_record(**fields))
    return records, aggregates


def import_eval_results(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    model: str,
    specs: Mapping[str, DimensionSpec],
) -> tuple[Path, list[Record], dict[str, float]]:
    """Write a run directory (``records/records-rank0.jsonl`` + ``run.json``) from a VBench file.

    Raises:
        VBenchImportError: bad input, or ``out_dir`` already holds records.
    """
    records, aggregates = parse_eval_results(path, model=model, specs=specs)
    out_dir = Path(out_dir)
    shard = shard_path(out_dir, 0)
    if shard.parent.is_dir() and any(shard.parent.glob("*.jsonl")):
        raise VBenchImportError(f"{out_dir}: already holds records; import into an empty folder")
    shard.parent.mkdir(parents=True, exist_ok=True)
    with open(shard, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False, allow_nan=False) + "\n")
    run = {
        "source": "vbench",
        "eval_results": str(path),
        "model": model,
        "suite_version": __version__,
        "vbench_aggregates": aggregates,
    }
    write_run_info_file(out_dir, run)
    return out_dir, records, aggregates
