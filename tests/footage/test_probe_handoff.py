"""Each video is probed once: the decoder starts from the probe, opens the file only to decode."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.footage import _clips as clips
from vbench_cn import video as video_module
from vbench_cn.video import VideoReader


def _count_opens(monkeypatch: pytest.MonkeyPatch) -> tuple[Counter[str], Counter[str]]:
    """Counters of ``av.open`` and ``decord.VideoReader`` calls by file name, from now on."""
    import av
    import decord

    av_opens: Counter[str] = Counter()
    decord_opens: Counter[str] = Counter()
    real_open, real_reader = av.open, decord.VideoReader

    def counting_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not args or args[0] == "r":  # reads only (the test's own writes are not counted)
            av_opens[Path(str(path)).name] += 1
        return real_open(path, *args, **kwargs)

    def counting_reader(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        decord_opens[Path(str(path)).name] += 1
        return real_reader(path, *args, **kwargs)

    monkeypatch.setattr(av, "open", counting_open)
    monkeypatch.setattr(decord, "VideoReader", counting_reader)
    return av_opens, decord_opens


def test_an_evaluate_run_opens_each_video_for_one_probe_and_one_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vbench_cn

    folder = tmp_path / "m"
    for i in range(3):
        clips.encode(folder / f"v{i}.mp4", clips.textured(16, 32, 32, seed=i), fps=8)
    av_opens, decord_opens = _count_opens(monkeypatch)
    records = vbench_cn.evaluate(
        [folder],
        dimensions=["temporal_flickering", "duration_seconds"],
        out_dir=tmp_path / "run",
        model="m",
        all_prompts=True,
        progress=False,
    )
    assert {r["status"] for r in records} == {"ok"} and len(records) == 6
    names = [f"v{i}.mp4" for i in range(3)]
    # the probe: one av.open for the headers, one decord index; the decode: one av.open
    assert dict(av_opens) == dict.fromkeys(names, 2)
    assert dict(decord_opens) == dict.fromkeys(names, 1)


def test_a_reader_from_a_probe_reads_what_a_fresh_reader_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = clips.encode(tmp_path / "a.mp4", clips.textured(12, 48, 64, seed=1), fps=8)
    fresh = VideoReader(path)
    av_opens, decord_opens = _count_opens(monkeypatch)
    handed = VideoReader(path, probe=fresh.probe)
    assert not av_opens and not decord_opens  # nothing opened until frames are read
    assert handed.info == fresh.info
    np.testing.assert_array_equal(handed.timestamps, fresh.timestamps)
    idx = np.array([0, 3, 11])
    got = handed.read_all(idx)
    assert av_opens[path.name] == 1 and not decord_opens  # PyAV's decode only
    assert torch_equal(got, fresh.read_all(idx))


def test_the_decord_fallback_opens_decord_when_first_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyAV failing on a reader made from a probe: decord is opened then, and decodes."""
    path = clips.encode(tmp_path / "a.mp4", clips.textured(12, 32, 32, seed=2), fps=8)
    fresh = VideoReader(path)
    want = fresh.read_all(np.arange(12))
    handed = VideoReader(path, probe=fresh.probe)

    def broken_pyav(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("simulated PyAV failure")
        yield  # a generator, like the real one

    monkeypatch.setattr(video_module, "_pyav_frames", broken_pyav)
    _, decord_opens = _count_opens(monkeypatch)
    assert torch_equal(handed.read_all(np.arange(12)), want)
    assert decord_opens[path.name] == 1


def test_a_file_changed_since_its_probe_is_probed_again(tmp_path: Path) -> None:
    path = clips.encode(tmp_path / "a.mp4", clips.textured(12, 32, 32, seed=3), fps=8)
    stale = VideoReader(path).probe
    clips.encode(path, clips.textured(20, 48, 32, seed=4), fps=10)  # replaced in place
    os.utime(path, ns=(stale.stat[1] + 10**9, stale.stat[1] + 10**9))  # whatever the clock
    reader = VideoReader(path, probe=stale)
    assert (reader.info.num_frames, reader.info.width, reader.info.height) == (20, 32, 48)
    assert reader.probe is not stale
    assert reader.read_all(np.array([19])).shape == (1, 48, 32, 3)


def test_a_probe_of_another_file_or_backend_is_not_taken(tmp_path: Path) -> None:
    a = clips.encode(tmp_path / "a.mp4", clips.textured(12, 32, 32, seed=5), fps=8)
    b = clips.encode(tmp_path / "b.mp4", clips.textured(6, 32, 32, seed=6), fps=8)
    probe_a = VideoReader(a).probe
    assert VideoReader(b, probe=probe_a).info.num_frames == 6
    assert VideoReader(a, backend="pyav", probe=probe_a).probe.backend == "pyav"


def torch_equal(x: object, y: object) -> bool:
    import torch

    return bool(torch.equal(x, y))  # type: ignore[arg-type]
