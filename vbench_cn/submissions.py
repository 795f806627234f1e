"""Leaderboard submissions: one JSON file per model version, validated before it is shown.

Two kinds, never mixed on the site:

* ``computed``: the aggregate of a vbench-cn run (:func:`make_submission`), with the
  weights hashes, suite version and spec hashes that produced it. Runs with random
  weights are refused.
* ``reported``: published numbers for models we cannot run, each with its citation
  (``source.citation`` and ``source.tag``: P paper table, V primary file, R recomputed,
  U unverified). ``benchmark = "vbench"`` rows hold VBench dimension scores (fractions,
  not percentages) and the published Total/Quality/Semantic (percent); ``"other"`` rows
  (e.g. Boximator's FVD/CLIPSIM) hold free-form ``metrics`` that are shown apart. A metric
  may name the ``category`` and the vbench-cn ``dimension`` it is the counterpart of (e.g.
  Boximator's box-alignment mAP: ``control`` / ``box_alignment``); the site then shows it
  beside that dimension, marked as another benchmark's own measurement, never ranked with it.

Everything that reaches the HTML is validated here (no markup, no control or bidi
characters, no path-like or mixed-script model names, finite numbers of plausible size,
bounded text and lists) and escaped again by the templates. Computed rows must be scored on
the suite's prompts, and their categories and VBench Total must follow from their
dimensions (the site recomputes them). Two rows whose names read the same (case, spacing,
look-alike letters) are one row.
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vbench_cn._text import BIDI_CONTROLS, did_you_mean, scripts, skeleton
from vbench_cn.aggregation import (
    CATEGORY_ROWS,
    AggregateResult,
    category_scores,
    suite_prompt_ids,
    vbench_totals,
)
from vbench_cn.report import aggregate_document
from vbench_cn.specs import DimensionSpec

SCHEMA_VERSION = 1
KINDS = ("computed", "reported")
BENCHMARKS = ("vbench-cn", "vbench", "other")
SOURCE_TAGS = ("P", "V", "R", "U")
REQUIRED = (
    "schema_version",
    "kind",
    "model",
    "organisation",
    "version",
    "date",
    "prompt_lang",
    "link",
)
REQUIRED_COMPUTED = (
    "suite_version",
    "samples_per_prompt",
    "weights",
    "specs",
    "random_weights",
    "categories",
)
REQUIRED_REPORTED = ("source", "benchmark")
FIELDS = (
    set(REQUIRED)
    | set(REQUIRED_COMPUTED)
    | set(REQUIRED_REPORTED)
    | {
        "dimensions",
        "vbench",
        "set_level",
        "published",
        "metrics",
        "notes",
        "n_prompts",
        "run",
    }
)
DIMENSION_FIELDS = {
    "score",
    "ci_low",
    "ci_high",
    "normalized",
    "normalized_ci_low",
    "normalized_ci_high",
    "n_videos",
    "n_prompts",
    "n_errors",
    "n_skipped",
    "n_stale",
    "n_unweighted",
    "category",
    "version",
    "aggregate",
    "higher_is_better",
}
#: A submission file larger than this is refused before it is read (a row is a few KiB).
MAX_SUBMISSION_BYTES = 256 * 1024
#: Longest string anywhere in a submission (notes, citations); names have their own limits.
MAX_TEXT_CHARS = 2000
#: Most entries of any list or object in a submission.
MAX_ENTRIES = 500
#: Largest magnitude of any number (counts of videos and prompts are far below it).
MAX_ABS_NUMBER = 1e12
#: Tolerance when a submitted category or Total is checked against its dimensions.
RECOMPUTE_TOLERANCE = 1e-6
#: Scripts that must not be mixed with Latin letters in a model name (look-alike letters).
_LOOK_ALIKE_SCRIPTS = {"CYRILLIC", "GREEK"}
#: Keys of one ``metrics`` entry of a reported row of another benchmark.
METRIC_FIELDS = {"name", "value", "higher_is_better", "benchmark", "category", "dimension"}
_HTML_RE = re.compile(r"<\s*[A-Za-z!/?]|&#|javascript:", re.IGNORECASE)
_DATE_RE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
_WEIGHTS_RE = re.compile(r"^[a-z0-9_.-]+@[0-9a-f]{8,64}$")
_LANG_RE = re.compile(r"^(en|zh)(\+(en|zh))?$")


class SubmissionError(ValueError):
    """An invalid submission; the message is one line naming the file and the cause."""


def slugify(text: str) -> str:
    """A file-name-safe, lower-case ASCII slug (``"Kling 1.6 (pro)"`` → ``"kling-1.6-pro"``).

    Example:
        >>> slugify("Wan2.1 T2V/14B")
        'wan2.1-t2v-14b'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9.]+", "-", ascii_text.lower()).strip("-.")
    return slug or "model"


