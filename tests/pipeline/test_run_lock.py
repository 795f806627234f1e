"""Two runs into one ``--out`` at once: the second is refused, nothing is scored twice (17.7)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from vbench_cn.manifest import discover
from vbench_cn.results import iter_jsonl, read_records, record_key, shard_path
from vbench_cn.runner import Runner, RunOptions
from vbench_cn.specs import load_specs, select_specs


def _runner(out: Path) -> Runner:
    specs = select_specs(load_specs(), ["temporal_flickering", "frame_rate"])
    return Runner(specs, RunOptions(out_dir=out, progress=False))


def test_a_second_run_while_the_first_writes_is_refused(tmp_path, clips_dir):
    out = tmp_path / "run"
    items = discover([clips_dir], model="m")
    second: dict[str, object] = {}

    def start_second(_item) -> None:
        if second:
            return
        second["started"] = True

        def run() -> None:
            try:
                second["written"] = len(_runner(out).run(items))
            except Exception as exc:  # noqa: BLE001 - the refusal is what is checked
                second["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(timeout=300)

    first = _runner(out).run(items, on_video_done=start_second)
    lines = [record_key(r) for r in iter_jsonl(shard_path(out, 0))]
    duplicated = [k for k, n in Counter(lines).items() if n > 1]
    assert not duplicated, f"scored twice: {duplicated[:3]}"
    message = str(second.get("error", ""))
    assert "another vbench-cn run is writing into this folder" in message, second
    assert "\n" not in message and "--out" in message
    assert len(first) == len(read_records(out)) == 2 * len(items)


def test_cli_refuses_before_any_work(tmp_path, clips_dir):
    from vbench_cn.cli import app
    from vbench_cn.run_lock import run_lock

    out = tmp_path / "run"
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with run_lock(out):
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    try:
        result = CliRunner().invoke(
            app,
            ["evaluate", str(clips_dir), "-d", "frame_rate", "--out", str(out), "--no-progress"],
        )
    finally:
        release.set()
        holder.join()
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "another vbench-cn run" in lines[0], result.output
    assert not (out / "run.json").exists() and not read_records(out)
    again = CliRunner().invoke(
        app, ["evaluate", str(clips_dir), "-d", "frame_rate", "--out", str(out), "--no-progress"]
    )
    assert again.exit_code == 0, again.output  # the lock went with its holder
