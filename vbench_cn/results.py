"""Records: one JSON line per (video, dimension), appended and flushed as soon as computed.

A run directory holds ``records/*.jsonl`` (one shard per process: ``records-rank{r}.jsonl``)
and ``run.json`` (what was asked). Re-running into the same directory skips every
(video, dimension, dimension_version) already recorded whose inputs still hold (the file,
its probe, the spec, the weights, the prompt: :mod:`vbench_cn.inputs`), so a killed run
resumes where it stopped; a torn last line (a kill mid-write) is ignored on read and
rewritten. A record scored again is appended. Of several records of one key (a retry, or
shards of ranks that scored it in different runs) the newest wins by ``written_at``; records
without one (older runs) fall back to ``ok`` over ``error``, then the later line.
``merged.jsonl`` (what ``merge`` writes) is a copy for readers, never read back over the
shards of its run folder: a stale one would hide what a later run fixed.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TypedDict

from vbench_cn import __version__

Status = Literal["ok", "error", "skipped"]


class Record(TypedDict, total=False):
    """One scored (video, dimension) pair, or one set-level score (``video`` is None).

    Keys:
        model: model name the video belongs to.
        video: path of the video relative to the folder it was found in (None for set level).
        prompt_id: suite prompt id (or a custom id), None when unknown.
        prompt_lang: ``"zh"`` or ``"en"``, the language of the prompt the video was made from.
        sample: sample index of this prompt (0 based).
        dimension, dimension_version, spec_sha256: which spec scored it.
        level: ``"video"`` or ``"set"``.
        score: the value (None unless status is ok).
        details: small dict of explanatory numbers; ``details["weight"]`` weighs the video.
        status: ``ok``; ``error`` (``error`` holds the one-line cause); ``skipped`` (not
            applicable; ``error`` holds the reason; never averaged as 0).
        weights: ``"name@sha256[:12]"`` of the backbone weights, or ``"random"``.
        random_weights: true when any backbone had random weights (refused by the leaderboard).
        probe: the video's metadata (fps, frames, duration, size, codec) as found.
        source: the video file's ``{size, mtime_ns, sha256}`` when it was scored.
        inputs: the other inputs a resume compares (``precision``; ``prompt`` digest for
            dimensions that read the prompt; ``videos`` and ``reference`` for set level);
            see :mod:`vbench_cn.inputs`.
        suite_version, seconds: package version and wall seconds spent on this record.
        written_at: Unix time the record was written (stamped by :class:`RecordWriter`);
            which of two records of one key is newer (:func:`prefer`).
    """

    model: str
    video: str | None
    prompt_id: str | None
    prompt_lang: str | None
    sample: int | None
    dimension: str
    dimension_version: int
    spec_sha256: str
    level: str
    score: float | None
    details: dict[str, Any]
    status: Status
    error: str | None
    weights: str | None
    random_weights: bool
    probe: dict[str, Any] | None
    source: dict[str, Any] | None
    inputs: dict[str, Any]
    suite_version: str
    seconds: float
    written_at: float


#: The file ``merge`` writes into a run folder; never read back as one of its shards.
MERGED_NAME = "merged.jsonl"

RecordKey = tuple[str, str | None, str, int]


def record_key(rec: Record | dict[str, Any]) -> RecordKey:
    """Identity of a record for resume and merge: (model, video, dimension, version)."""
    return (rec["model"], rec.get("video"), rec["dimension"], int(rec.get("dimension_version", 1)))


def make_record(**fields: Any) -> Record:
    """A record with defaults filled in (status ok, suite version, level video)."""
    rec: dict[str, Any] = {
        "model": None,
        "video": None,
        "prompt_id": None,
        "prompt_lang": None,
        "sample": None,
        "dimension": None,
        "dimension_version": 1,
        "spec_sha256": None,
        "level": "video",
        "score": None,
        "details": {},
        "status": "ok",
        "error": None,
        "weights": None,
        "random_weights": False,
        "probe": None,
        "source": None,
        "inputs": {},
        "suite_version": __version__,
        "seconds": 0.0,
    }
    rec.update(fields)
    score = rec["score"]
    if score is not None and not math.isfinite(float(score)):
        rec.update(
            score=None, status="error", error=rec.get("error") or f"non-finite score {score}"
        )
    return rec  # type: ignore[return-value]


def records_dir(run_dir: str | os.PathLike[str]) -> Path:
    """The folder of record shards of a run."""
    return Path(run_dir) / "records"


def shard_path(run_dir: str | os.PathLike[str], rank: int = 0) -> Path:
    """The shard a process of the given rank appends to."""
    return records_dir(run_dir) / f"records-rank{rank}.jsonl"


#: A run folder's provenance file: what was asked, how the process was set up, whether the
#: run finished. Written only through :func:`write_run_info_file` and :func:`update_run_info`.
RUN_INFO_NAME = "run.json"


def read_run_info(run_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``run.json`` of a run folder; None when it is absent, unreadable or not an object."""
    try:
        info = json.loads((Path(run_dir) / RUN_INFO_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def write_run_info_file(run_dir: str | os.PathLike[str], info: dict[str, Any]) -> None:
    """Replace ``run.json`` with ``info`` atomically (a killed writer leaves the old file)."""
    path = Path(run_dir) / RUN_INFO_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def update_run_info(run_dir: str | os.PathLike[str], key: str, value: Any) -> None:
    """Set ``key`` of ``run.json`` to ``value`` (atomic replace; the file is made if absent)."""
    info = read_run_info(run_dir) or {}
    info[key] = value
    write_run_info_file(run_dir, info)


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Records of one JSONL file; a torn or corrupt line (killed writer) is skipped."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and "dimension" in obj and "model" in obj:
                yield obj


def prefer(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether ``new`` replaces ``old``, a record of the same key read before it.

    The newer ``written_at`` wins (a retry that fixed an error, or an error after the inputs
    changed, whichever rank wrote it); without both stamps (records of older runs), ``ok``
    beats ``error`` and otherwise the later line wins.

    Example:
        >>> prefer({"status": "ok", "written_at": 2.0}, {"status": "error", "written_at": 1.0})
        True
        >>> prefer({"status": "error"}, {"status": "ok"})
        False
    """
    t_new, t_old = new.get("written_at"), old.get("written_at")
    if isinstance(t_new, (int, float)) and isinstance(t_old, (int, float)):
        return t_new >= t_old
    rank = {"ok": 2, "skipped": 1, "error": 0}
    return rank.get(new.get("status"), 0) >= rank.get(old.get("status"), 0)  # type: ignore[arg-type]


def latest_by_key(records: Iterable[dict[str, Any]]) -> dict[RecordKey, dict[str, Any]]:
    """One record per :func:`record_key`, chosen by :func:`prefer`, in first-seen key order."""
    out: dict[RecordKey, dict[str, Any]] = {}
    for rec in records:
        key = record_key(rec)
        old = out.get(key)
        if old is None or prefer(rec, old):
            out[key] = rec
    return out


def run_files(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The record files of a run folder: its shards, then other top-level ``.jsonl`` files
    (older layouts), never :data:`MERGED_NAME`. A file is its own list."""
    run_dir = Path(run_dir)
    if run_dir.is_file():
        return [run_dir]
    shards = sorted(records_dir(run_dir).glob("*.jsonl")) if records_dir(run_dir).is_dir() else []
    return shards + [p for p in sorted(run_dir.glob("*.jsonl")) if p.name != MERGED_NAME]


def read_records(run_dir: str | os.PathLike[str]) -> list[Record]:
    """Every record of a run (all shards), one per :func:`record_key` (:func:`prefer`)."""
    recs = (rec for path in run_files(run_dir) for rec in iter_jsonl(path))
    return list(latest_by_key(recs).values())  # type: ignore[arg-type]


class RecordWriter:
    """Appends records to one shard, flushing and fsyncing each line, and knows what is done."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        #: The latest record of every key in the folder's shards (what a resume compares).
        self.records: dict[RecordKey, dict[str, Any]] = latest_by_key(
            rec for shard in sorted(self.path.parent.glob("*.jsonl")) for rec in iter_jsonl(shard)
        )
        self.done: set[RecordKey] = set(self.records)
        self._repair_torn_tail()
        self._fh = open(self.path, "a", encoding="utf-8")

    def _repair_torn_tail(self) -> None:
        """A kill mid-write leaves a last line without newline: cut it so appends stay valid."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as fh:
            data = fh.read()
            if data.endswith(b"\n"):
                return
            cut = data.rfind(b"\n") + 1
            fh.truncate(cut)

    def __contains__(self, key: RecordKey) -> bool:
        return key in self.done

    def write(self, rec: Record) -> None:
        """Append one record, stamped with ``written_at``, and make it durable before returning."""
        rec["written_at"] = round(time.time(), 6)
        self._fh.write(
            json.dumps(rec, ensure_ascii=False, allow_nan=False, default=_json_default) + "\n"
        )
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.done.add(record_key(rec))
        self.records[record_key(rec)] = dict(rec)

    def close(self) -> None:
        """Close the shard file."""
        self._fh.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json_default(obj: Any) -> Any:
    """Numpy and torch scalars/arrays to plain JSON values."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def merge_shards(shards: Iterable[str | os.PathLike[str]], out: str | os.PathLike[str]) -> int:
    """Join record shards (files or run dirs) into one JSONL file, one record per key
    (:func:`prefer`); returns the count."""
    merged = latest_by_key(rec for shard in shards for rec in read_records(shard))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for rec in sorted(merged.values(), key=lambda r: tuple(str(x) for x in record_key(r))):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    os.replace(tmp, out)
    return len(merged)
