"""Accelerator failures in the batcher: out of memory of every kind, growing back, a poisoned
context that stops the run with a line saying how to resume.

No GPU here: the failures are raised by toy extractors with the messages CUDA, cuBLAS and
cuDNN give (the classification reads the exception, not the device).
"""

from __future__ import annotations

import sys
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vbench_cn import synthetic
from vbench_cn.device_errors import (
    DeviceFailure,
    is_out_of_memory,
    is_poisoned_context,
)
from vbench_cn.features import EXTRACTORS, ExtractorOptions, FeatureExtractor
from vbench_cn.features.pixels import FrameDifference
from vbench_cn.results import read_records
from vbench_cn.runner import Profile, _Batcher, _Group

CUBLAS = "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"
CUDNN = "cuDNN error: CUDNN_STATUS_NOT_ENOUGH_WORKSPACE"
PINNED = "CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported"
ASSERT = "CUDA error: device-side assert triggered\nCompile with `TORCH_USE_CUDA_DSA`"
ILLEGAL = "CUDA error: an illegal memory access was encountered"


def test_the_classification_of_device_errors() -> None:
    for message in (CUBLAS, CUDNN, PINNED):
        assert is_out_of_memory(RuntimeError(message)) and not is_poisoned_context(
            RuntimeError(message)
        )
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate"))
    for message in (ASSERT, ILLEGAL):
        assert is_poisoned_context(RuntimeError(message))
        assert not is_out_of_memory(RuntimeError(message))
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_out_of_memory(ValueError("out of memory"))  # not a runtime error of torch
    assert not is_poisoned_context(ValueError("device-side assert triggered"))


class _Toy(FeatureExtractor):
    """Doubles its items; ``fail(batch)`` returns a factory of the exception to raise, or None.

    (A factory, not the exception: a local holding the exception would tie it, through its
    traceback, to this frame in a reference cycle that only the garbage collector frees.)
    """

    name = "toy_device"
    batch_size = 8

    def __init__(self, fail: Any = None) -> None:
        super().__init__(ExtractorOptions())
        self.fail = fail or (lambda batch: None)
        self.seen: list[int] = []

    def prepare(self, frames, *, position, info):  # type: ignore[no-untyped-def]
        return frames

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        self.seen.append(batch.shape[0])
        activations = torch.zeros(16)  # what a failing forward's traceback would keep alive
        self.last_activations = weakref.ref(activations)
        make = self.fail(batch)
        if make is not None:
            raise make()
        return batch * 2


def _fill(batcher: _Batcher, ext: FeatureExtractor, videos: int, items: int) -> list[_Group]:
    groups = [_Group(extractor=ext, indices=np.arange(items), specs=[]) for _ in range(videos)]
    for i, g in enumerate(groups):
        batcher.add(g, torch.full((items, 1), float(i)))
    batcher.flush()
    return groups


def _assert_doubled(groups: list[_Group]) -> None:
    for i, g in enumerate(groups):
        assert g.pending == 0 and g.error is None
        assert torch.equal(torch.cat(g.outputs), torch.full((g.indices.size, 1), 2.0 * i))


@pytest.mark.parametrize(
    "make",
    [
        lambda: RuntimeError(CUBLAS),
        lambda: RuntimeError(CUDNN),
        lambda: RuntimeError(PINNED),
        lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    ],
    ids=["cublas", "cudnn-workspace", "pinned-host", "caching-allocator"],
)
def test_every_kind_of_out_of_memory_halves_the_batch_and_loses_nothing(make: Any) -> None:
    ext = _Toy(lambda batch: make if batch.shape[0] > 2 else None)
    profile = Profile()
    batcher = _Batcher(ext, 8, profile)
    groups = _fill(batcher, ext, videos=3, items=3)
    assert ext.seen[:3] == [8, 4, 2]
    assert batcher.batch_size == 2 and profile.oom_retries == 2
    _assert_doubled(groups)


def test_a_batch_that_fits_again_grows_back_to_its_starting_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_Batcher, "GROW_AFTER", 2)
    calls = {"n": 0}

    def first_call_fails(batch: torch.Tensor) -> Any:
        calls["n"] += 1
        return (lambda: RuntimeError(CUBLAS)) if calls["n"] == 1 else None

    ext = _Toy(first_call_fails)
    batcher = _Batcher(ext, 8, Profile())
    groups = _fill(batcher, ext, videos=5, items=8)  # 40 items
    # 8 fails; two batches of 4 fit, so back to 8: 4 + 4 + 8 + 8 + 8 + 8 = 40
    assert ext.seen == [8, 4, 4, 8, 8, 8, 8]
    assert batcher.batch_size == batcher.max_batch_size == 8
    _assert_doubled(groups)


