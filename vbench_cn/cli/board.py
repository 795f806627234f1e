"""``vbench-cn aggregate | compare | import-vbench | leaderboard build|submit|validate``.

A thin layer over :mod:`vbench_cn.aggregation`, :mod:`vbench_cn.comparison`,
:mod:`vbench_cn.vbench_import`, :mod:`vbench_cn.submissions` and :mod:`vbench_cn.site`.
Tables go to stdout (or ``--out``), notes to stderr; bad input exits 2 with one line.
"""

from __future__ import annotations

import datetime as _dt
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from vbench_cn.cli._common import usage_error
from vbench_cn.specs import DimensionSpec, SpecError, load_specs

DEFAULT_SUBMISSIONS = Path("leaderboard") / "submissions"

leaderboard_app = typer.Typer(
    name="leaderboard",
    help="The leaderboard (排行榜): build the static site, submit a run, validate submissions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class AggFormat(str, Enum):
    """Output format of ``aggregate`` and ``compare`` (:data:`vbench_cn.report.FORMATS`)."""

    md = "md"
    csv = "csv"
    json = "json"
    parquet = "parquet"


DimsDirOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--dimensions-dir", help="Extra folder of dimension specs (repeatable).", show_default=False
    ),
]


def _specs(extra: list[Path] | None) -> dict[str, DimensionSpec]:
    """Built-in + extra specs, by id."""
    try:
        return dict(sorted(load_specs(extra or ()).items()))
    except SpecError as exc:
        usage_error(str(exc))


def _records(run_dir: Path) -> list:
    from vbench_cn.results import read_records

    if not run_dir.exists():
        usage_error(f"{run_dir}: run directory not found")
    records = read_records(run_dir)
    if not records:
        usage_error(f"{run_dir}: no records found (expected records/*.jsonl)")
    return records


def _run_source(run_dir: Path) -> str | None:
    """``run.json``'s ``source`` (``"vbench"`` for an imported run), None if absent."""
    from vbench_cn.api import run_status

    return run_status(run_dir)["source"]


def _note_run_state(run_dir: Path, records: list) -> None:
    """Notes on stderr for what the numbers must not be read without: random weights, a run
    that did not finish, error records."""
    from vbench_cn.api import run_status

    random = sorted({str(r.get("model")) for r in records if r.get("random_weights")})
    if random:
        print(
            f"note: {', '.join(random)}: scored with random weights (--random-weights); "
            "these are not real scores",
            file=sys.stderr,
        )
    if run_dir.is_dir() and run_status(run_dir)["complete"] is False:
        print(
            f"note: {run_dir}: the run did not finish (stopped, failed or still running); "
            "re-run the same evaluate command to complete it",
            file=sys.stderr,
        )
    errors = sum(1 for r in records if r.get("status") == "error")
    if errors:
        print(
            f"note: {errors} records are errors (not averaged); `vbench-cn evaluate "
            "--retry-errors` scores them again",
            file=sys.stderr,
        )


def _check_out_file(out: Path | None) -> None:
    """Refuse, before any work, an ``--out`` that is a folder or sits under a file."""
    if out is None:
        return
    if out.is_dir():
        usage_error(f"--out {out}: is a folder; give a file name (e.g. {out / 'report.md'})")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        usage_error(f"--out {out}: {parent} is a file, not a folder")


def _emit(result: Any, fmt: AggFormat, out: Path | None) -> None:
    """Render ``result`` in ``fmt`` to ``out``, or to stdout (Parquet as bytes)."""
    from vbench_cn.report import render

    data = render(result, fmt.value)
    if out is None:
        if isinstance(data, bytes):
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            out.write_bytes(data)
        else:
            out.write_text(data, encoding="utf-8")
    except OSError as exc:
        usage_error(f"--out {out}: cannot write ({exc.strerror or exc})")
    print(f"wrote {out}", file=sys.stderr)


AGGREGATE_EPILOG = """Examples:

  vbench-cn aggregate runs/my-model

  vbench-cn aggregate runs/my-model --format json --out my-model.json

  vbench-cn aggregate runs/my-model --format csv --resamples 5000
"""


