"""Render results for people and programs: Markdown, CSV, JSON or Parquet, from one dispatch.

Three kinds of result come out of a run's records: an :class:`~vbench_cn.aggregation.
AggregateResult`, a :class:`~vbench_cn.comparison.CompareResult` and a
:class:`~vbench_cn.language_parity.LanguageParityResult`. Each kind says here how it reads
as Markdown, as one flat table (CSV and Parquet write that table) and as a JSON document;
:func:`render` picks the kind and the format, and the CLI calls nothing else. A new
format is one branch of :func:`render`; a new kind is one :class:`_Kind` entry.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vbench_cn import __version__
from vbench_cn.aggregation import (
    CATEGORY_COLUMNS,
    DIMENSION_COLUMNS,
    SET_COLUMNS,
    AggregateResult,
)
from vbench_cn.comparison import CompareResult
from vbench_cn.language_parity import LanguageParityResult
from vbench_cn.stats import finite

#: Output formats, in the order the CLI lists them. ``parquet`` renders bytes, the others text.
FORMATS: tuple[str, ...] = ("md", "csv", "json", "parquet")

Result = AggregateResult | CompareResult | LanguageParityResult


def render(result: Result, fmt: str) -> str | bytes:
    """``result`` in format ``fmt`` (one of :data:`FORMATS`).

    Raises:
        ValueError: unknown format.
        TypeError: not a result this module renders.
    """
    kind = _KINDS.get(type(result))
    if kind is None:
        raise TypeError(f"cannot render a {type(result).__name__}")
    if fmt == "md":
        return kind.markdown(result)
    if fmt == "json":
        return kind.json(result)
    if fmt == "csv":
        return kind.table(result).to_csv(index=False, lineterminator="\n")
    if fmt == "parquet":
        buf = io.BytesIO()
        kind.table(result).to_parquet(buf, index=False)
        return buf.getvalue()
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


# --------------------------------------------------------------------------- aggregate


def aggregate_document(result: AggregateResult) -> dict[str, Any]:
    """The aggregate as a JSON-ready nested dict (NaN → None).

    ``{"suite_version", "bootstrap", "specs", "unknown_dimensions", "models": {name:
    {"meta", "dimensions", "categories", "vbench", "set_level"}}}``; a leaderboard
    submission is made from it (:func:`vbench_cn.submissions.make_submission`).
    """
    models: dict[str, Any] = {}
    for name in sorted(result.models):
        dims = _rows_by(result.dimensions, name, "dimension", DIMENSION_COLUMNS)
        cats = _rows_by(result.categories, name, "category", CATEGORY_COLUMNS)
        vb_rows = result.vbench[result.vbench["model"] == name].to_dict("records")
        vb = _clean({k: v for k, v in vb_rows[0].items() if k != "model"}) if vb_rows else None
        sets = _rows_by(result.set_level, name, "dimension", SET_COLUMNS)
        for row in sets.values():
            row["details"] = json.loads(row["details"]) if row.get("details") else {}
        models[name] = {
            "meta": result.models[name],
            "dimensions": dims,
            "categories": cats,
            "vbench": vb,
            "set_level": sets,
        }
    return {
        "suite_version": __version__,
        "bootstrap": {
            "unit": "prompt",
            "num_resamples": result.num_resamples,
            "confidence": result.confidence,
            "seed": result.seed,
        },
        "specs": result.specs,
        "unknown_dimensions": result.unknown_dimensions,
        "models": models,
    }


def _rows_by(
    frame: pd.DataFrame, model: str, key: str, columns: list[str]
) -> dict[str, dict[str, Any]]:
    """One model's rows of ``frame`` keyed by ``key``, each without ``model`` and ``key``."""
    keep = [c for c in columns if c not in ("model", key)]
    return {
        row[key]: _clean({c: row[c] for c in keep})
        for row in frame[frame["model"] == model].to_dict("records")
    }


def _aggregate_json(result: AggregateResult) -> str:
    doc = aggregate_document(result)
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True, allow_nan=False) + "\n"


def aggregate_table(result: AggregateResult) -> pd.DataFrame:
    """All rows in one long table (``row`` = dimension | category | vbench | set)."""
    dims = result.dimensions
    parts = [
        dims.assign(row="dimension", name=dims["dimension"], score=dims["mean"]),
        result.categories.assign(row="category", name=result.categories["category"]),
    ]
    for _, vb in result.vbench.iterrows():
        for part in ("quality", "semantic", "total"):
            row = {
                "model": vb["model"],
                "row": "vbench",
                "name": f"vbench_{part}",
                "score": vb[part],
                "ci_low": vb[f"{part}_ci_low"],
                "ci_high": vb[f"{part}_ci_high"],
                "n_dimensions": vb["n_dimensions"],
                "comparable": vb["comparable"],
            }
            parts.append(pd.DataFrame([row]))
    parts.append(result.set_level.assign(row="set", name=result.set_level["dimension"]))
    frames = [p for p in parts if not p.empty]
    if not frames:
        return pd.DataFrame(columns=["model", "row", "name", "score"])
    long = pd.concat(frames, ignore_index=True, sort=False)
    first = ["model", "row", "name", "score", "ci_low", "ci_high", "normalized"]
    rest = sorted(c for c in long if c not in first and c not in ("dimension", "category", "mean"))
    return long[[c for c in first if c in long] + rest]