def check_model_name(name: Any, where: str = "model") -> str:
    """Validate a model name for display and file names; return it or raise ``ValueError``."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{where}: must be a non-empty string")
    if len(name) > 100:
        raise ValueError(f"{where}: longer than 100 characters")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise ValueError(f"{where}: contains control characters")
    if "/" in name or "\\" in name or ".." in name or name.startswith((".", "~")):
        raise ValueError(
            f"{where}: {name!r} looks like a path (no '/', '\\\\', '..' or leading '.'/'~')"
        )
    if _HTML_RE.search(name) or "<" in name or ">" in name:
        raise ValueError(f"{where}: contains HTML")
    found = scripts(name)
    if "LATIN" in found and found & _LOOK_ALIKE_SCRIPTS:
        raise ValueError(
            f"{where}: {name!r} mixes Latin with {'/'.join(sorted(found & _LOOK_ALIKE_SCRIPTS))} "
            "letters (look-alikes); write it in one script"
        )
    if name != name.strip() or "  " in name:
        raise ValueError(f"{where}: {name!r} has leading, trailing or doubled spaces")
    return name


def _walk(value: Any, where: str) -> None:
    """Reject non-finite or huge numbers, markup, control and bidi characters, oversized text
    and lists anywhere in the document."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: {value} is not a finite number")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if abs(value) > MAX_ABS_NUMBER:
            raise ValueError(f"{where}: {_short_number(value)} is not a plausible value")
    if isinstance(value, str):
        if len(value) > MAX_TEXT_CHARS:
            raise ValueError(f"{where}: longer than {MAX_TEXT_CHARS} characters")
        if _HTML_RE.search(value):
            raise ValueError(f"{where}: contains HTML or script ({value[:40]!r})")
        if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value):
            raise ValueError(f"{where}: contains control characters")
        if any(c in BIDI_CONTROLS for c in value):
            raise ValueError(f"{where}: contains bidirectional control characters")
    elif isinstance(value, (Mapping, list)) and len(value) > MAX_ENTRIES:
        raise ValueError(f"{where or 'document'}: more than {MAX_ENTRIES} entries")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _walk(k, f"{where} key")
            _walk(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _walk(v, f"{where}[{i}]")


def _short_number(value: Any) -> str:
    """A number for an error message (a 301-digit integer is not printed whole)."""
    text = str(value)
    return text if len(text) <= 24 else f"{text[:12]}… ({len(text)} digits)"


def _number(
    value: Any,
    where: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    integer: bool = False,
) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: must be a number, got {type(value).__name__}")
    if abs(value) > MAX_ABS_NUMBER:
        raise ValueError(f"{where}: {_short_number(value)} is not a plausible value")
    if integer and (not float(value).is_integer() or value < 0):
        raise ValueError(f"{where}: must be a non-negative integer, got {value}")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise ValueError(f"{where}: {value} out of range [{lo}, {hi}]")


def _plausible_range(spec: DimensionSpec) -> tuple[float, float]:
    """Raw scores whose normalised value lies in [-1, 2].

    Wide enough for VBench's unclipped normalisation, narrow enough to catch percentages
    typed where fractions belong.
    """
    lo, hi = spec.normalization
    return (lo - (hi - lo), hi + (hi - lo))


def validate_submission(doc: Any, specs: Mapping[str, DimensionSpec]) -> dict[str, Any]:
    """Check one submission document; return it, or raise ``ValueError`` with one cause.

    Args:
        doc: the parsed JSON.
        specs: known dimensions (:func:`vbench_cn.specs.load_specs`).
    """
    if not isinstance(doc, dict):
        raise ValueError("top level must be a JSON object")
    for key in REQUIRED:
        if key not in doc:
            raise ValueError(f"missing field {key!r}")
    unknown = sorted(set(doc) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}{did_you_mean(unknown[0], FIELDS)}")
    _walk(doc, "")
    if doc["schema_version"] != SCHEMA_VERSION:
        raise ValueError(
            f"schema_version {doc['schema_version']!r} not supported (expected {SCHEMA_VERSION})"
        )
    if doc["kind"] not in KINDS:
        raise ValueError(f"kind {doc['kind']!r} not one of {', '.join(KINDS)}")
    check_model_name(doc["model"])
    for key in ("organisation", "version"):
        if not isinstance(doc[key], str) or not doc[key].strip() or len(doc[key]) > 200:
            raise ValueError(f"{key}: must be a non-empty string of at most 200 characters")
    if not isinstance(doc["date"], str) or not _DATE_RE.match(doc["date"]):
        raise ValueError(f"date: {doc['date']!r} is not YYYY-MM-DD or YYYY-MM")
    if not isinstance(doc["prompt_lang"], str) or not _LANG_RE.match(doc["prompt_lang"]):
        raise ValueError(f"prompt_lang: {doc['prompt_lang']!r} not one of en, zh, en+zh")
    link = doc["link"]
    if link is not None and (
        not isinstance(link, str) or not re.match(r"^https?://[^\s\"'<>]+$", link)
    ):
        raise ValueError(f"link: {link!r} must be an http(s) URL or null")
    if doc["kind"] == "computed":
        for key in REQUIRED_COMPUTED:
            if key not in doc:
                raise ValueError(f"missing field {key!r} (required for computed submissions)")
        if doc["random_weights"] is not False or any("random" in str(w) for w in doc["weights"]):
            raise ValueError(
                "run used random weights; the leaderboard accepts only real, hashed weights"
            )
        if not isinstance(doc["weights"], list) or not doc["weights"]:
            raise ValueError("weights: must list the weights used, as name@sha256")
        for w in doc["weights"]:
            if not isinstance(w, str) or not _WEIGHTS_RE.match(w):
                raise ValueError(f"weights: {w!r} is not name@sha256-prefix")
        _number(doc["samples_per_prompt"], "samples_per_prompt", integer=True)
        if not isinstance(doc["specs"], list) or not all(
            isinstance(s, dict) and {"id", "version", "sha256"} <= set(s) for s in doc["specs"]
        ):
            raise ValueError("specs: must be a list of {id, version, sha256}")
        if doc.get("benchmark", "vbench-cn") != "vbench-cn":
            raise ValueError("benchmark: computed submissions are vbench-cn runs")
        if "n_prompts" not in doc:
            raise ValueError("missing field 'n_prompts' (required for computed submissions)")
        suite_size = len(suite_prompt_ids())
        _number(doc["n_prompts"], "n_prompts", integer=True, hi=suite_size)
        if doc["n_prompts"] < 1:
            raise ValueError(
                "n_prompts: 0 prompts of the vbench-cn suite; computed rows are ranked as "
                "scored on the suite (generate from `vbench-cn prompts export`)"
            )
    else:
        for key in REQUIRED_REPORTED:
            if key not in doc:
                raise ValueError(f"missing field {key!r} (required for reported submissions)")
        source = doc["source"]
        if (
            not isinstance(source, dict)
            or not isinstance(source.get("citation"), str)
            or not source["citation"].strip()
        ):
            raise ValueError("source: must be an object with a non-empty citation")
        if source.get("tag") not in SOURCE_TAGS:
            raise ValueError(
                f"source.tag: {source.get('tag')!r} not one of {', '.join(SOURCE_TAGS)}"
            )
        if doc["benchmark"] not in BENCHMARKS[1:]:
            raise ValueError(
                f"benchmark: {doc['benchmark']!r} not one of vbench, other (for reported rows)"
            )
        if doc.get("random_weights"):
            raise ValueError(
                "run used random weights; the leaderboard accepts only real, hashed weights"
            )
    _number(doc.get("n_prompts"), "n_prompts", integer=True)
    _validate_dimensions(doc, specs)
    if doc["kind"] == "computed":
        _check_recomputed(doc, specs)
    for key, block in (("published", doc.get("published")), ("vbench", doc.get("vbench"))):
        if block is None:
            continue
        if not isinstance(block, dict):
            raise ValueError(f"{key}: must be an object")
        scale = 100.0 if key == "published" else 1.5
        for part in ("total", "quality", "semantic"):
            _number(
                block.get(part), f"{key}.{part}", lo=-scale if key == "vbench" else 0.0, hi=scale
            )
    cats = doc.get("categories") or {}
    if not isinstance(cats, dict):
        raise ValueError("categories: must be an object")
    for cat, row in cats.items():
        if cat not in CATEGORY_ROWS:
            raise ValueError(
                f"categories.{cat}: unknown category{did_you_mean(cat, CATEGORY_ROWS)}"
            )
        if not isinstance(row, dict) or "score" not in row:
            raise ValueError(f"categories.{cat}: must be an object with a score")
        for k in ("score", "ci_low", "ci_high"):
            _number(row.get(k), f"categories.{cat}.{k}", lo=-5.0, hi=5.0)
    metrics = doc.get("metrics") or []
    if not isinstance(metrics, list):
        raise ValueError("metrics: must be a list")
    for i, m in enumerate(metrics):
        if not isinstance(m, dict) or not isinstance(m.get("name"), str) or "value" not in m:
            raise ValueError(f"metrics[{i}]: must be an object with name and value")
        _number(m["value"], f"metrics[{i}].value")
        unknown_keys = sorted(set(m) - METRIC_FIELDS)
        if unknown_keys:
            raise ValueError(
                f"metrics[{i}].{unknown_keys[0]}: unknown field"
                f"{did_you_mean(unknown_keys[0], METRIC_FIELDS)}"
            )
        if "category" in m and m["category"] not in CATEGORY_ROWS:
            raise ValueError(
                f"metrics[{i}].category: {m['category']!r} unknown"
                f"{did_you_mean(str(m['category']), CATEGORY_ROWS)}"
            )
        if "dimension" in m:
            _check_metric_dimension(m, specs, f"metrics[{i}].dimension")
    if doc["kind"] == "reported" and doc["benchmark"] == "other" and not metrics:
        raise ValueError("metrics: a reported row of another benchmark must list its metrics")
    return doc


def _check_metric_dimension(
    metric: Mapping[str, Any], specs: Mapping[str, DimensionSpec], where: str
) -> None:
    """A metric's ``dimension`` is an id; it must exist when the specs define its category.

    (Validation with a partial spec set, e.g. VBench's 16 dimensions only, cannot know the
    dimensions of other categories, and a metric only points to one for display.)
    """
    dim = metric["dimension"]
    if not isinstance(dim, str) or not re.match(r"^[a-z0-9_]+$", dim):
        raise ValueError(f"{where}: {dim!r} is not a dimension id")
    category = metric.get("category")
    if dim not in specs and any(s.category == category for s in specs.values()):
        raise ValueError(f"{where}: unknown dimension{did_you_mean(dim, specs)}")


def _validate_dimensions(doc: Mapping[str, Any], specs: Mapping[str, DimensionSpec]) -> None:
    dims = doc.get("dimensions") or {}
    if not isinstance(dims, dict):
        raise ValueError("dimensions: must be an object mapping dimension id to scores")
    for dim, row in dims.items():
        where = f"dimensions.{dim}"
        spec = specs.get(dim)
        if spec is None:
            raise ValueError(f"{where}: unknown dimension{did_you_mean(dim, specs)}")
        if not isinstance(row, dict) or "score" not in row:
            raise ValueError(f"{where}: must be an object with a score")
        extra = sorted(set(row) - DIMENSION_FIELDS)
        if extra:
            raise ValueError(
                f"{where}.{extra[0]}: unknown field{did_you_mean(extra[0], DIMENSION_FIELDS)}"
            )
        lo, hi = _plausible_range(spec)
        for key in ("score", "ci_low", "ci_high"):
            value = row.get(key)
            _number(value, f"{where}.{key}")
            if value is not None and not lo <= value <= hi:
                raise ValueError(
                    f"{where}.{key}: {value} out of range for {dim} "
                    f"(normalisation {spec.normalization[0]}..{spec.normalization[1]}; "
                    "VBench percentages must be divided by 100)"
                )
        if (
            row.get("ci_low") is not None
            and row.get("ci_high") is not None
            and not (row["ci_low"] <= row["score"] <= row["ci_high"])
        ):
            raise ValueError(
                f"{where}: score {row['score']} outside its CI [{row['ci_low']}, {row['ci_high']}]"
            )
        for key in ("n_videos", "n_prompts", "n_errors", "n_skipped", "n_stale", "n_unweighted"):
            _number(row.get(key), f"{where}.{key}", integer=True)
    sets = doc.get("set_level") or {}
    if not isinstance(sets, dict):
        raise ValueError("set_level: must be an object")
    for dim, row in sets.items():
        if dim not in specs:
            raise ValueError(f"set_level.{dim}: unknown dimension{did_you_mean(dim, specs)}")
        if not isinstance(row, dict):
            raise ValueError(f"set_level.{dim}: must be an object")
        _number(row.get("score"), f"set_level.{dim}.score")


def normalized_scores(
    doc: Mapping[str, Any], specs: Mapping[str, DimensionSpec]
) -> dict[str, float]:
    """Normalised score of every dimension of a row (video level, then set level), by spec.

    The site ranks and draws these, never a normalised value written in the file.
    """
    out: dict[str, float] = {}
    for dim, row in sorted((doc.get("dimensions") or {}).items()):
        spec = specs.get(dim)
        if spec is not None and isinstance(row, Mapping) and _finite(row.get("score")):
            out[dim] = spec.normalize(float(row["score"]))
    for dim, row in sorted((doc.get("set_level") or {}).items()):
        spec = specs.get(dim)
        if (
            spec is not None
            and isinstance(row, Mapping)
            and _finite(row.get("score"))
            and _finite(row.get("normalized"))
            and row.get("status", "ok") == "ok"
        ):
            out[dim] = spec.normalize(float(row["score"]))
    return out


def recomputed_categories(
    doc: Mapping[str, Any], specs: Mapping[str, DimensionSpec]
) -> dict[str, float]:
    """A computed row's category scores as its dimensions give them (what the site shows)."""
    return {
        k: float(v)
        for k, v in category_scores(normalized_scores(doc, specs), specs).items()
        if _finite(v)
    }


def ranked_dimensions(
    doc: Mapping[str, Any], specs: Mapping[str, DimensionSpec]
) -> tuple[str, ...]:
    """The dimensions a row's Total averages: rows are ranked only against the same set."""
    return tuple(
        d for d in sorted(normalized_scores(doc, specs)) if d in specs and specs[d].weight > 0
    )


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _current_specs(doc: Mapping[str, Any], specs: Mapping[str, DimensionSpec]) -> bool:
    """Whether every spec the row was scored with is the version the suite has now."""
    return all(
        s["id"] not in specs or specs[s["id"]].version == s.get("version")
        for s in doc.get("specs") or []
    )


def _close(a: Any, b: float) -> bool:
    return _finite(a) and abs(float(a) - b) <= RECOMPUTE_TOLERANCE * max(1.0, abs(b))


def _check_recomputed(doc: Mapping[str, Any], specs: Mapping[str, DimensionSpec]) -> None:
    """A computed row's categories and VBench Total must be what its dimensions give.

    Checked while the row's specs are the current ones (the site recomputes either way).
    """
    for dim, row in (doc.get("dimensions") or {}).items():
        norm = row.get("normalized")
        if (
            norm is not None
            and _finite(row.get("score"))
            and not _close(norm, specs[dim].normalize(float(row["score"])))
        ):
            raise ValueError(
                f"dimensions.{dim}.normalized: {norm} is not the spec's normalisation of "
                f"{row['score']}"
            )
    if not _current_specs(doc, specs):
        return
    expected = recomputed_categories(doc, specs)
    cats = doc.get("categories") or {}
    for cat in CATEGORY_ROWS:
        got = (cats.get(cat) or {}).get("score") if isinstance(cats.get(cat), dict) else None
        if cat not in expected and got is not None:
            raise ValueError(f"categories.{cat}: no dimension of the row is in this category")
        if cat in expected and not _close(got, expected[cat]):
            raise ValueError(
                f"categories.{cat}: score {got} is not what the dimensions give "
                f"({expected[cat]:.6g})"
            )
    vb = doc.get("vbench")
    if isinstance(vb, dict):
        totals = vbench_totals(normalized_scores(doc, specs), specs)
        for part in ("total", "quality", "semantic"):
            if vb.get(part) is not None and not (
                totals["complete"] and _close(vb[part], float(totals[part]))
            ):
                raise ValueError(
                    f"vbench.{part}: {vb[part]} is not what the dimensions give "
                    f"({'incomplete' if not totals['complete'] else f'{totals[part]:.6g}'})"
                )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (JSON numbers must be finite)")


def read_submission(
    path: str | os.PathLike[str], specs: Mapping[str, DimensionSpec]
) -> dict[str, Any]:
    """Read and validate one submission file.

    Raises:
        SubmissionError: ``"<path>: <cause>"`` on one line.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_SUBMISSION_BYTES:
            raise ValueError(
                f"{size} bytes; a submission is at most {MAX_SUBMISSION_BYTES // 1024} KiB"
            )
        doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
        return validate_submission(doc, specs)
    except OSError as exc:
        raise SubmissionError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise SubmissionError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError:
        raise SubmissionError(f"{path}: not UTF-8 text") from None
    except ValueError as exc:
        raise SubmissionError(f"{path}: {exc}") from None


def load_submissions(
    directory: str | os.PathLike[str], specs: Mapping[str, DimensionSpec]
) -> list[dict[str, Any]]:
    """Every ``*.json`` submission of a folder, validated, sorted by (kind, model, version).

    Raises:
        SubmissionError: the first invalid file, or two files for the same model version.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise SubmissionError(f"{directory}: submissions folder not found")
    subs: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], Path] = {}
    for path in sorted(directory.glob("*.json")):
        doc = read_submission(path, specs)
        key = (doc["kind"], skeleton(doc["model"]), skeleton(doc["version"]))
        if key in seen:
            raise SubmissionError(
                f"{path}: duplicate of {seen[key].name} (same kind, and model and version "
                "that read the same)"
            )
        seen[key] = path
        doc["_file"] = path.name
        subs.append(doc)
    return sorted(subs, key=lambda d: (d["kind"], d["model"].lower(), d["version"]))


