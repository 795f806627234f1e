"""``vbench-cn reference build|list|import``: cached statistics of real videos, for fidelity.

The statistics are what FVD / FID / KID compare a model's videos against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vbench_cn.cli._common import (
    device_stop,
    parse_weight_overrides,
    split_list,
    stderr,
    stdout,
    usage_error,
)

reference_app = typer.Typer(
    help="Reference sets of real videos for FVD / FID / KID (参考集): build, list, import.",
    no_args_is_help=True,
)

BUILD_EPILOG = """Examples:

  vbench-cn reference build data/ucf101_clips --name ucf101

  vbench-cn reference build real/ --name smoke --random-weights --dimensions fvd,kid_frames

  vbench-cn evaluate videos/ --dimensions fidelity --reference ucf101
"""


@reference_app.command("build", epilog=BUILD_EPILOG)
def build(
    videos: Annotated[list[Path], typer.Argument(help="Real video files or folders.")],
    name: Annotated[
        str,
        typer.Option(
            "--name", "-n", help="Reference name (folder under $VBENCH_CN_HOME/references)."
        ),
    ],
    dimensions: Annotated[
        list[str] | None,
        typer.Option(
            "--dimensions",
            "-d",
            help="Set-level dimensions (default: all of category fidelity); "
            "comma list or repeated.",
        ),
    ] = None,
    random_weights: Annotated[
        bool,
        typer.Option(
            "--random-weights",
            help="Randomly initialised detectors (tests); "
            "only random-weight runs can use the result.",
        ),
    ] = False,
    weights_dir: Annotated[
        str | None, typer.Option("--weights-dir", help="Folder with checkpoints.")
    ] = None,
    weights: Annotated[
        list[str] | None,
        typer.Option("--weights", help="NAME=PATH: use this file for one detector."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    max_features: Annotated[
        int,
        typer.Option("--max-features", help="Feature vectors kept for KID (seeded random sample)."),
    ] = 4096,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir", help="Keep per-video features here (default: a temporary folder)."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing reference of that name.")
    ] = False,
    description: Annotated[
        str, typer.Option("--description", help="Free text stored with the statistics.")
    ] = "",
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")
    ] = True,
) -> None:
    """Extract features of real videos with the evaluation extractors and cache their statistics."""
    from vbench_cn.device_errors import DeviceFailure
    from vbench_cn.reference import ReferenceSetError
    from vbench_cn.reference_build import build_reference
    from vbench_cn.specs import SpecError

    for v in videos:
        if not v.exists():
            usage_error(f"{v}: no such file or folder")
    try:
        folder = build_reference(
            videos,
            name,
            dimensions=split_list(dimensions),
            random_weights=random_weights,
            device=device,
            weights_dir=weights_dir,
            weights_overrides=parse_weight_overrides(weights),
            work_dir=work_dir,
            max_features=max_features,
            overwrite=overwrite,
            progress=progress,
            description=description,
        )
    except (ReferenceSetError, SpecError, KeyError) as exc:
        usage_error(str(exc.args[0]) if exc.args else str(exc))
    except DeviceFailure as exc:
        device_stop(exc, work_dir)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    for dim, entry in meta["dimensions"].items():
        stderr.print(
            f"{dim}: {entry['count']} feature vectors from {entry['videos']} videos, "
            f"{entry['feature_dim']}-d, detector {entry['weights_id']}",
            highlight=False,
        )
        if "mu" in entry["arrays"] and entry["count"] <= entry["feature_dim"]:
            stderr.print(
                f"[yellow]warning[/yellow] {dim}: a full-rank "
                f"{entry['feature_dim']}x{entry['feature_dim']} covariance needs more than "
                f"{entry['feature_dim']} feature vectors; scores against this "
                "reference will be refused (add real videos)",
                markup=True,
                highlight=False,
            )
    typer.echo(str(folder))


@reference_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List cached reference sets and the dimensions each covers."""
    from rich.table import Table

    from vbench_cn.reference import list_references, references_home

    refs = list_references()
    if as_json:
        typer.echo(json.dumps(refs, ensure_ascii=False, indent=2))
        return
    if not refs:
        stderr.print(f"no reference sets in {references_home()}", highlight=False)
        return
    table = Table(title=f"reference sets / 参考集 ({references_home()})")
    for col in ("name", "dimension", "samples", "videos", "detector", "sampling", "created"):
        table.add_column(col)
    for ref in refs:
        if "error" in ref:
            table.add_row(ref["name"], "-", "-", "-", "-", "-", ref["error"])
            continue
        for dim, entry in sorted(ref.get("dimensions", {}).items()):
            table.add_row(
                ref["name"],
                dim,
                str(entry.get("count")),
                str(entry.get("videos")),
                str(entry.get("weights_id")),
                str(entry.get("sampling")),
                str(ref.get("created")),
            )
    stdout.print(table)


IMPORT_EPILOG = """Examples:

  vbench-cn reference import fid_stats_ucf101.npz --name ucf101_published --dimension fid_frames

  vbench-cn reference import stats.npz --name k400 --dimension fvd --count 2048
"""


@reference_app.command("import", epilog=IMPORT_EPILOG)
def import_(
    file: Annotated[
        Path, typer.Argument(help=".npz with mu and sigma (pytorch-fid style), or features.")
    ],
    name: Annotated[str, typer.Option("--name", "-n", help="Reference name.")],
    dimension: Annotated[
        str,
        typer.Option(
            "--dimension", help="Dimension the statistics are for (fid_frames, fvd, ...)."
        ),
    ],
    detector: Annotated[
        str | None,
        typer.Option(
            "--detector",
            help="Weights id they were made with (default: the dimension's published detector).",
        ),
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", help="Feature vectors behind mu/sigma, if known.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing reference of that name.")
    ] = False,
    description: Annotated[
        str, typer.Option("--description", help="Free text stored with the statistics.")
    ] = "",
) -> None:
    """Cache published statistics (mean/covariance) as a reference set."""
    from vbench_cn.reference import ReferenceSetError, import_reference

    try:
        folder = import_reference(
            file,
            name,
            dimension=dimension,
            weights_id=detector,
            count=count,
            overwrite=overwrite,
            description=description,
        )
    except ReferenceSetError as exc:
        usage_error(str(exc))
    typer.echo(str(folder))


def register(app: typer.Typer) -> None:
    """Mount ``vbench-cn reference ...``."""
    app.add_typer(reference_app, name="reference")
