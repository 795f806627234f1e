"""``vbench-cn weights list|download|verify``: the checkpoint registry from the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Annotated, Any

import typer

from vbench_cn.cli._common import split_list, stderr, stdout, usage_error

EPILOG = """Examples:

  vbench-cn weights list --include 'clip*'

  vbench-cn weights download dino_vitb16 raft_things

  vbench-cn weights download --only imaging_quality,dynamic_degree

  HF_ENDPOINT=https://hf-mirror.com VBENCH_CN_MIRROR=https://example.org/vbench-cn \\
    vbench-cn weights download

  VBENCH_CN_OFFLINE=1 vbench-cn weights verify --weights-dir ~/.cache/vbench
"""

app = typer.Typer(
    help="Checkpoints: where they come from, their sha256, licence; download and verify them.",
    no_args_is_help=True,
    epilog=EPILOG,
)


def _select(names: list[str] | None, include: str | None) -> list[str]:
    import vbench_cn.features  # noqa: F401  (its backbone modules declare the checkpoints)
    from vbench_cn.weights import get_weights, list_weights

    if not names:
        return [w.name for w in list_weights(include)]
    out = []
    for name in names:
        try:
            out.append(get_weights(name).name)
        except KeyError as exc:
            usage_error(str(exc.args[0]))
    return out


def _needed_weights(dimensions: Iterable[str]) -> list[str]:
    """Names of the checkpoints the given dimensions need (their extractors' ``weights``)."""
    from vbench_cn.features import EXTRACTORS
    from vbench_cn.specs import load_specs

    specs = load_specs()
    names: list[str] = []
    for dim in dimensions:
        if dim not in specs:
            from vbench_cn._text import did_you_mean

            raise KeyError(f"unknown dimension {dim!r}{did_you_mean(dim, specs)}")
        backbone = specs[dim].backbone
        if backbone is None:
            continue
        for name in getattr(EXTRACTORS[backbone], "weights", ()):
            if name not in names:
                names.append(name)
    return names


@app.command("list", epilog=EPILOG)
def list_cmd(
    include: Annotated[
        str | None, typer.Option("--include", help="fnmatch pattern on names, e.g. 'clip*'.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List registered checkpoints: name, file, sha256 (or unpinned), size, licence, users."""
    import vbench_cn.features  # noqa: F401  (its backbone modules declare the checkpoints)
    from vbench_cn.weights import list_weights, weights_home

    rows: list[dict[str, Any]] = []
    for w in list_weights(include):
        present = (weights_home() / w.filename).is_file()
        rows.append(
            {
                "name": w.name,
                "filename": w.filename,
                "source": w.url,
                "sha256": w.sha256,
                "size_bytes": w.size_bytes,
                "license": w.license,
                "num_params": w.meta.get("num_params"),
                "used_by": list(w.meta.get("used_by", [])),
                "vbench_cache_path": w.meta.get("vbench_cache_path"),
                "unpinned_reason": w.unpinned_reason or None,
                "pickled": list(w.pickled),
                "in_home": present,
            }
        )
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    from rich.table import Table

    table = Table(title=f"weights (home: {weights_home()})")
    for col in ("name", "file", "sha256", "params", "licence", "used by", "in home"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["name"],
            r["filename"],
            (r["sha256"] or "unpinned")[:12],
            f"{r['num_params']:,}" if isinstance(r["num_params"], int) else "?",
            r["license"],
            ", ".join(r["used_by"]),
            "yes" if r["in_home"] else "no",
        )
    stdout.print(table)
    for r in rows:
        if r["unpinned_reason"]:
            stdout.print(f"{r['name']}: unpinned: {r['unpinned_reason']}", highlight=False)


@app.command("download", epilog=EPILOG)
def download_cmd(
    names: Annotated[
        list[str] | None, typer.Argument(help="Names (default: every entry, or --include).")
    ] = None,
    include: Annotated[
        str | None, typer.Option("--include", help="fnmatch pattern on names.")
    ] = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only", help="Only what these dimensions need (comma-separated dimension ids)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Download again even if a verified file is there.")
    ] = False,
) -> None:
    """Download checkpoints into $VBENCH_CN_HOME and verify their sha256 (exit 1 if any fails).

    A broken download resumes where it stopped on the next run. Mirrors: HF_ENDPOINT for
    Hugging Face files, VBENCH_CN_MIRROR (a folder URL holding the files under their
    upstream names) for the others.
    """
    import time

    from vbench_cn.download import RichProgress, rate_summary
    from vbench_cn.weights import WeightsError, download

    selected = _select(split_list(names), include)
    if only:
        try:
            wanted = _needed_weights(split_list([only]) or [])
        except KeyError as exc:
            usage_error(str(exc.args[0]))
        selected = [n for n in selected if n in wanted] if names or include else wanted
    failed = 0
    with RichProgress() as bars:
        for name in selected:
            start = time.monotonic()
            try:
                path = download(name, force=force, progress=bars.start(name))
            except WeightsError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failed += 1
                continue
            took = rate_summary(path.stat().st_size, time.monotonic() - start)
            stdout.print(f"{name}: {path} ({took})", highlight=False)
    if failed:
        raise typer.Exit(1)


@app.command("verify", epilog=EPILOG)
def verify_cmd(
    names: Annotated[
        list[str] | None, typer.Argument(help="Names (default: every entry, or --include).")
    ] = None,
    include: Annotated[
        str | None, typer.Option("--include", help="fnmatch pattern on names.")
    ] = None,
    weights_dir: Annotated[
        str | None,
        typer.Option("--weights-dir", help="Also look here (ours or VBench's cache layout)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")] = False,
) -> None:
    """Check files on disk against their pinned sha256: ok, unpinned, missing or mismatch.

    Exit code 1 when a file is missing or does not match; "unpinned" (no published digest)
    is reported with the computed sha256 and is not a failure.
    """
    from vbench_cn.features import ExtractorOptions
    from vbench_cn.weights import verify

    options = ExtractorOptions(weights_dir=weights_dir)
    results = [verify(name, options) for name in _select(split_list(names), include)]
    if as_json:
        print(json.dumps([r.__dict__ for r in results], indent=1))
    else:
        for r in results:
            line = f"{r.name}: {r.status}"
            if r.path:
                line += f" {r.path}"
            if r.sha256:
                line += f" sha256 {r.sha256}"
            if r.status in ("missing", "mismatch"):
                line += f" ({r.message})"
            stdout.print(line, highlight=False)
    if any(r.status in ("missing", "mismatch") for r in results):
        unusable = sum(r.status in ("missing", "mismatch") for r in results)
        stderr.print(f"{unusable} of {len(results)} not usable")
        raise typer.Exit(1)


def register(main: typer.Typer) -> None:
    """Mount ``weights`` on the main ``vbench-cn`` app."""
    main.add_typer(app, name="weights", help="Checkpoints: list, download, verify (sha256).")
