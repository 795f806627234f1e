"""Host and device overlapped: non-blocking output copies, decode bounded in bytes, several
decode workers that change nothing but speed."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import pytest
import torch

from tests.scale.test_distributed import _Doubler, _videos
from vbench_cn.manifest import discover
from vbench_cn.results import read_records
from vbench_cn.runner import Profile, Runner, RunOptions, _Batcher, _Group
from vbench_cn.runner.decode_queue import ByteQueue, event_bytes, in_plan_order
from vbench_cn.runner.transfer import HostCopies
from vbench_cn.specs import load_specs


class _FakeEvent:
    """Stands for a CUDA event: records when it is waited for."""

    log: list[str] = []
    made = 0

    def __init__(self) -> None:
        self.id = _FakeEvent.made
        _FakeEvent.made += 1
        _FakeEvent.log.append(f"new {self.id}")

    def record(self) -> None:
        pass

    def synchronize(self) -> None:
        _FakeEvent.log.append(f"wait {self.id}")

    def query(self) -> bool:
        return False


def test_at_most_two_copies_are_in_flight_and_each_is_waited_for_once() -> None:
    _FakeEvent.log, _FakeEvent.made = [], 0
    copies = HostCopies(torch.device("cpu"), in_flight=2, new_event=_FakeEvent)
    outs = [copies.start(torch.full((2,), float(i))) for i in range(4)]
    # the third copy waits for the first, the fourth for the second: two batches in flight
    assert _FakeEvent.log == ["new 0", "new 1", "wait 0", "new 2", "wait 1", "new 3"]
    assert not outs[3][1].done
    outs[3][1].wait()
    outs[3][1].wait()
    assert _FakeEvent.log.count("wait 3") == 1 and outs[3][1].done
    assert [float(host[0]) for host, _ in outs] == [0.0, 1.0, 2.0, 3.0]


def test_a_video_is_scored_only_after_its_copies_have_landed() -> None:
    _FakeEvent.log, _FakeEvent.made = [], 0
    ext = _Doubler(limit=100)
    copies = HostCopies(torch.device("cpu"), in_flight=8, new_event=_FakeEvent)
    batcher = _Batcher(ext, 4, Profile(), copies=copies)
    group = _Group(extractor=ext, indices=torch.arange(6).numpy(), specs=[])
    batcher.add(group, torch.ones(3, 1))
    batcher.add(group, 2 * torch.ones(3, 1))  # 6 items >= 4: one flush, one copy
    batcher.flush()
    assert group.pending == 0 and not any(e.startswith("wait") for e in _FakeEvent.log)
    stacked = group.stacked_outputs()
    assert "wait 0" in _FakeEvent.log
    assert torch.equal(stacked, torch.cat([2 * torch.ones(3, 1), 4 * torch.ones(3, 1)]))


def test_the_decode_queue_is_bounded_in_bytes_not_items() -> None:
    q = ByteQueue(max_bytes=100)
    q.put("a", 60)
    with pytest.raises(queue.Full):
        q.put("b", 60, timeout=0.05)  # 120 bytes would overflow
    q.put("tiny", 40, timeout=0.05)  # fits exactly
    assert q.nbytes == 100
    assert q.get() == "a" and q.nbytes == 40
    done = threading.Event()

    def producer() -> None:
        q.put("huge", 10_000)  # bigger than the bound: waits for an empty queue, then fits
        done.set()

    threading.Thread(target=producer, daemon=True).start()
    assert not done.wait(0.1)
    assert q.get() == "tiny"
    assert done.wait(2) and q.get() == "huge"
    frames = torch.zeros(3, 4, 5, 3, dtype=torch.uint8)
    assert event_bytes(("chunk", None, None, frames)) == 180 and event_bytes(("end", None)) == 0


def test_events_of_several_workers_come_video_by_video_in_plan_order() -> None:
    def worker(videos: list[int], stop_after: int | None = None):  # type: ignore[no-untyped-def]
        for n, v in enumerate(videos):
            if stop_after is not None and n == stop_after:
                return
            yield ("open", v)
            yield ("chunk", v)
            yield ("end", None)

    plan = list(range(7))
    workers = [worker(plan[k::3]) for k in range(3)]
    opened = [e[1] for e in in_plan_order(workers, len(plan)) if e[0] == "open"]
    assert opened == plan
    # a worker that stops early loses its later videos only
    workers = [worker(plan[0::2]), worker(plan[1::2], stop_after=1)]
    opened = [e[1] for e in in_plan_order(workers, len(plan)) if e[0] == "open"]
    assert opened == [0, 1, 2, 4, 6]


def test_several_decode_workers_give_the_records_of_one(tmp_path: Path) -> None:
    items = discover([_videos(tmp_path)], model="m")
    specs = [load_specs()[d] for d in ("temporal_flickering", "duration_seconds")]

    def run(name: str, workers: int, queue_bytes: int = 0) -> list[tuple]:
        runner = Runner(
            specs,
            RunOptions(
                out_dir=tmp_path / name,
                progress=False,
                decode_workers=workers,
                decode_queue_bytes=queue_bytes,
            ),
        )
        written = runner.run(items)
        assert runner.decode_workers(len(items)) == min(workers or 1, len(items))
        return [(r["video"], r["dimension"], r["status"], r["score"]) for r in written]

    one = run("one", 1)
    assert run("three", 3, queue_bytes=1) == one  # same records, same order, tiny queues
    assert {r["status"] for r in read_records(tmp_path / "three")} == {"ok"}


def test_the_cli_takes_decode_workers(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vbench_cn.cli import app

    folder = _videos(tmp_path)
    args = ["evaluate", str(folder), "-m", "m", "-d", "duration_seconds", "--no-progress"]
    bad = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "bad"), "--decode-workers", "-1"])
    assert bad.exit_code == 2 and "--decode-workers" in bad.output
    ok = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "ok"), "--decode-workers", "3"])
    assert ok.exit_code == 0, ok.output
    assert len(read_records(tmp_path / "ok")) == 6
