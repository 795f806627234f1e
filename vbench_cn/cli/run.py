"""Commands that score videos: ``evaluate``, ``demo``, ``dimensions``, ``merge``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vbench_cn.cli._common import (
    device_stop,
    parse_weight_overrides,
    split_list,
    stderr,
    stdout,
    usage_error,
)
from vbench_cn.run_reporter import RunReporter

if TYPE_CHECKING:
    from vbench_cn.protocol import ProtocolReport
    from vbench_cn.results import Record
    from vbench_cn.runner import Profile

EVALUATE_EPILOG = """Examples:

  vbench-cn evaluate videos/sora --model sora --dimensions quality --out runs/sora

  vbench-cn evaluate videos/ --dimensions subject_consistency,temporal_flickering --random-weights

  vbench-cn evaluate manifest.jsonl --dimensions semantic --lang zh --out runs/ckpt-42
"""


#: What ``evaluate`` scores without ``--dimensions``: VBench's seven quality dimensions.
DEFAULT_DIMENSIONS = ("quality",)


def check_out_folder(out: Path) -> None:
    """Refuse, before any work, an ``--out`` that is a file or cannot be created or written."""
    if out.exists() and not out.is_dir():
        usage_error(f"--out {out}: exists and is not a folder")
    existing = out
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        usage_error(f"--out {out}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        usage_error(f"--out {out}: {existing} is not writable")


def evaluate(
    videos: Annotated[
        list[Path],
        typer.Argument(
            help="Video files, folders (one sub-folder per model) or CSV/JSONL manifests."
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Model name for all videos (default: folder names)."),
    ] = None,
    dimensions: Annotated[
        list[str] | None,
        typer.Option(
            "--dimensions",
            "-d",
            help="Dimension ids, categories (quality, semantic, duration, fidelity, control) or "
            "'all'; comma list or repeated. Default: quality (VBench's seven).",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Run directory; re-running into it resumes.")
    ] = Path("runs/latest"),
    random_weights: Annotated[
        bool,
        typer.Option(
            "--random-weights",
            help="Randomly initialised backbones (tests, smoke runs); marked in every record.",
        ),
    ] = False,
    weights_dir: Annotated[
        str | None,
        typer.Option(
            "--weights-dir", help="Folder with checkpoints (ours or VBench's cache layout)."
        ),
    ] = None,
    weights: Annotated[
        list[str] | None,
        typer.Option(
            "--weights", help="NAME=PATH: use this file for one backbone (its sha256 is recorded)."
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="parity: VBench's precisions (fp32 matmuls, fp16 only where VBench uses it); "
            "fast: also TF32 matmuls and cudnn.benchmark (scores may move ~1e-4), and "
            "--decoder torchcodec on NVDEC. Recorded in run.json.",
        ),
    ] = "parity",
    lang: Annotated[
        str,
        typer.Option(
            "--lang", help="Prompt language for videos named by prompt id only (zh or en)."
        ),
    ] = "en",
    prompt_suite: Annotated[
        str | None,
        typer.Option(
            "--prompt-suite",
            help="VBench's VBench_full_info.json, to read videos named by VBench's prompts.",
        ),
    ] = None,
    dimensions_dir: Annotated[
        list[Path] | None,
        typer.Option("--dimensions-dir", help="Extra folder of dimension specs."),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference", help="Reference statistics for fidelity dimensions (name or .npz)."
        ),
    ] = None,
    chunk_frames: Annotated[
        int,
        typer.Option(
            "--chunk-frames",
            help="Most frames decoded at a time; "
            "chunks are also capped at 48 MB of frames (bounds memory).",
        ),
    ] = 64,
    decode_workers: Annotated[
        int,
        typer.Option(
            "--decode-workers",
            help="Threads decoding videos at once, each its own video (0: 1 on CPU, 4 on a GPU).",
        ),
    ] = 0,
    decoder: Annotated[
        str,
        typer.Option(
            "--decoder",
            help="pyav, or torchcodec (pip install 'vbench-cn[torchcodec]' and FFmpeg 4-9): "
            "native-size frames decoded by torchcodec, on NVDEC under --precision fast, else "
            "on the CPU; scaled views stay with PyAV. Part of each record's identity.",
        ),
    ] = "pyav",
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="Score again the videos recorded as errors.")
    ] = False,
    all_prompts: Annotated[
        bool,
        typer.Option(
            "--all-prompts", help="Score every dimension on every video, ignoring the prompt tags."
        ),
    ] = False,
    profile: Annotated[
        bool,
        typer.Option(
            "--profile", help="Print where time went: decode, forward per backbone, idle."
        ),
    ] = False,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")
    ] = True,
) -> None:
    """Score videos along dimensions and append the records to --out (resumable)."""
    from rich.markup import escape

    from vbench_cn import api
    from vbench_cn.device_errors import DeviceFailure
    from vbench_cn.device_setup import PRECISIONS
    from vbench_cn.manifest import ManifestError, PromptIndex, scan
    from vbench_cn.preflight import SetupError, resolve_device
    from vbench_cn.run_lock import RunLocked
    from vbench_cn.specs import SpecError, load_specs, select_specs
    from vbench_cn.video_torchcodec import decoder_problem

    # Everyday mistakes: one line, exit 2, before anything is probed, built or written.
    if lang not in ("en", "zh"):
        usage_error(f"--lang must be en or zh, got {lang!r}")
    if chunk_frames < 1:
        usage_error(f"--chunk-frames must be 1 or more, got {chunk_frames}")
    if precision not in PRECISIONS:
        usage_error(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if decode_workers < 0:
        usage_error(f"--decode-workers must be 0 (automatic) or more, got {decode_workers}")
    problem = decoder_problem(decoder)
    if problem is not None:
        usage_error(problem)
    try:
        resolve_device(device)
    except SetupError as exc:
        usage_error(str(exc))
    overrides = parse_weight_overrides(weights)
    check_out_folder(out)
    asked = split_list(dimensions)
    if asked is None:
        asked = list(DEFAULT_DIMENSIONS)
        stderr.print(
            f"no --dimensions: scoring the {', '.join(DEFAULT_DIMENSIONS)} dimensions "
            "(--dimensions all for every one)",
            highlight=False,
        )
    try:
        specs = select_specs(load_specs(dimensions_dir or ()), asked)
    except (KeyError, SpecError) as exc:
        usage_error(str(exc.args[0]) if exc.args else str(exc))
    try:
        index = PromptIndex.default(prompt_suite)
        found = scan(videos, model=model, index=index, default_lang=lang)
    except (ManifestError, OSError) as exc:
        usage_error(str(exc))
    items = found.items
    if not items:
        usage_error(found.nothing_found(videos))
    for line in found.summary():  # file names may hold [brackets]: escaped, not markup
        stderr.print(f"[yellow]scan[/yellow] {escape(line)}", markup=True, highlight=False)
    reporter = _ConsoleReporter(out, retry_errors=retry_errors, profile=profile)
    try:
        api.evaluate(
            items,
            dimensions=specs,
            out_dir=out,
            reporter=reporter,
            device=device,
            precision=precision,
            random_weights=random_weights,
            weights_dir=weights_dir,
            weights_overrides=overrides,
            chunk_frames=chunk_frames,
            decode_workers=decode_workers,
            decoder=decoder,
            retry_errors=retry_errors,
            all_prompts=all_prompts,
            reference=reference,
            progress=progress,
            profile=profile,
        )
    except (RunLocked, SetupError) as exc:
        usage_error(str(exc))
    except DeviceFailure as exc:
        device_stop(exc, out)
    except KeyboardInterrupt:
        stderr.print(
            f"interrupted; every finished video is in {out}, and the same command resumes "
            "from there",
            highlight=False,
        )
        raise typer.Exit(130) from None
    except OSError as exc:
        if not reporter.started:  # the lock or run.json: nothing was scored
            usage_error(f"--out {out}: cannot write there ({exc.strerror or exc})")
        usage_error(  # a full disk mid-run: what is recorded stays, re-run resumes
            f"{out}: cannot write ({exc.strerror or exc}); records written so far are kept, "
            "re-run the same command to resume"
        )


class _ConsoleReporter(RunReporter):
    """What ``evaluate`` prints on stderr: the set as found, the records written, the profile."""

    def __init__(self, out: Path, *, retry_errors: bool, profile: bool) -> None:
        self.out = out
        self.retry_errors = retry_errors
        self.profile = profile
        self.started = False

    def probed(self, report: ProtocolReport, errors: dict[str, str]) -> None:
        self.started = True
        for line in report.summary:
            stderr.print(f"[bold]found[/bold] {line}", markup=True, highlight=False)
        for err in errors.values():
            stderr.print(f"[red]error[/red] {err}", markup=True, highlight=False)
        for line in report.warnings:
            stderr.print(f"[yellow]warning[/yellow] {line}", markup=True, highlight=False)

    def finished(self, rank: int, written: list[Record], seconds: float, profile: Profile) -> None:
        from vbench_cn.results import read_records
        from vbench_cn.runner import print_profile

        self.started = True
        n_err = sum(1 for r in written if r["status"] == "error")
        n_skip = sum(1 for r in written if r["status"] == "skipped")
        stderr.print(
            f"rank {rank}: {len(written)} records written "
            f"({n_err} errors, {n_skip} not applicable) in {seconds:.1f} s → {self.out}",
            highlight=False,
        )
        if rank == 0 and not self.retry_errors:
            kept = sum(1 for r in read_records(self.out) if r.get("status") == "error") - n_err
            if kept > 0:
                stderr.print(
                    f"note: {kept} error records of earlier runs are kept (their inputs did not "
                    "change); --retry-errors scores them again",
                    highlight=False,
                )
        if self.profile:
            print_profile(profile)

    def merged(self, count: int, path: Path, world_size: int) -> None:
        stderr.print(f"merged {count} records from {world_size} ranks → {path}")


dimensions_app = typer.Typer(help="Dimension specs: list and validate.", no_args_is_help=True)


@dimensions_app.command("list")
def dimensions_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    dimensions_dir: Annotated[list[Path] | None, typer.Option("--dimensions-dir")] = None,
) -> None:
    """List dimensions with English and Chinese names (维度列表)."""
    from rich.table import Table

    from vbench_cn.specs import SpecError, load_specs

    try:
        # Data only: listing needs no scorer module (nor torch); `dimensions validate` checks those.
        loaded = load_specs(dimensions_dir or (), check_registries=False)
    except SpecError as exc:
        usage_error(str(exc))
    specs = sorted(loaded.values(), key=lambda s: (s.category, s.id))
    rows = [
        {
            "id": s.id,
            "en": s.label("en"),
            "zh": s.label("zh"),
            "category": s.category,
            "backbone": s.backbone,
            "parity": s.parity,
            "version": s.version,
        }
        for s in specs
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="vbench-cn dimensions / 评测维度")
    for col in ("id", "en", "zh", "category", "backbone", "parity"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r[c]) for c in ("id", "en", "zh", "category", "backbone", "parity")))
    stdout.print(table)


@dimensions_app.command("validate")
def dimensions_validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Spec files or folders (default: built-in).")
    ] = None,
) -> None:
    """Check spec files: fields, scorer and its parameters, extractor, sampling, normalisation."""
    from vbench_cn.specs import SpecError, load_spec, load_specs

    try:
        if not paths:
            n = len(load_specs())
        else:
            n = 0
            for p in paths:
                files = sorted(p.glob("*.toml")) if p.is_dir() else [p]
                for f in files:
                    load_spec(f)
                    n += 1
    except SpecError as exc:
        usage_error(str(exc))
    typer.echo(f"{n} specs valid")


def merge(
    shards: Annotated[
        list[Path], typer.Argument(help="Record shards (.jsonl) or run directories.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Merged JSONL file.")] = Path(
        "merged.jsonl"
    ),
) -> None:
    """Join record shards from several processes or nodes into one file (duplicates dropped)."""
    from vbench_cn.results import merge_shards

    for s in shards:
        if not s.exists():
            usage_error(f"{s}: no such file or folder")
    n = merge_shards(shards, out)
    typer.echo(f"{n} records → {out}")


def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where the demo writes videos, records and site.")
    ] = Path("vbench-cn-demo"),
    site: Annotated[
        bool, typer.Option("--site/--no-site", help="Build the leaderboard site at the end.")
    ] = True,
) -> None:
    """Generate synthetic videos of pretend models, score them, print a ranking (offline, ~20 CPU-s)."""  # noqa: E501 (help text: one line)
    from vbench_cn.demo import run_demo

    run_demo(out, build_site=site)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the main app."""
    app.command(epilog=EVALUATE_EPILOG)(evaluate)
    app.command()(demo)
    app.command()(merge)
    app.add_typer(dimensions_app, name="dimensions")