def _aggregate_markdown(result: AggregateResult) -> str:
    """Dimensions, categories, the VBench rule and set-level scores, one table each."""
    out = [
        f"# Aggregate (95 % CI: bootstrap over prompts, {result.num_resamples} resamples, "
        f"seed {result.seed})",
        "",
        "## Dimensions",
        "",
        "| model | dimension | mean [95% CI] | normalised | videos | prompts | errors | skipped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result.dimensions.to_dict("records"):
        out.append(
            f"| {_md(row['model'])} | {_md(row['dimension'])} | {_ci(row, 'mean')}"
            f" | {_fmt(row['normalized'])} | {row['n_videos']} | {row['n_prompts']}"
            f" | {row['n_errors']} | {row['n_skipped']} |"
        )
    out += [
        "",
        "## Categories (normalised, spec weights)",
        "",
        "| model | category | score [95% CI] | dimensions |",
        "|---|---|---|---|",
    ]
    for row in result.categories.to_dict("records"):
        out.append(
            f"| {_md(row['model'])} | {row['category']} | {_ci(row, 'score')}"
            f" | {row['n_dimensions']} |"
        )
    if not result.vbench.empty:
        out += [
            "",
            "## VBench rule (Total = (4·Quality + Semantic)/5)",
            "",
            "| model | Total | Quality | Semantic | dims | comparable with VBench's leaderboard |",
            "|---|---|---|---|---|---|",
        ]
        for row in result.vbench.to_dict("records"):
            verdict = "yes" if row["comparable"] else f"no: {row['not_comparable_because']}"
            out.append(
                f"| {_md(row['model'])} | {_ci(row, 'total', 'total_')}"
                f" | {_ci(row, 'quality', 'quality_')} | {_ci(row, 'semantic', 'semantic_')}"
                f" | {row['n_dimensions']}/{row['n_expected']} | {_md(verdict)} |"
            )
    if not result.set_level.empty:
        out += [
            "",
            "## Set-level scores (as computed, not normalised)",
            "",
            "| model | dimension | score [95% CI] | better | videos | reference |",
            "|---|---|---|---|---|---|",
        ]
        for row in result.set_level.to_dict("records"):
            better = "higher" if row["higher_is_better"] else "lower"
            out.append(
                f"| {_md(row['model'])} | {_md(row['dimension'])} | {_ci(row, 'score')}"
                f" | {better} | {_fmt(row['n_videos'], 0)} | {_md(str(row['reference'] or '—'))} |"
            )
    if result.unknown_dimensions:
        unknown = ", ".join(map(_md, result.unknown_dimensions))
        out += ["", f"Unknown dimensions (no spec, not aggregated): {unknown}"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- compare


def _compare_json(result: CompareResult) -> str:
    doc = {
        "model_a": result.model_a,
        "model_b": result.model_b,
        "alpha": result.alpha,
        "warnings": result.warnings,
        "dimensions": json.loads(result.table.to_json(orient="records")),
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _compare_markdown(result: CompareResult) -> str:
    """The comparison as one Markdown table, warnings first."""
    lines = [
        f"# {result.model_b} (B) vs {result.model_a} (A): difference B − A, paired over prompts",
        "",
    ]
    lines += [f"> {w}" for w in result.warnings]
    if result.warnings:
        lines.append("")
    lines += [
        "| dimension | prompts | A | B | B − A [95% CI] | p | p (Holm) | verdict for B |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result.table.to_dict("records"):
        diff = (
            f"{r['difference']:+.4f} [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]"
            if finite(r["difference"])
            else "—"
        )
        lines.append(
            f"| {r['dimension']} | {r['n_prompts']} | {_fmt(r['mean_a'])} | {_fmt(r['mean_b'])}"
            f" | {diff} | {_fmt(r['p_value'], 3)} | {_fmt(r['p_holm'], 3)} | {r['verdict']} |"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- language parity


def _parity_json(result: LanguageParityResult) -> str:
    return result.table.to_json(orient="records", force_ascii=False, indent=2)


def _parity_markdown(result: LanguageParityResult) -> str:
    """The gap table in Markdown (floats to 4 significant digits)."""
    table = result.table
    if table.empty:
        return "no prompt was scored in both languages\n"
    cols = [str(c) for c in table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += [
        "| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |"
        for row in table.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- dispatch table


@dataclass(frozen=True)
class _Kind:
    """How one kind of result reads as Markdown, as one flat table and as JSON."""

    markdown: Callable[[Any], str]
    table: Callable[[Any], pd.DataFrame]
    json: Callable[[Any], str]


_KINDS: dict[type, _Kind] = {
    AggregateResult: _Kind(_aggregate_markdown, aggregate_table, _aggregate_json),
    CompareResult: _Kind(_compare_markdown, lambda r: r.table, _compare_json),
    LanguageParityResult: _Kind(_parity_markdown, lambda r: r.table, _parity_json),
}


# --------------------------------------------------------------------------- cell formatting


def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(x: Any, digits: int = 4) -> str:
    return f"{x:.{digits}f}" if finite(x) else "—"


def _ci(row: Mapping[str, Any], value: str, prefix: str = "") -> str:
    """``row[value] [row[prefix + "ci_low"], row[prefix + "ci_high"]]``, or what is finite."""
    x, lo, hi = row[value], row[f"{prefix}ci_low"], row[f"{prefix}ci_high"]
    if not finite(x):
        return "—"
    if finite(lo) and finite(hi):
        return f"{x:.4f} [{lo:.4f}, {hi:.4f}]"
    return f"{x:.4f}"


def _clean(d: Mapping[str, Any]) -> dict[str, Any]:
    """NaN → None and numpy scalars → Python, for JSON."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out
