"""Scale-out: deterministic balanced sharding, two gloo ranks == one process, OOM back-off."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from vbench_cn import synthetic as s
from vbench_cn.distributed import balance_by_cost
from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.results import read_records
from vbench_cn.runner import Profile, _Batcher, _Group


def test_sharding_is_deterministic_and_balanced_by_cost() -> None:
    costs = [60.0, 2.0, 2.0, 30.0, 30.0, 4.0, 4.0, 4.0, 1.0, 1.0, 1.0, 1.0]
    shards = balance_by_cost(costs, 3)
    assert shards == balance_by_cost(costs, 3)
    assert sorted(i for sh in shards for i in sh) == list(range(len(costs)))
    loads = [sum(costs[i] for i in sh) for sh in shards]
    assert max(loads) <= 60.0  # the longest video alone bounds the best makespan here
    by_count = [sum(costs[i] for i in range(r, len(costs), 3)) for r in range(3)]
    assert max(loads) < max(by_count)  # better than round-robin by count


def test_more_ranks_than_videos_leaves_some_empty() -> None:
    assert balance_by_cost([1.0, 1.0], 4) == [[0], [1], [], []]


def _free_port() -> int:
    """A TCP port free right now (a fixed one collides with another run of this test)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _videos(root: Path) -> Path:
    folder = root / "videos"
    for i in range(6):
        s.write_video(folder / f"clip{i}-0.mp4", s.translating_clip(8 + 4 * i, 32, 32, seed=i))
    return folder


def _cmd(folder: Path, out: Path) -> list[str]:
    return [
        "-m",
        "vbench_cn",
        "evaluate",
        str(folder),
        "--model",
        "m",
        "--dimensions",
        "temporal_flickering,duration_seconds",
        "--out",
        str(out),
        "--no-progress",
    ]