def test_a_partial_last_batch_does_not_count_as_fitting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Batcher, "GROW_AFTER", 2)
    ext = _Toy(lambda batch: (lambda: RuntimeError(CUDNN)) if batch.shape[0] > 4 else None)
    batcher = _Batcher(ext, 8, Profile())
    _assert_doubled(_fill(batcher, ext, videos=1, items=6))
    # 6 fail -> 4 fit (one) -> the last 2 say nothing about a batch of 4: still 4
    assert ext.seen == [6, 4, 2] and batcher.batch_size == 4


def test_the_cache_is_emptied_after_the_except_block_has_let_go_of_the_activations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    states: list[tuple[Any, bool]] = []
    ext = _Toy(lambda batch: (lambda: RuntimeError(CUBLAS)) if batch.shape[0] > 2 else None)

    def release(device: torch.device) -> None:
        states.append((sys.exc_info()[0], ext.last_activations() is None))

    monkeypatch.setattr("vbench_cn.runner.batching._release_cached_memory", release)
    _assert_doubled(_fill(_Batcher(ext, 4, Profile()), ext, videos=1, items=4))
    assert states == [(None, True)]  # no exception in flight, the failed forward's tensors freed


def test_other_errors_fail_their_video_without_shrinking_the_batch() -> None:
    ext = _Toy(
        lambda batch: (lambda: ValueError("bad input")) if bool((batch == 1).any()) else None
    )
    batcher = _Batcher(ext, 8, Profile())
    groups = [_Group(extractor=ext, indices=np.arange(2), specs=[]) for _ in range(3)]
    for i, g in enumerate(groups):
        batcher.add(g, torch.full((2, 1), float(i)))
    batcher.flush()
    assert batcher.batch_size == 8
    assert groups[1].error is not None and "bad input" in groups[1].error
    assert groups[0].error is None and groups[2].error is None


@pytest.mark.parametrize("message", [ASSERT, ILLEGAL])
def test_a_poisoned_context_raises_through_the_per_video_guards(message: str) -> None:
    ext = _Toy(lambda batch: lambda: RuntimeError(message))
    batcher = _Batcher(ext, 4, Profile())
    group = _Group(extractor=ext, indices=np.arange(3), specs=[])
    batcher.queue.append((group, 0, torch.zeros(3, 1)))
    group.outputs.append(None)
    group.pending = 1
    with pytest.raises(DeviceFailure, match="CUDA context is unusable"):
        batcher.flush()
    assert ext.seen == [3]  # not retried video by video, not halved


# --------------------------------------------------------------------------- whole runs


class _Poisoned(FrameDifference):
    """Frame differences; a device-side assert on a moving video while ``armed``."""

    name = "toy_poisoned"
    cpu_batch_size = 1  # every pair runs at once: a video is done before the next starts
    armed = True

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if type(self).armed and bool((batch > 20).any()):
            raise RuntimeError(ASSERT)
        return batch


SPEC = """id = "toy_flicker"
version = 1
name = { en = "Toy flicker", zh = "玩具闪烁" }
category = "quality"
description = { en = "Test only.", zh = "仅测试。" }
scorer = "quality.temporal_flickering"
backbone = "toy_poisoned"
sampling = { fps = "all" }
prompts = "any"
normalization = { min = 0.0, max = 1.0 }
weight = 1.0
higher_is_better = true
"""


def _videos(folder: Path) -> Path:
    videos = folder / "videos" / "m"
    static = synthetic.static_clip(8, 64, 64, seed=0)
    moving = synthetic.noise_clip(8, 64, 64, seed=1)
    synthetic.write_video(videos / "a-static.mp4", static, fps=8)
    synthetic.write_video(videos / "b-moving.mp4", moving, fps=8)
    synthetic.write_video(videos / "c-static.mp4", static, fps=8)
    return folder / "videos"


def test_a_device_side_assert_stops_the_run_and_a_rerun_resumes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vbench_cn.cli import app

    monkeypatch.setitem(EXTRACTORS, "toy_poisoned", _Poisoned)
    monkeypatch.setattr(_Poisoned, "armed", True)
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "toy_flicker.toml").write_text(SPEC, encoding="utf-8")
    videos, out = _videos(tmp_path), tmp_path / "run"
    args = [
        "evaluate",
        str(videos),
        "--dimensions",
        "toy_flicker",
        "--dimensions-dir",
        str(specs),
        "--out",
        str(out),
        "--no-progress",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "device-side assert triggered" in lines[0]
    assert "run the same command again to resume" in lines[0]
    first = read_records(out)
    assert [Path(r["video"]).name for r in first] == ["a-static.mp4"]  # no error record
    assert first[0]["status"] == "ok"

    monkeypatch.setattr(_Poisoned, "armed", False)  # a fresh process on a healthy device
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    records = read_records(out)
    assert sorted(Path(r["video"]).name for r in records) == [
        "a-static.mp4",
        "b-moving.mp4",
        "c-static.mp4",
    ]
    assert all(r["status"] == "ok" for r in records)
    assert [r for r in records if r["video"].endswith("a-static.mp4")] == first  # resumed