def make_submission(
    result: AggregateResult,
    *,
    run_model: str | None = None,
    model: str,
    organisation: str,
    version: str,
    date: str,
    link: str | None = None,
    notes: str | None = None,
    run: str | None = None,
    allow_random_weights: bool = False,
    allow_custom_prompts: bool = False,
) -> dict[str, Any]:
    """A ``computed`` submission from an aggregate (one model of it), validated.

    Args:
        result: :func:`vbench_cn.aggregation.aggregate` of the run.
        run_model: which model of the run (needed only when the run holds several).
        model: display name on the leaderboard.
        organisation: who made the model.
        version: model version or checkpoint.
        date: ``YYYY-MM-DD`` (or ``YYYY-MM``) of the result.
        link: http(s) link to the model or paper, or None.
        notes: free text shown on the model page.
        run: where the run came from (shown as provenance).
        allow_random_weights: keep a random-weights run (flagged ``random_weights: true``);
            only for local demo sites, such a document never passes validation.
        allow_custom_prompts: keep a run on prompts outside the suite (``n_prompts`` then
            counts its own prompts); only for local sites, such a document never passes
            validation.

    Raises:
        ValueError: several models and no ``run_model``, random weights, or an invalid field.
    """
    data = aggregate_document(result)
    names = sorted(data["models"])
    if run_model is None:
        if len(names) != 1:
            raise ValueError(
                f"run holds {len(names)} models ({', '.join(names)}); pass --run-model"
            )
        run_model = names[0]
    if run_model not in data["models"]:
        raise ValueError(f"model {run_model!r} not in run{did_you_mean(run_model, names)}")
    entry = data["models"][run_model]
    meta = entry["meta"]
    if meta["random_weights"] and not allow_random_weights:
        raise ValueError(
            "run used random weights; the leaderboard accepts only real, hashed weights"
        )
    n_prompts = meta.get("n_suite_prompts") or 0
    if n_prompts == 0:
        if not allow_custom_prompts:
            raise ValueError(
                "the run scored no prompt of the vbench-cn suite (its videos carry other "
                "prompts); the leaderboard ranks runs on the suite: generate videos from "
                "`vbench-cn prompts export` and score those"
            )
        n_prompts = meta["n_prompts"]
    langs = meta["prompt_langs"]
    dims = {
        d: {k: v for k, v in row.items() if k in DIMENSION_FIELDS and v is not None}
        for d, row in entry["dimensions"].items()
        if row.get("mean") is not None
    }
    for d, row in entry["dimensions"].items():
        if d in dims:
            dims[d]["score"] = row["mean"]
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": "computed",
        "benchmark": "vbench-cn",
        "model": model,
        "organisation": organisation,
        "version": version,
        "date": date,
        "prompt_lang": "+".join(langs) if langs else "en",
        "link": link,
        "suite_version": ",".join(meta["suite_versions"]) or data["suite_version"],
        "samples_per_prompt": meta["samples_per_prompt"],
        "n_prompts": n_prompts,
        "weights": meta["weights"],
        "random_weights": bool(meta["random_weights"]),
        "specs": [
            s
            for s in data["specs"]
            if s["id"] in entry["dimensions"] or s["id"] in entry["set_level"]
        ],
        "dimensions": dims,
        "categories": {
            c: {k: v for k, v in row.items() if v is not None}
            for c, row in entry["categories"].items()
        },
        "set_level": entry["set_level"],
    }
    if entry["vbench"] and entry["vbench"].get("complete"):
        doc["vbench"] = {k: entry["vbench"][k] for k in ("total", "quality", "semantic")}
    if notes:
        doc["notes"] = notes
    if run:
        doc["run"] = run
    return doc


def write_submission(
    doc: Mapping[str, Any], directory: str | os.PathLike[str], specs: Mapping[str, DimensionSpec]
) -> Path:
    """Validate and write ``<directory>/<slug(model)>-<slug(version)>.json``; return the path."""
    validate_submission(dict(doc), specs)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{slugify(doc['model'])}--{slugify(doc['version'])}.json"
    path.write_text(
        json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True, allow_nan=False) + "\n",
        encoding="utf-8",
    )
    return path
