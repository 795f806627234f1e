"""Build the static bilingual leaderboard site from validated submissions.

The site opens from disk with no network: plain HTML (jinja2, autoescape on), one CSS
file, one small vanilla-JS file for column sorting and the 中文/English switch (both
languages are in every page; ``?lang=zh`` opens in Chinese). Pages:

* ``index.html``: computed rows, reported VBench rows and other-benchmark rows in three
  separate tables (never mixed), with provenance, and the Control section (motion control:
  our box-alignment and motion-direction scores with CIs; other benchmarks' own
  box-alignment numbers, e.g. Boximator's, listed apart and marked as not comparable);
* ``models/<slug>.html``: one page per submission, radar of normalised dimensions;
* ``dimensions/<id>.html``: one page per dimension, bars with CI whiskers;
* ``dimensions/index.html``: what each dimension measures, in both languages.

The same submissions always build the same bytes (sorted inputs, no timestamps, fixed SVG
hash salt).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2

from vbench_cn import __version__
from vbench_cn._text import BIDI_CONTROLS
from vbench_cn.aggregation import CATEGORY_ROWS, vbench_totals
from vbench_cn.site.output import check_site_target, write_site
from vbench_cn.site.plots import Bar, bars_svg, radar_svg
from vbench_cn.specs import DimensionSpec
from vbench_cn.submissions import (
    normalized_scores,
    ranked_dimensions,
    recomputed_categories,
    slugify,
)

_HERE = Path(__file__).resolve().parent
CATEGORY_LABELS: dict[str, tuple[str, str]] = {
    "quality": ("Quality", "质量"),
    "semantic": ("Semantic", "语义"),
    "fidelity": ("Fidelity", "保真度"),
    "duration": ("Duration", "时长"),
    "control": ("Control", "控制"),
    "language": ("Language", "语言"),
    "total": ("Total", "总分"),
}
TAG_LABELS: dict[str, tuple[str, str]] = {
    "P": ("paper table, read through a copy", "论文表格（转引）"),
    "V": ("read in a primary file", "一手文件核对"),
    "R": ("recomputed from the dimensions, matches", "由各维度重算且一致"),
    "U": ("unverified", "未核实"),
}


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda x, d=2: f"{x:.{d}f}" if _finite(x) else "—"
    env.filters["sortval"] = lambda x: repr(float(x)) if _finite(x) else ""
    return env


def _safe_link(link: Any) -> str | None:
    """Only http(s) links reach an ``href`` (autoescaping does not stop ``javascript:``)."""
    return link if isinstance(link, str) and link.startswith(("https://", "http://")) else None


def _pct(x: Any) -> float | None:
    return 100.0 * x if _finite(x) else None


def _unique_slugs(subs: Sequence[Mapping[str, Any]]) -> list[str]:
    """A distinct page slug per submission (kind, model and version), stable for sorted input."""
    slugs: list[str] = []
    for sub in subs:
        base = slugify(f"{sub['model']}-{sub['version']}")
        if sub["kind"] == "reported":
            base = f"reported-{base}"
        slug, i = base, 2
        while slug in slugs:
            slug, i = f"{base}-{i}", i + 1
        slugs.append(slug)
    return slugs


def _displayable(value: Any) -> Any:
    """A copy of a submission with bidirectional controls removed from every string.

    Validation refuses them; this keeps a document that bypassed it from reordering a page.
    """
    if isinstance(value, str):
        return "".join(c for c in value if c not in BIDI_CONTROLS)
    if isinstance(value, Mapping):
        return {_displayable(k): _displayable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_displayable(v) for v in value]
    return value


def _category_cells(
    sub: Mapping[str, Any], specs: Mapping[str, DimensionSpec]
) -> dict[str, dict[str, float | None]]:
    """Category scores (0-100) of a computed row as its dimensions give them.

    The submitted interval is shown only next to the score it was computed for.
    """
    cats = sub.get("categories") or {}
    recomputed = recomputed_categories(sub, specs)
    cells: dict[str, dict[str, float | None]] = {}
    for c in CATEGORY_ROWS:
        given = cats.get(c) if isinstance(cats.get(c), Mapping) else {}
        value = recomputed.get(c)
        same = value is not None and _finite(given.get("score"))
        same = same and abs(float(given["score"]) - value) <= 1e-6 * max(1.0, abs(value))
        cells[c] = {
            "score": _pct(value),
            "ci_low": _pct(given.get("ci_low")) if same else None,
            "ci_high": _pct(given.get("ci_high")) if same else None,
        }
    return cells


def _row(sub: Mapping[str, Any], slug: str, specs: Mapping[str, DimensionSpec]) -> dict[str, Any]:
    """The template view of one submission."""
    norm = normalized_scores(sub, specs)
    recomputed = vbench_totals(norm, specs)
    published = sub.get("published") or {}
    source = sub.get("source") or {}
    computed = sub["kind"] == "computed"
    n_prompts = sub.get("n_prompts")
    return {
        "slug": slug,
        "model": sub["model"],
        "organisation": sub["organisation"],
        "version": sub["version"],
        "date": sub["date"],
        "kind": sub["kind"],
        "benchmark": sub.get("benchmark", "vbench-cn"),
        "link": _safe_link(sub.get("link")),
        "notes": sub.get("notes") or "",
        "file": sub.get("_file", ""),
        "demo": bool(sub.get("random_weights")),
        "categories": _category_cells(sub, specs) if computed else {},
        "ranked_dims": ranked_dimensions(sub, specs),
        "rankable": computed
        and isinstance(n_prompts, int)
        and not isinstance(n_prompts, bool)
        and n_prompts >= 1,
        "published": {p: published.get(p) for p in ("total", "quality", "semantic")},
        "recomputed": {
            p: _pct(recomputed[p]) if recomputed["complete"] else None
            for p in ("total", "quality", "semantic")
        },
        "n_dims": len(sub.get("dimensions") or {}),
        "n_prompts": n_prompts,
        "samples_per_prompt": sub.get("samples_per_prompt"),
        "prompt_lang": sub["prompt_lang"],
        "suite_version": sub.get("suite_version"),
        "weights": list(sub.get("weights") or []),
        "specs": list(sub.get("specs") or []),
        "source": {
            "citation": source.get("citation", ""),
            "tag": source.get("tag", ""),
            "tag_label": TAG_LABELS.get(source.get("tag", ""), ("", "")),
        },
        "metrics": list(sub.get("metrics") or []),
        "dim_scores": {
            d: {"score": r.get("score"), "ci_low": r.get("ci_low"), "ci_high": r.get("ci_high")}
            for d, r in (sub.get("dimensions") or {}).items()
        },
        "dimensions": [
            {
                "id": d,
                "spec": specs.get(d),
                "score": r.get("score"),
                "ci_low": r.get("ci_low"),
                "ci_high": r.get("ci_high"),
                "normalized": norm.get(d),
                "n_videos": r.get("n_videos"),
                "n_errors": r.get("n_errors"),
                "n_skipped": r.get("n_skipped"),
            }
            for d, r in sorted((sub.get("dimensions") or {}).items())
        ],
        "set_level": [{"id": d, **r} for d, r in sorted((sub.get("set_level") or {}).items())],
    }


def _computed_groups(
    rows: Sequence[dict[str, Any]], specs: Mapping[str, DimensionSpec]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Computed rows ranked by Total only among rows scored on the same dimensions.

    A Total averages a row's dimensions, so rows with different sets (a text model's and a
    flicker model's) are not comparable: each set gets its own table. Rows scored on no
    prompt of the suite are listed apart, unranked.

    Returns:
        ``(groups, unranked)``; each group ``{"table_id", "dims", "rows"}``, largest first.
    """
    by_dims: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        if row["rankable"]:
            by_dims.setdefault(row["ranked_dims"], []).append(row)
    unranked = sorted((r for r in rows if not r["rankable"]), key=lambda r: r["model"].lower())
    ordered = sorted(by_dims.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    groups = []
    for i, (dims, members) in enumerate(ordered):
        members = sorted(
            members,
            key=lambda r: (-(r["categories"]["total"]["score"] or -1e9), r["model"].lower()),
        )
        groups.append(
            {
                "table_id": "computed-table" if i == 0 else f"computed-table-{i + 1}",
                "dims": [specs[d] if d in specs else d for d in dims],
                "rows": members,
            }
        )
    return groups, unranked


def _control_order(spec: DimensionSpec) -> tuple[float, str]:
    """Control dimensions in display order: the weighted ones first, then by id."""
    return (-spec.weight, spec.id)


def build_site(
    submissions: Sequence[Mapping[str, Any]],
    specs: Mapping[str, DimensionSpec],
    out_dir: str | os.PathLike[str],
    *,
    title: str = "vbench-cn leaderboard",
) -> Path:
    """Write the static site for already-validated submissions into ``out_dir``.

    Args:
        submissions: documents from :func:`vbench_cn.submissions.load_submissions` (or
            :func:`vbench_cn.submissions.make_submission`).
        specs: dimension specs (every dimension a row reports needs one, for its label).
        out_dir: output folder: new, empty, or built before (files the build listed in
            ``.vbench-cn-site.json`` are replaced; nothing else is touched).
        title: the site's title (browser tab).

    Returns:
        The path of ``index.html``.
    """
    out = Path(out_dir)
    check_site_target(out)  # before the work: a file, or someone else's folder, is refused
    write_site(out, render_site(submissions, specs, title=title))
    return out / "index.html"


def render_site(
    submissions: Sequence[Mapping[str, Any]],
    specs: Mapping[str, DimensionSpec],
    *,
    title: str = "vbench-cn leaderboard",
) -> dict[str, bytes]:
    """Every file of the site, relative POSIX path → bytes, rendered in memory.

    Nothing is written until every page and chart rendered, so a submission the charts
    cannot draw leaves no half-built site behind.
    """
    files: dict[str, bytes] = {}
    subs = sorted(
        (_displayable(s) for s in submissions),
        key=lambda d: (d["kind"], d["model"].lower(), d["version"]),
    )
    slugs = _unique_slugs(subs)
    rows = [_row(s, slug, specs) for s, slug in zip(subs, slugs, strict=True)]
    computed, unranked = _computed_groups([r for r in rows if r["kind"] == "computed"], specs)
    reported = sorted(
        (r for r in rows if r["kind"] == "reported" and r["benchmark"] == "vbench"),
        key=lambda r: (-(r["published"]["total"] or -1e9), r["model"].lower()),
    )
    other = sorted(
        (r for r in rows if r["kind"] == "reported" and r["benchmark"] != "vbench"),
        key=lambda r: r["model"].lower(),
    )
    control_dims = [
        s.id for s in sorted(specs.values(), key=_control_order) if s.category == "control"
    ]
    control_computed = sorted(
        (
            r
            for group in computed
            for r in group["rows"]
            if any(d in r["dim_scores"] for d in control_dims)
        ),
        key=lambda r: (-(r["categories"]["control"]["score"] or -1e9), r["model"].lower()),
    )
    control_reported = [
        {"row": r, "metric": m}
        for r in other
        for m in r["metrics"]
        if m.get("category") == "control"
    ]
    used_dims = sorted(
        {d["id"] for r in rows for d in r["dimensions"]}
        | {d["id"] for r in rows for d in r["set_level"]}
        | {e["metric"]["dimension"] for e in control_reported if e["metric"].get("dimension")}
    )
    dim_specs = [specs[d] for d in sorted(specs)]
    env = _env()
    dim_pages = {d: f"{slugify(d)}.html" for d in sorted(set(used_dims) | set(specs))}
    common = {
        "title": title,
        "suite_version": __version__,
        "categories": CATEGORY_LABELS,
        "category_order": list(CATEGORY_ROWS),
        "tag_labels": TAG_LABELS,
        "dim_pages": dim_pages,
    }

    def render(template: str, path: str, root: str, **ctx: Any) -> None:
        files[path] = env.get_template(template).render(root=root, **common, **ctx).encode()

    for name in ("style.css", "site.js"):
        files[f"static/{name}"] = (_HERE / "static" / name).read_bytes()
    render(
        "index.html",
        "index.html",
        "",
        computed=computed,
        unranked=unranked,
        reported=reported,
        other=other,
        control_dims=control_dims,
        control_computed=control_computed,
        control_reported=control_reported,
        n_models=len(rows),
        used_dims=used_dims,
        specs=specs,
    )
    for row in rows:
        radar = None
        norm = [(d["id"], d["normalized"]) for d in row["dimensions"] if _finite(d["normalized"])]
        if len(norm) >= 3:
            radar = f"radar-{row['slug']}.svg"
            files[f"plots/{radar}"] = radar_svg(
                [d for d, _ in norm], [v for _, v in norm], title="normalised scores"
            ).encode()
        render("model.html", f"models/{row['slug']}.html", "../", row=row, radar=radar)
    for dim in used_dims:
        spec = specs.get(dim)
        entries = []
        for row in rows:
            for d in row["dimensions"] + row["set_level"]:
                if d["id"] == dim and _finite(d.get("score")):
                    entries.append(
                        {
                            "row": row,
                            **{k: d.get(k) for k in ("score", "ci_low", "ci_high", "n_videos")},
                        }
                    )
        better = spec.higher_is_better if spec else True
        entries.sort(
            key=lambda e: (
                -e["score"] if better else e["score"],
                e["row"]["model"].lower(),
                e["row"]["slug"],
            )
        )
        chart = None
        if entries:
            chart = f"bars-{slugify(dim)}.svg"
            bars = [
                Bar(
                    f"{e['row']['model']}{' (reported)' if e['row']['kind'] == 'reported' else ''}",
                    float(e["score"]),
                    e["ci_low"] if _finite(e["ci_low"]) else None,
                    e["ci_high"] if _finite(e["ci_high"]) else None,
                    e["row"]["kind"] == "reported",
                )
                for e in entries
            ]
            files[f"plots/{chart}"] = bars_svg(
                bars,
                title=dim,
                xlabel="score (higher is better)" if better else "score (lower is better)",
            ).encode()
        render(
            "dimension.html",
            f"dimensions/{dim_pages[dim]}",
            "../",
            dim=dim,
            spec=spec,
            entries=entries,
            chart=chart,
            better=better,
            reported_elsewhere=[e for e in control_reported if e["metric"].get("dimension") == dim],
        )
    render(
        "dimensions.html",
        "dimensions/index.html",
        "../",
        dim_specs=dim_specs,
        used_dims=used_dims,
    )
    return files


def build_site_from_run(
    run_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    specs: Mapping[str, DimensionSpec] | None = None,
    organisation: str = "vbench-cn demo",
    date: str = "1970-01-01",
) -> Path:
    """Aggregate a run and build a site with one computed row per model of the run.

    Meant for ``vbench-cn demo`` and for looking at a run locally: rows made with random
    weights are kept but flagged on every page as a demo (the real leaderboard refuses them
    in :func:`vbench_cn.submissions.validate_submission`).
    """
    from vbench_cn.aggregation import aggregate
    from vbench_cn.results import read_records
    from vbench_cn.specs import load_specs
    from vbench_cn.submissions import make_submission

    specs = dict(sorted((specs if specs is not None else load_specs()).items()))
    records = read_records(run_dir)
    if not records:
        raise ValueError(f"{run_dir}: no records found (expected records/*.jsonl)")
    result = aggregate(records, specs)
    subs = []
    for name in sorted(result.models):
        subs.append(
            make_submission(
                result,
                run_model=name,
                model=name,
                organisation=organisation,
                version=Path(run_dir).name or "run",
                date=date,
                run=Path(run_dir).name,
                allow_random_weights=True,
                allow_custom_prompts=True,
            )
        )
    return build_site(subs, specs, out_dir)