def aggregate_cmd(
    run_dir: Annotated[
        Path, typer.Argument(help="Run directory (records/*.jsonl) or one JSONL file.")
    ],
    fmt: Annotated[
        AggFormat, typer.Option("--format", help="md, csv, json or parquet.")
    ] = AggFormat.md,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    resamples: Annotated[
        int, typer.Option("--resamples", min=100, help="Bootstrap replicates.")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    dimensions_dir: DimsDirOpt = None,
    language_parity: Annotated[
        bool,
        typer.Option(
            "--language-parity",
            help="Report the zh − en gap per model and dimension "
            "(videos made from both versions of the same prompts), with paired CIs (语言一致性).",
        ),
    ] = False,
) -> None:
    """Per model and dimension: mean, 95 % CI over prompts, normalised and category scores (汇总)."""  # noqa: E501 (help text: one line)
    _check_out_file(out)
    if language_parity:
        from vbench_cn.language_parity import LanguageParityResult
        from vbench_cn.language_parity import language_parity as parity_table

        table = parity_table(
            _records(run_dir), _specs(dimensions_dir), num_resamples=resamples, seed=seed
        )
        _emit(LanguageParityResult(table), fmt, out)
        return
    from vbench_cn.aggregation import aggregate

    records = _records(run_dir)
    _note_run_state(run_dir, records)
    result = aggregate(records, _specs(dimensions_dir), num_resamples=resamples, seed=seed)
    if result.unknown_dimensions:
        print(
            f"note: no spec for {', '.join(result.unknown_dimensions)}; not aggregated",
            file=sys.stderr,
        )
    _emit(result, fmt, out)


COMPARE_EPILOG = """Examples:

  vbench-cn compare runs/ckpt-1000 runs/ckpt-2000

  vbench-cn compare runs/a runs/b --format csv --out diff.csv

  vbench-cn compare runs/demo runs/demo --model-a steady-cam --model-b flicker-gen
"""


def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="Baseline run (A).")],
    run_b: Annotated[Path, typer.Argument(help="Candidate run (B); differences are B − A.")],
    fmt: Annotated[
        AggFormat, typer.Option("--format", help="md, csv, json or parquet.")
    ] = AggFormat.md,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    alpha: Annotated[
        float, typer.Option("--alpha", min=0.0001, max=0.5, help="Family-wise error level (Holm).")
    ] = 0.05,
    seed: Annotated[int, typer.Option("--seed", help="Resampling seed.")] = 0,
    model_a: Annotated[
        str | None, typer.Option("--model-a", help="Model of run A, if it holds several.")
    ] = None,
    model_b: Annotated[
        str | None, typer.Option("--model-b", help="Model of run B, if it holds several.")
    ] = None,
    dimensions_dir: DimsDirOpt = None,
) -> None:
    """Paired comparison of two runs on their shared prompts, Holm-corrected (对比两次评测)."""
    from vbench_cn.comparison import compare

    _check_out_file(out)
    specs = _specs(dimensions_dir)
    try:
        result = compare(
            _records(run_a),
            _records(run_b),
            specs,
            model_a=model_a,
            model_b=model_b,
            alpha=alpha,
            seed=seed,
        )
    except ValueError as exc:
        usage_error(f"{exc} (--model-a / --model-b)")
    for warning in result.warnings:
        print(f"note: {warning}", file=sys.stderr)
    _emit(result, fmt, out)


IMPORT_EPILOG = """Examples:

  vbench-cn import-vbench evaluation_results/mymodel_eval_results.json --model mymodel --out runs/mymodel-vbench

  vbench-cn aggregate runs/mymodel-vbench
"""  # noqa: E501 (an example command is one line)


def import_vbench_cmd(
    eval_results: Annotated[Path, typer.Argument(help="VBench's {name}_eval_results.json.")],
    model: Annotated[str, typer.Option("--model", help="Model name for the records.")],
    out: Annotated[Path, typer.Option("--out", help="Run directory to create.")],
    dimensions_dir: DimsDirOpt = None,
) -> None:
    """Convert VBench results into vbench-cn records, for intervals, comparisons and the site (导入 VBench 结果)."""  # noqa: E501 (help text: one line)
    from vbench_cn.submissions import check_model_name
    from vbench_cn.vbench_import import VBenchImportError, import_eval_results

    try:
        check_model_name(model, "--model")
        run, records, aggregates = import_eval_results(
            eval_results, out, model=model, specs=_specs(dimensions_dir)
        )
    except (VBenchImportError, ValueError) as exc:
        usage_error(str(exc))
    n_err = sum(1 for r in records if r["status"] != "ok")
    print(
        f"wrote {len(records)} records ({n_err} errors) for {len(aggregates)} dimensions to {run}",
        file=sys.stderr,
    )


BUILD_EPILOG = """Examples:

  vbench-cn leaderboard build --out site/

  vbench-cn leaderboard build --submissions my-subs/ --out /tmp/site && xdg-open /tmp/site/index.html
"""  # noqa: E501 (an example command is one line)


SubmissionsOpt = Annotated[
    Path | None,
    typer.Option(
        "--submissions",
        help="Folder of submission JSON files (default: ./leaderboard/submissions if there, "
        "else the ones shipped with vbench-cn).",
        show_default=False,
    ),
]


