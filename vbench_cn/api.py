"""The library API: what the CLI calls, usable from a training loop."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vbench_cn import __version__
from vbench_cn.manifest import PromptIndex, VideoItem, discover
from vbench_cn.protocol import ProtocolReport, check_protocol
from vbench_cn.results import (
    Record,
    read_records,
    read_run_info,
    update_run_info,
    write_run_info_file,
)
from vbench_cn.run_lock import run_lock
from vbench_cn.run_reporter import RunReporter
from vbench_cn.runner import Runner, RunOptions, infos_of, probe_all
from vbench_cn.specs import DimensionSpec, load_specs, select_specs


def list_dimensions(extra_dirs: Iterable[str | os.PathLike[str]] = ()) -> list[DimensionSpec]:
    """Every available dimension spec, sorted by category then id."""
    specs = load_specs(extra_dirs)
    return sorted(specs.values(), key=lambda s: (s.category, s.id))


def evaluate(
    videos: Sequence[str | os.PathLike[str]] | Sequence[VideoItem],
    *,
    dimensions: Sequence[str] | Sequence[DimensionSpec] | None = None,
    model: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    dimensions_dirs: Iterable[str | os.PathLike[str]] = (),
    lang: str = "en",
    prompt_suite: str | None = None,
    as_dataframe: bool = False,
    reporter: RunReporter | None = None,
    **options: Any,
) -> list[Record] | Any:
    """Score videos; returns every record of the run (resumed ones included).

    Under torchrun (``WORLD_SIZE`` > 1) each rank scores its shard of the videos into its
    own records shard; once all are done, rank 0 scores the set-level dimensions and merges
    the shards, and every rank returns the whole run's records. The CLI's ``evaluate`` is
    this function.

    Args:
        videos: files, folders (one per model, or one model with ``model``), manifests, or
            ready :class:`VideoItem` objects.
        dimensions: ids, categories or groups (None for all), or ready specs.
        model: model name for every video (otherwise from folder names).
        out_dir: run directory (records are appended there; re-running resumes). A
            temporary directory when None (rank 0's, shared by every rank).
        lang: language of prompts for videos named by prompt id without a language tag.
        prompt_suite: VBench's prompt-info JSON, to recognise videos named by its prompts.
        as_dataframe: return a pandas DataFrame instead of a list of dicts.
        reporter: what the run says as it goes (default: the ``logging`` module).
        **options: any :class:`RunOptions` field (``random_weights``, ``device``, ...);
            ``rank`` and ``world_size`` default to torchrun's.
    """
    from vbench_cn.distributed import barrier, broadcast, dist_context, gather_dicts
    from vbench_cn.results import MERGED_NAME, merge_shards

    if dimensions and isinstance(dimensions[0], DimensionSpec):
        specs = list(dimensions)  # type: ignore[arg-type]
    else:
        specs = select_specs(load_specs(dimensions_dirs), dimensions)  # type: ignore[arg-type]
    if videos and isinstance(videos[0], VideoItem):
        items = list(videos)  # type: ignore[arg-type]
    else:
        index = PromptIndex.default(prompt_suite)
        items = discover(list(videos), model=model, index=index, default_lang=lang)  # type: ignore[arg-type]
    reporter = reporter or RunReporter()
    with dist_context() as (rank, world_size):
        options.setdefault("rank", rank)
        options.setdefault("world_size", world_size)
        if out_dir is None:
            made = tempfile.mkdtemp(prefix="vbench-cn-") if options["rank"] == 0 else None
            out_dir = broadcast(made)
        out = Path(out_dir)  # type: ignore[arg-type]
        run_opts = RunOptions(out_dir=out, **options)
        run_opts.progress = run_opts.progress and run_opts.rank == 0
        with run_lock(out, run_opts.rank):  # before run.json: a second run into ``out`` is refused
            t0 = time.perf_counter()
            runner = Runner(specs, run_opts)
            probes, errors = probe_all(runner.shard(items))  # this rank's videos only
            runner.profile.probe_seconds += time.perf_counter() - t0
            infos = infos_of(probes)
            if run_opts.world_size > 1:  # rank 0 reports on the whole set
                infos, errors = gather_dicts(infos), gather_dicts(errors)
            if run_opts.rank == 0:
                reporter.probed(check_protocol(items, infos, specs, errors), errors)
            write_run_info(out, specs, run_opts, items)
            written = runner.run(items, probes=probes)  # decoders start from the probes
            barrier()  # every rank's videos, and their set-level features, are in ``out``
            if run_opts.rank == 0:
                written += runner.score_sets(items)  # set level: one pass over all ranks' features
                mark_run_complete(out, run_opts)
                if run_opts.world_size > 1:
                    count = merge_shards([out], out / MERGED_NAME)
                    reporter.merged(count, out / MERGED_NAME, run_opts.world_size)
            if run_opts.profile:
                profile_path = out / f"profile-rank{run_opts.rank}.json"
                profile_path.write_text(
                    json.dumps(runner.profile.summary(), indent=2), encoding="utf-8"
                )
            reporter.finished(run_opts.rank, written, time.perf_counter() - t0, runner.profile)
        barrier()  # rank 0's set-level records are written: every rank reads the same run
    records = read_records(out)
    if as_dataframe:
        import pandas as pd

        return pd.DataFrame(records)
    return records


def protocol_report(
    items: Sequence[VideoItem], specs: Sequence[DimensionSpec]
) -> tuple[ProtocolReport, dict[str, Any]]:
    """Probe every video and report departures from the specs' expectations."""
    infos = infos_of(probe_all(items)[0])
    return check_protocol(items, infos, specs), infos


def write_run_info(
    out_dir: Path, specs: Sequence[DimensionSpec], options: RunOptions, items: Sequence[VideoItem]
) -> None:
    """``run.json``: what was asked, for provenance (rank 0 writes it)."""
    if options.rank != 0:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    opts = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()}
    info = {
        "suite_version": __version__,
        "models": sorted({it.model for it in items}),
        "videos": len(items),
        "dimensions": [{"id": s.id, "version": s.version, "sha256": s.sha256} for s in specs],
        "options": opts,
        "complete": False,  # set by mark_run_complete once every video was scored
    }
    write_run_info_file(out_dir, info)


def mark_run_complete(out_dir: Path, options: RunOptions) -> None:
    """Record in ``run.json`` that the run finished (rank 0; ``aggregate`` warns otherwise)."""
    if options.rank != 0 or read_run_info(out_dir) is None:
        return
    update_run_info(out_dir, "complete", True)


def run_status(run_dir: Path) -> dict[str, Any]:
    """What ``run.json`` says of a run: ``complete`` (None when it does not say), ``source``."""
    info = read_run_info(run_dir) or {}
    return {"complete": info.get("complete"), "source": info.get("source")}
