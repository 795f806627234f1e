"""Each decoded chunk is uploaded once and shared by the video's device-side extractors.

No GPU here: the uploader's copy is stood in for by a clone (a tensor with storage of its
own), so the test sees which extractor read the uploaded chunk and which the decoded one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from vbench_cn import synthetic
from vbench_cn.api import evaluate
from vbench_cn.device_errors import DeviceFailure
from vbench_cn.features import EXTRACTORS
from vbench_cn.features.pixels import FrameDifference
from vbench_cn.frame_upload import FrameUploader, pinned
from vbench_cn.runner import Runner

META = torch.device("meta")


def test_the_uploader_copies_host_chunks_and_leaves_device_ones() -> None:
    frames = torch.zeros(4, 6, 8, 3, dtype=torch.uint8)
    cpu = FrameUploader(torch.device("cpu"))
    assert cpu.upload(frames) is frames and cpu.uploads == 0  # the CPU path copies nothing
    meta = FrameUploader(META)
    out = meta.upload(frames)
    assert out.device == META and out.shape == frames.shape and out.dtype == torch.uint8
    assert meta.upload(out) is out and meta.uploads == 1


def test_out_of_device_memory_leaves_the_chunk_on_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = torch.zeros(2, 4, 4, 3, dtype=torch.uint8)
    uploader = FrameUploader(META)

    def no_memory(self: FrameUploader, frames: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(FrameUploader, "_copy", no_memory)
    assert uploader.upload(frames) is frames
    assert (uploader.uploads, uploader.fallbacks) == (0, 1)


def test_a_poisoned_context_during_an_upload_stops_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def poisoned(self: FrameUploader, frames: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(FrameUploader, "_copy", poisoned)
    with pytest.raises(DeviceFailure, match="uploading frames: the CUDA context is unusable"):
        FrameUploader(META).upload(torch.zeros(1, 2, 2, 3, dtype=torch.uint8))


def test_out_of_pinned_memory_falls_back_to_pageable_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = torch.zeros(2, 4, 4, 3, dtype=torch.uint8)

    def fail(message: str) -> Any:
        def pin_memory(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            raise RuntimeError(message)

        return pin_memory

    monkeypatch.setattr(torch.Tensor, "pin_memory", fail("CUDA error: out of memory"))
    assert pinned(frames) is frames
    monkeypatch.setattr(torch.Tensor, "pin_memory", fail("no accelerator"))
    with pytest.raises(RuntimeError, match="no accelerator"):  # other errors are not hidden
        pinned(frames)


#: The frames each toy extractor's ``prepare`` read, by extractor name (kept alive, so that
#: no two of the tensors compared here can share a storage address).
SEEN: dict[str, list[torch.Tensor]] = {}


def _storages(tensors: list[torch.Tensor]) -> set[int]:
    return {t.untyped_storage().data_ptr() for t in tensors}


class _DeviceA(FrameDifference):
    name = "toy_upload_a"
    overlap = 0  # no carried frame: every prepare reads its chunk itself, not a concatenation

    def prepare(self, frames, *, position, info):  # type: ignore[no-untyped-def]
        SEEN.setdefault(self.name, []).append(frames)
        return super().prepare(frames, position=position, info=info)


class _DeviceB(_DeviceA):
    name = "toy_upload_b"


class _Host(_DeviceA):
    name = "toy_upload_host"
    host_prepare = True


def _spec(dim: str, backbone: str) -> str:
    return f"""id = "{dim}"
version = 1
name = {{ en = "{dim}", zh = "{dim}" }}
category = "quality"
description = {{ en = "Test only.", zh = "仅测试。" }}
scorer = "quality.temporal_flickering"
backbone = "{backbone}"
sampling = {{ fps = "all" }}
prompts = "any"
normalization = {{ min = 0.0, max = 1.0 }}
weight = 1.0
higher_is_better = true
"""


@pytest.fixture
def toy_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    specs = tmp_path / "specs"
    specs.mkdir()
    for cls in (_DeviceA, _DeviceB, _Host):
        monkeypatch.setitem(EXTRACTORS, cls.name, cls)
        (specs / f"dim_{cls.name}.toml").write_text(
            _spec(f"dim_{cls.name}", cls.name), encoding="utf-8"
        )
    videos = tmp_path / "videos" / "m"
    for seed in range(2):
        synthetic.write_video(
            videos / f"v{seed}.mp4", synthetic.noise_clip(10, 32, 48, seed=seed), fps=8
        )
    SEEN.clear()
    return {
        "videos": [str(tmp_path / "videos")],
        "dimensions": [f"dim_{c.name}" for c in (_DeviceA, _DeviceB, _Host)],
        "dimensions_dirs": [specs],
        "chunk_frames": 4,  # 10 frames: 3 chunks per video
        "progress": False,
    }


def _scores(records: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    assert all(r["status"] == "ok" for r in records), records
    return {(r["video"], r["dimension"]): r["score"] for r in records}


def test_one_upload_per_chunk_read_by_every_device_extractor_and_no_host_one(
    toy_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = _scores(evaluate(out_dir=tmp_path / "plain", **toy_run))
    SEEN.clear()
    uploaded: list[torch.Tensor] = []

    def copy(self: FrameUploader, frames: torch.Tensor) -> torch.Tensor:
        out = frames.clone()  # what a device copy is: the same values in storage of its own
        uploaded.append(out)
        return out

    monkeypatch.setattr(FrameUploader, "upload", copy)
    shared = _scores(evaluate(out_dir=tmp_path / "shared", **toy_run))
    assert len(uploaded) == 6  # 2 videos x 3 chunks, whatever the number of extractors
    for name in ("toy_upload_a", "toy_upload_b"):
        assert SEEN[name] and _storages(SEEN[name]) <= _storages(uploaded), name
    assert SEEN["toy_upload_host"] and not _storages(SEEN["toy_upload_host"]) & _storages(uploaded)
    assert shared == pytest.approx(plain, abs=0)


def test_a_cpu_run_uploads_nothing(toy_run: dict[str, Any], tmp_path: Path) -> None:
    runner_uploads: list[int] = []
    original = Runner.run

    def run(self: Runner, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        finally:
            runner_uploads.append(self.uploader.uploads)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Runner, "run", run)
        evaluate(out_dir=tmp_path / "cpu", device="cpu", **toy_run)
    assert runner_uploads == [0]