@leaderboard_app.command("build", epilog=BUILD_EPILOG)
def build_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output folder of the static site.")] = Path(
        "site"
    ),
    submissions: SubmissionsOpt = None,
    dimensions_dir: DimsDirOpt = None,
) -> None:
    """Build the static bilingual site from the submissions (生成静态网站)."""
    from vbench_cn._resources import submissions_dir
    from vbench_cn.site import build_site
    from vbench_cn.site.output import SiteError, check_site_target
    from vbench_cn.submissions import SubmissionError, load_submissions

    specs = _specs(dimensions_dir)
    try:
        check_site_target(out)
        subs = load_submissions(submissions or submissions_dir(), specs)
        index = build_site(subs, specs, out)
    except (SubmissionError, SiteError) as exc:
        usage_error(str(exc))
    except OSError as exc:
        usage_error(f"{out}: cannot write the site ({exc.strerror or exc})")
    print(f"built {len(subs)} rows: {index}", file=sys.stderr)


SUBMIT_EPILOG = """Examples:

  vbench-cn leaderboard submit runs/my-model --model "MyModel" --org "My Lab" --version 1.0 --link https://example.org
"""


@leaderboard_app.command("submit", epilog=SUBMIT_EPILOG)
def submit_cmd(
    run_dir: Annotated[Path, typer.Argument(help="Run directory to submit.")],
    model: Annotated[str, typer.Option("--model", help="Display name of the model.")],
    org: Annotated[str, typer.Option("--org", help="Organisation.")],
    version: Annotated[str, typer.Option("--version", help="Model version or checkpoint.")] = "1",
    date: Annotated[
        str | None, typer.Option("--date", help="YYYY-MM-DD (default: today, UTC).")
    ] = None,
    link: Annotated[
        str | None, typer.Option("--link", help="http(s) link to the model or paper.")
    ] = None,
    run_model: Annotated[
        str | None, typer.Option("--run-model", help="Which model of the run, if several.")
    ] = None,
    notes: Annotated[
        str | None, typer.Option("--notes", help="Free text shown on the model page.")
    ] = None,
    submissions: Annotated[
        Path, typer.Option("--submissions", help="Folder to write into.")
    ] = DEFAULT_SUBMISSIONS,
    dimensions_dir: DimsDirOpt = None,
) -> None:
    """Write a computed submission from a run; runs with random weights are refused (提交)."""
    from vbench_cn.aggregation import aggregate
    from vbench_cn.submissions import make_submission, write_submission

    specs = _specs(dimensions_dir)
    if _run_source(run_dir) == "vbench":
        usage_error(
            f"{run_dir}: imported from VBench results (import-vbench), so not a vbench-cn run; "
            "the computed table takes only runs vbench-cn scored. Score the videos with "
            "`vbench-cn evaluate VIDEOS --out RUN` and submit that run, or, for published "
            'numbers, add a reported row (kind "reported", benchmark "vbench", a source '
            "citation; see leaderboard/README.md)"
        )
    result = aggregate(_records(run_dir), specs)
    date = date or _dt.datetime.now(_dt.timezone.utc).date().isoformat()
    try:
        doc = make_submission(
            result,
            run_model=run_model,
            model=model,
            organisation=org,
            version=version,
            date=date,
            link=link,
            notes=notes,
            run=run_dir.name,
        )
        path = write_submission(doc, submissions, specs)
    except ValueError as exc:
        usage_error(f"{run_dir}: {exc}")
    print(f"wrote {path}", file=sys.stderr)


@leaderboard_app.command("validate")
def validate_cmd(
    submissions: SubmissionsOpt = None,
    dimensions_dir: DimsDirOpt = None,
) -> None:
    """Check every submission file against the schema (校验提交文件)."""
    from vbench_cn._resources import submissions_dir
    from vbench_cn.submissions import SubmissionError, load_submissions

    try:
        subs = load_submissions(submissions or submissions_dir(), _specs(dimensions_dir))
    except SubmissionError as exc:
        usage_error(str(exc))
    kinds = {k: sum(1 for s in subs if s["kind"] == k) for k in ("computed", "reported")}
    print(
        f"{len(subs)} valid submissions "
        f"({kinds['computed']} computed, {kinds['reported']} reported)"
    )


def register(app: typer.Typer) -> None:
    """Attach the aggregation, comparison, import and leaderboard commands to ``app``."""
    app.command("aggregate", epilog=AGGREGATE_EPILOG)(aggregate_cmd)
    app.command("compare", epilog=COMPARE_EPILOG)(compare_cmd)
    app.command("import-vbench", epilog=IMPORT_EPILOG)(import_vbench_cmd)
    app.add_typer(leaderboard_app, name="leaderboard")
