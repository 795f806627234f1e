"""Records of a run folder: the newest record of a key wins across ranks, a stale
``merged.jsonl`` never hides what a later run fixed, and the Python API shards under torchrun."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scale.test_distributed import _free_port, _videos
from vbench_cn.manifest import discover
from vbench_cn.results import MERGED_NAME, merge_shards, prefer, read_records
from vbench_cn.runner import Runner, RunOptions
from vbench_cn.runner import core as runner_module
from vbench_cn.runner import decode as decode_module
from vbench_cn.specs import load_specs


def _flickering(records: list[dict]) -> dict[str, str]:
    return {r["video"]: r["status"] for r in records if r["dimension"] == "temporal_flickering"}


def test_an_error_fixed_by_retry_errors_on_another_rank_is_ok_after_the_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = discover([_videos(tmp_path)], model="m")
    specs = [load_specs()["temporal_flickering"]]
    out = tmp_path / "run"
    real = runner_module.get_scorer

    def failing(name: str):  # type: ignore[no-untyped-def]
        def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("transient failure")

        return dataclasses.replace(real(name), fn=boom)

    # Rank 1 of a two-rank run meets a transient scorer failure on its videos; the shards
    # are merged (what torchrun's rank 0 does), so a merged.jsonl holding errors is left.
    monkeypatch.setattr(runner_module, "get_scorer", failing)
    Runner(specs, RunOptions(out_dir=out, progress=False, rank=1, world_size=2)).run(items)
    Runner(specs, RunOptions(out_dir=out, progress=False, rank=0, world_size=2)).run(items)
    first = _flickering(read_records(out))
    assert set(first.values()) == {"error"} and len(first) == len(items)
    merge_shards([out], out / MERGED_NAME)

    # The fix: one process, --retry-errors. Its ok records land in records-rank0.jsonl,
    # which sorts before rank 1's shard and the merged copy.
    monkeypatch.setattr(runner_module, "get_scorer", real)
    retry = RunOptions(out_dir=out, progress=False, retry_errors=True)
    assert len(Runner(specs, retry).run(items)) == len(items)
    assert set(_flickering(read_records(out)).values()) == {"ok"}
    merge_shards([out], out / MERGED_NAME)
    assert set(_flickering(read_records(out / MERGED_NAME)).values()) == {"ok"}

    # And a later run has nothing left to retry or rescore.
    again = Runner(specs, RunOptions(out_dir=out, progress=False, retry_errors=True))
    assert again.run(items) == [] and not again.rescored


def test_a_stale_merged_file_never_wins_over_the_shards(tmp_path: Path) -> None:
    items = discover([_videos(tmp_path)], model="m")
    specs = [load_specs()["temporal_flickering"]]
    out = tmp_path / "run"
    Runner(specs, RunOptions(out_dir=out, progress=False)).run(items)
    fresh = read_records(out)
    stale = [{**r, "status": "error", "score": None, "written_at": 9e12} for r in fresh]
    (out / MERGED_NAME).write_text("".join(json.dumps(r) + "\n" for r in stale), encoding="utf-8")
    assert read_records(out) == fresh  # a run folder is read from its shards only
    assert _flickering(read_records(out / MERGED_NAME)) == {r["video"]: "error" for r in fresh}


def test_the_newest_record_wins_else_ok_over_error() -> None:
    ok, err = {"status": "ok"}, {"status": "error"}
    assert prefer({**err, "written_at": 2.0}, {**ok, "written_at": 1.0})  # inputs changed
    assert not prefer({**err, "written_at": 1.0}, {**ok, "written_at": 2.0})
    assert prefer(ok, err) and not prefer(err, ok)  # records of older runs carry no stamp
    assert prefer(ok, {**ok}) and prefer(err, {**err})  # equal standing: the later line


_API_SCRIPT = """
import json, os, sys
import vbench_cn

records = vbench_cn.evaluate(
    [sys.argv[1]], model="m", dimensions=["temporal_flickering", "duration_seconds"],
    out_dir=sys.argv[2], progress=False,
)
rank = os.environ.get("RANK", "0")
with open(os.path.join(sys.argv[3], f"returned-{rank}.json"), "w") as fh:
    json.dump(records, fh)
"""


def test_the_python_api_shards_under_two_gloo_ranks_and_equals_one_rank(tmp_path: Path) -> None:
    folder = _videos(tmp_path)
    script = tmp_path / "score.py"
    script.write_text(_API_SCRIPT, encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one, two = tmp_path / "one", tmp_path / "two"
    for run, launcher in (
        (one, []),
        (two, ["-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port"]),
    ):
        run.mkdir()
        launch = [*launcher, str(_free_port())] if launcher else []
        proc = subprocess.run(
            [sys.executable, *launch, str(script), str(folder), str(run / "out"), str(run)],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]

    shards = sorted((two / "out" / "records").glob("*.jsonl"))
    assert [p.name for p in shards] == ["records-rank0.jsonl", "records-rank1.jsonl"]
    per_shard = [{json.loads(line)["video"] for line in p.read_text().splitlines()} for p in shards]
    assert all(per_shard) and not per_shard[0] & per_shard[1]  # each rank scored its own videos

    def scores(path: Path) -> dict:
        recs = json.loads(path.read_text(encoding="utf-8"))
        return {(r["video"], r["dimension"]): (r["status"], r["score"]) for r in recs}

    expected = scores(one / "returned-0.json")
    assert len(expected) == 12
    assert scores(two / "returned-0.json") == expected == scores(two / "returned-1.json")
    assert (two / "out" / MERGED_NAME).is_file()


def test_each_rank_probes_only_its_own_videos_in_a_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import vbench_cn

    folder = _videos(tmp_path)
    probed: dict[int, list[tuple[str, str]]] = {}
    real = decode_module._probe_one

    def counting(item):  # type: ignore[no-untyped-def]
        probed[rank].append((item.path, threading.current_thread().name))
        return real(item)

    monkeypatch.setattr(decode_module, "_probe_one", counting)
    for rank in (0, 1):
        probed[rank] = []
        vbench_cn.evaluate(
            [folder],
            model="m",
            dimensions=["duration_seconds"],
            out_dir=tmp_path / "run",
            progress=False,
            rank=rank,
            world_size=2,
        )
    paths = [{p for p, _ in probed[r]} for r in (0, 1)]
    assert all(paths) and not paths[0] & paths[1]  # each video probed once, by its rank
    assert len(paths[0] | paths[1]) == 6
    assert all(name.startswith("vbench-cn-probe") for r in (0, 1) for _, name in probed[r])
    assert len(read_records(tmp_path / "run")) == 6
