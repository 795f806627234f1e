"""``vbench-cn prompts export|stats|validate``: the prompt suite from the command line.

A thin layer over :mod:`vbench_cn.prompts`. Data (exported prompts) goes to stdout or
``--out``; the naming note and tables for humans go to stderr, so
``vbench-cn prompts export --lang zh > prompts.txt`` gives a clean file.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vbench_cn import prompts as suite_mod
from vbench_cn._text import did_you_mean

app = typer.Typer(
    name="prompts",
    help="The bilingual prompt suite (提示词集): export, stats, validate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_err = Console(stderr=True, soft_wrap=True)


class LangChoice(str, Enum):
    """Prompt language."""

    zh = "zh"
    en = "en"


class FormatChoice(str, Enum):
    """Export format."""

    txt = "txt"
    json = "json"


SuiteOpt = Annotated[
    Path | None,
    typer.Option(
        "--suite",
        help="Suite folder or .jsonl file (default: the built-in suite).",
        show_default=False,
    ),
]


def _usage_error(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _load(suite: Path | None) -> list[suite_mod.Prompt]:
    try:
        return suite_mod.load_suite(suite)
    except suite_mod.SuiteError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=1) from None


@app.command(
    "export",
    epilog=(
        "Examples:\n\n"
        "  vbench-cn prompts export --lang zh > prompts_zh.txt\n\n"
        "  vbench-cn prompts export --lang en --dimension scene --format json --out scene.json\n\n"
        "  vbench-cn prompts export --lang zh --dimension temporal_flickering --samples 25\n\n"
        "  vbench-cn prompts export --lang en --dimension box_alignment --format json --frames 16"
        '\n\nMotion-control prompts exported as json carry "conditioning": the boxes a '
        "box-conditioned model is given (format in docs/motion-control.md)."
    ),
)
def export_cmd(
    lang: Annotated[LangChoice, typer.Option("--lang", help="Prompt language: zh (中文) or en.")],
    dimension: Annotated[
        str | None,
        typer.Option(
            "--dimension",
            help="Only prompts of this suite tag or dimension (e.g. scene, dynamic_degree).",
        ),
    ] = None,
    fmt: Annotated[
        FormatChoice, typer.Option("--format", help="txt: id<TAB>text lines; json: a list.")
    ] = FormatChoice.txt,
    samples: Annotated[
        int, typer.Option("--samples", min=1, help="Videos to generate per prompt.")
    ] = suite_mod.DEFAULT_SAMPLES,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    frames: Annotated[
        int | None,
        typer.Option(
            "--frames",
            min=2,
            help="json: also give each motion-control object's box on every frame of a "
            "clip of this many frames.",
        ),
    ] = None,
    suite: SuiteOpt = None,
) -> None:
    """Export prompts to generate videos from; name each video {prompt_id}-{i}.mp4."""
    if frames is not None and fmt is not FormatChoice.json:
        raise _usage_error("--frames needs --format json (boxes are not part of the txt export)")
    tags = suite_mod.dimension_tags()
    if dimension is not None and dimension not in tags:
        raise _usage_error(f"unknown dimension {dimension!r}{did_you_mean(dimension, tags)}")
    prompts = _load(suite)
    if dimension is not None:
        prompts = suite_mod.by_tag(dimension, prompts)
    # Only prompt lines on stdout or in the file; the naming note goes to stderr below.
    text = suite_mod.export(
        prompts, lang.value, fmt.value, samples=samples, header=False, frames=frames
    )
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
    _err.print(
        f"{len(prompts)} prompts, {len(prompts) * samples} videos to generate. "
        f"{suite_mod.naming_note(lang.value, samples)}",
        markup=False,
        highlight=False,
    )


@app.command("stats")
def stats_cmd(
    suite: SuiteOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Prompts per tag and language against the minimum counts."""
    counts = suite_mod.stats(_load(suite))
    if as_json:
        import json

        typer.echo(json.dumps(counts, indent=2))
        return
    table = Table(title="vbench-cn prompt suite")
    for column in ("tag", "count", "en", "zh", "minimum", "ok"):
        table.add_column(column, justify="left" if column == "tag" else "right")
    for tag, row in counts.items():
        ok = row["en"] >= row["minimum"] and row["zh"] >= row["minimum"]
        table.add_row(
            tag,
            str(row["total"]),
            str(row["en"]),
            str(row["zh"]),
            str(row["minimum"]),
            "yes" if ok else "NO",
        )
    Console().print(table)


@app.command("validate")
def validate_cmd(
    suite: SuiteOpt = None,
    threshold: Annotated[
        float,
        typer.Option("--threshold", help="Near-duplicate similarity threshold (0-1]."),
    ] = 0.8,
) -> None:
    """Check the schema of every record, unique ids, and near-duplicates per language.

    Exit 1 on the first schema error or any near-duplicate pair.
    """
    prompts = _load(suite)
    problems = 0
    for lang in suite_mod.LANGS:
        for a, b, sim in suite_mod.find_near_duplicates(prompts, lang, threshold):
            typer.echo(f"near-duplicate ({lang}, {sim:.2f}): {a} ~ {b}", err=True)
            problems += 1
    if problems:
        raise typer.Exit(code=1)
    typer.echo(f"ok: {len(prompts)} prompts, schema valid, ids unique, no near-duplicates")