def test_two_gloo_ranks_give_exactly_the_records_of_one_process(tmp_path: Path) -> None:
    folder = _videos(tmp_path)
    subprocess.run(
        [sys.executable, *_cmd(folder, tmp_path / "one")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-port",
            str(_free_port()),
            *_cmd(folder, tmp_path / "two"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    shards = sorted((tmp_path / "two" / "records").glob("*.jsonl"))
    assert [p.name for p in shards] == ["records-rank0.jsonl", "records-rank1.jsonl"]
    assert all(p.stat().st_size > 0 for p in shards)  # both ranks did work

    def key(recs: list[dict]) -> dict:
        return {(r["video"], r["dimension"]): (r["status"], r["score"]) for r in recs}

    assert key(read_records(tmp_path / "two")) == key(read_records(tmp_path / "one"))
    merged = (tmp_path / "two" / "merged.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(merged) == 12


class _Doubler(FeatureExtractor):
    """A toy extractor whose forward fails with CUDA OOM above a batch size."""

    name = "toy_doubler"
    batch_size = 8

    def __init__(self, limit: int) -> None:
        super().__init__(ExtractorOptions())
        self.limit = limit
        self.seen: list[int] = []

    def prepare(self, frames, *, position, info):  # type: ignore[no-untyped-def]
        return frames

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        self.seen.append(batch.shape[0])
        if batch.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return batch * 2


def test_out_of_memory_halves_the_batch_and_loses_nothing() -> None:
    ext = _Doubler(limit=2)
    profile = Profile()
    batcher = _Batcher(ext, 8, profile)
    groups = [_Group(extractor=ext, indices=torch.arange(3).numpy(), specs=[]) for _ in range(3)]
    for i, g in enumerate(groups):
        batcher.add(g, torch.full((3, 1), float(i)))
    batcher.flush()
    assert batcher.batch_size == 2 and profile.oom_retries == 2
    assert ext.seen[:3] == [8, 4, 2]
    for i, g in enumerate(groups):
        assert g.pending == 0
        assert torch.equal(torch.cat(g.outputs), torch.full((3, 1), 2.0 * i))


def test_a_failing_video_does_not_fail_its_batch_neighbours() -> None:
    class Picky(_Doubler):
        def forward(self, batch: torch.Tensor) -> torch.Tensor:
            if bool((batch < 0).any()):
                raise ValueError("negative input")
            return batch * 2

    ext = Picky(limit=100)
    batcher = _Batcher(ext, 100, Profile())
    good, bad = (_Group(extractor=ext, indices=torch.arange(2).numpy(), specs=[]) for _ in range(2))
    batcher.add(good, torch.ones(2, 1))
    batcher.add(bad, -torch.ones(2, 1))
    batcher.flush()
    assert good.error is None and torch.equal(torch.cat(good.outputs), torch.full((2, 1), 2.0))
    assert bad.error is not None and "negative input" in bad.error


def test_profile_reports_where_time_goes(tmp_path: Path) -> None:
    from vbench_cn.manifest import discover
    from vbench_cn.runner import Runner, RunOptions
    from vbench_cn.specs import load_specs, select_specs

    folder = _videos(tmp_path)
    items = discover([folder], model="m")
    runner = Runner(
        select_specs(load_specs(), ["temporal_flickering"]),
        RunOptions(out_dir=tmp_path / "run", progress=False),
    )
    runner.run(items)
    summary = runner.profile.summary()
    assert summary["videos"] >= 1 and summary["wall_s"] > 0
    row = summary["extractors"][0]
    assert (
        row["extractor"] == "frame_difference"
        and row["frames"] > 0
        and row["forward_share"] is not None
    )
    assert summary["decode_s"] > 0 and "wait_for_decode_s" in summary
    # building the extractor, inside the run
    assert "build_s" in summary and 0 < runner.profile.build_seconds < runner.profile.wall_seconds


def test_decode_chunks_are_capped_by_bytes() -> None:
    from vbench_cn.runner import CHUNK_BYTES, chunk_frames_for
    from vbench_cn.video import VideoInfo

    def info(w: int, h: int) -> VideoInfo:
        return VideoInfo("v.mp4", 1000, 30.0, 33.3, w, h, "h264", False, "decord")

    assert chunk_frames_for(info(1920, 1080), 64) == 8
    assert chunk_frames_for(info(3840, 2160), 64) == 2
    assert chunk_frames_for(info(256, 256), 64) == 64  # small frames: the frame cap applies
    assert chunk_frames_for(info(20000, 20000), 64) == 1  # never zero
    assert chunk_frames_for(info(1920, 1080), 64) * 1920 * 1080 * 3 <= CHUNK_BYTES


def test_killed_two_rank_run_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    import signal
    import time

    folder = tmp_path / "many"
    for i in range(24):
        s.write_video(folder / f"clip{i:02d}-0.mp4", s.translating_clip(120, 96, 96, seed=i))
    one = tmp_path / "one"
    subprocess.run(
        [sys.executable, *_cmd(folder, one)], check=True, capture_output=True, timeout=300
    )
    expected = {(r["video"], r["dimension"]): r["score"] for r in read_records(one)}

    two = tmp_path / "two"
    launch = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(_free_port()),
        *_cmd(folder, two),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        launch,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    shard1 = two / "records" / "records-rank1.jsonl"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        if shard1.exists() and shard1.read_text(encoding="utf-8").count("\n") >= 4:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both ranks die mid-run
    proc.wait()
    partial = read_records(two)
    assert 0 < len(partial) < len(expected), "the kill must land mid-run"

    rerun = subprocess.run(launch, capture_output=True, text=True, timeout=300, env=env)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    lines = [
        json.loads(line)
        for p in sorted((two / "records").glob("*.jsonl"))
        for line in p.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    keys = [(r["video"], r["dimension"]) for r in lines]
    assert len(keys) == len(set(keys)), "no record is written twice across shards"
    assert {k: r["score"] for k, r in zip(keys, lines, strict=True)} == expected


def test_batch_size_follows_free_gpu_memory() -> None:
    from vbench_cn.runner import scaled_batch_size

    gib = 1024**3
    cuda = torch.device("cuda")
    assert scaled_batch_size(32, cuda, free_bytes=10 * gib) == 32
    assert scaled_batch_size(32, cuda, free_bytes=20 * gib) == 64
    assert scaled_batch_size(32, cuda, free_bytes=70 * gib) == 128  # capped at 4x
    assert scaled_batch_size(32, cuda, free_bytes=1 * gib) == 8  # floor at 1/4x
    assert scaled_batch_size(1, cuda, free_bytes=1 * gib) == 1
    assert scaled_batch_size(32, torch.device("cpu")) == 32


def test_cpu_runs_use_the_extractors_cpu_batch_size(tmp_path: Path) -> None:
    """On CPU batching buys no speed and costs activation memory: the runner uses cpu_batch_size."""
    from vbench_cn.features import register_extractor
    from vbench_cn.runner import Runner, RunOptions
    from vbench_cn.specs import load_specs

    @register_extractor("toy_cpu_batched")
    class _Toy(_Doubler):
        name = "toy_cpu_batched"
        batch_size = 64
        cpu_batch_size = 4

        def __init__(self, options: ExtractorOptions) -> None:
            super().__init__(limit=10**6)

    specs = [load_specs()["temporal_flickering"]]
    runner = Runner(specs, RunOptions(out_dir=tmp_path, device="cpu"))
    runner.extractor("toy_cpu_batched")
    assert runner._batchers["toy_cpu_batched"].batch_size == 4
    explicit = Runner(
        specs, RunOptions(out_dir=tmp_path, device="cpu", batch_sizes={"toy_cpu_batched": 16})
    )
    explicit.extractor("toy_cpu_batched")
    assert explicit._batchers["toy_cpu_batched"].batch_size == 16


def test_an_extractor_that_cannot_be_built_is_tried_once(tmp_path: Path) -> None:
    """Each video used to rebuild (reload, re-hash) a model whose checkpoint was missing."""
    import pytest

    from vbench_cn.features import register_extractor
    from vbench_cn.runner import Runner, RunOptions
    from vbench_cn.specs import load_specs

    attempts: list[int] = []

    @register_extractor("toy_unbuildable")
    class _Broken(_Doubler):
        name = "toy_unbuildable"

        def __init__(self, options: ExtractorOptions) -> None:
            attempts.append(1)
            raise FileNotFoundError("missing /weights/toy.pth")

    runner = Runner(
        [load_specs()["temporal_flickering"]], RunOptions(out_dir=tmp_path, device="cpu")
    )
    for _ in range(3):
        with pytest.raises(FileNotFoundError, match="toy.pth"):
            runner.extractor("toy_unbuildable")
    assert len(attempts) == 1
