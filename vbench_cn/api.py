"""The library API: what the CLI calls, usable from a training loop."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vbench_cn import __version__
from vbench_cn.manifest import PromptIndex, VideoItem, discover
from vbench_cn.protocol import ProtocolReport, check_protocol
from vbench_cn.results import Record, read_records
from vbench_cn.run_lock import run_lock
from vbench_cn.runner import Runner, RunOptions, probe_all
from vbench_cn.specs import DimensionSpec, load_specs, select_specs


def list_dimensions(extra_dirs: Iterable[str | os.PathLike[str]] = ()) -> list[DimensionSpec]:
    """Every available dimension spec, sorted by category then id."""
    specs = load_specs(extra_dirs)
    return sorted(specs.values(), key=lambda s: (s.category, s.id))


def evaluate(
    videos: Sequence[str | os.PathLike[str]] | Sequence[VideoItem],
    *,
    dimensions: Sequence[str] | None = None,
    model: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    dimensions_dirs: Iterable[str | os.PathLike[str]] = (),
    lang: str = "en",
    prompt_suite: str | None = None,
    as_dataframe: bool = False,
    **options: Any,
) -> list[Record] | Any:
    """Score videos; returns every record of the run (resumed ones included).

    Args:
        videos: files, folders (one per model, or one model with ``model``), manifests, or
            ready :class:`VideoItem` objects.
        dimensions: ids, categories or groups; None for all.
        model: model name for every video (otherwise from folder names).
        out_dir: run directory (records are appended there; re-running resumes). A
            temporary directory when None.
        lang: language of prompts for videos named by prompt id without a language tag.
        prompt_suite: VBench's prompt-info JSON, to recognise videos named by its prompts.
        as_dataframe: return a pandas DataFrame instead of a list of dicts.
        **options: any :class:`RunOptions` field (``random_weights``, ``device``, ...).
    """
    specs = select_specs(load_specs(dimensions_dirs), dimensions)
    if videos and isinstance(videos[0], VideoItem):
        items = list(videos)  # type: ignore[arg-type]
    else:
        index = PromptIndex.default(prompt_suite)
        items = discover(list(videos), model=model, index=index, default_lang=lang)  # type: ignore[arg-type]
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="vbench-cn-"))
    run_opts = RunOptions(out_dir=out, **options)
    with run_lock(out, run_opts.rank):  # before run.json: a second run into ``out`` is refused
        infos, _ = probe_all(items)
        runner = Runner(specs, run_opts)
        write_run_info(out, specs, run_opts, items)
        runner.run(items, infos=infos)
        mark_run_complete(out, run_opts)
    records = [r for r in read_records(out)]
    if as_dataframe:
        import pandas as pd

        return pd.DataFrame(records)
    return records


def protocol_report(
    items: Sequence[VideoItem], specs: Sequence[DimensionSpec]
) -> tuple[ProtocolReport, dict[str, Any]]:
    """Probe every video and report departures from the specs' expectations."""
    infos, _ = probe_all(items)
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
    _write_json(out_dir / "run.json", info)


def mark_run_complete(out_dir: Path, options: RunOptions) -> None:
    """Record in ``run.json`` that the run finished (rank 0; ``aggregate`` warns otherwise)."""
    path = Path(out_dir) / "run.json"
    if options.rank != 0 or not path.is_file():
        return
    info = json.loads(path.read_text(encoding="utf-8"))
    info["complete"] = True
    _write_json(path, info)


def run_status(run_dir: Path) -> dict[str, Any]:
    """What ``run.json`` says of a run: ``complete`` (None when it does not say), ``source``."""
    try:
        info = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"complete": None, "source": None}
    if not isinstance(info, dict):
        return {"complete": None, "source": None}
    return {"complete": info.get("complete"), "source": info.get("source")}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
