"""A process binds to its rank's GPU, sizes its threads, pins and records its precision."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from vbench_cn import synthetic, video
from vbench_cn.api import evaluate
from vbench_cn.device_setup import (
    ALLOC_CONF,
    MAX_DECODER_THREADS,
    PRECISION_FLAGS,
    apply_precision,
    precision_flags,
    setup_process,
    thread_plan,
)


@pytest.fixture(autouse=True)
def _restore_process_state() -> Iterator[None]:
    """Every flag and thread count these tests change, put back afterwards."""
    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.backends.cudnn.benchmark,
        torch.get_num_threads(),
        video._decoder_threads,
    )
    yield
    torch.backends.cuda.matmul.allow_tf32 = saved[0]
    torch.backends.cudnn.allow_tf32 = saved[1]
    torch.backends.cudnn.benchmark = saved[2]
    torch.set_num_threads(saved[3])
    video.set_decoder_threads(saved[4])


@pytest.mark.parametrize(
    ("cores", "ranks", "expected"),
    [(16, 1, (12, 4)), (16, 8, (1, 2)), (64, 4, (12, 4)), (2, 1, (1, 2)), (3, 8, (1, 1))],
)
def test_each_rank_gets_its_share_of_cores_minus_its_decoder(
    cores: int, ranks: int, expected: tuple[int, int]
) -> None:
    intra, decoder = thread_plan(cores, ranks)
    assert (intra, decoder) == expected
    assert 1 <= decoder <= MAX_DECODER_THREADS


def test_under_torchrun_intra_op_threads_replace_omp_num_threads_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("vbench_cn.device_setup.available_cores", lambda: 8)
    torch.set_num_threads(1)  # what torchrun's OMP_NUM_THREADS=1 leaves
    env = {"LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
    setup = setup_process(torch.device("cpu"), environ=env)
    assert (setup.local_rank, setup.local_world_size) == (1, 2)
    assert (setup.intra_op_threads, setup.decoder_threads) == (1, 4)
    assert torch.get_num_threads() == 1 and video._decoder_threads == 4
    monkeypatch.setattr("vbench_cn.device_setup.available_cores", lambda: 32)
    setup = setup_process(torch.device("cpu"), environ=env)
    assert torch.get_num_threads() == setup.intra_op_threads == 12
    assert "PYTORCH_CUDA_ALLOC_CONF" not in env  # not a CUDA run: the allocator is left alone


def test_a_single_process_keeps_torchs_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(2)
    monkeypatch.setattr("vbench_cn.device_setup.available_cores", lambda: 64)
    setup_process(torch.device("cpu"), environ={})
    assert torch.get_num_threads() == 2 and video._decoder_threads == MAX_DECODER_THREADS


def test_a_cuda_run_makes_its_device_current_and_sets_expandable_segments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    current: list[torch.device] = []
    monkeypatch.setattr(torch.cuda, "set_device", current.append)
    env: dict[str, str] = {"LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    setup = setup_process(torch.device("cuda", 1), environ=env)
    assert current == [torch.device("cuda", 1)]
    assert env["PYTORCH_CUDA_ALLOC_CONF"] == ALLOC_CONF == setup.cuda_alloc_conf
    user = {"PYTORCH_CUDA_ALLOC_CONF": "max_split_size_mb:512"}
    assert setup_process(torch.device("cuda", 0), environ=user).cuda_alloc_conf == (
        "max_split_size_mb:512"
    )  # the user's own setting wins
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)  # too late to take effect
    assert setup_process(torch.device("cuda", 0), environ={}).cuda_alloc_conf is None


def test_precision_flags_are_pinned_both_ways() -> None:
    apply_precision(precision_flags("fast"))
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.benchmark
    apply_precision(precision_flags("parity"))
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.benchmark
    assert torch.backends.cudnn.allow_tf32  # VBench's convolutions run TF32 (PyTorch default)
    assert set(PRECISION_FLAGS) == {"parity", "fast"}
    with pytest.raises(ValueError, match="precision must be one of parity, fast, got 'half'"):
        precision_flags("half")


def _video_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "videos" / "m"
    synthetic.write_video(folder / "a.mp4", synthetic.noise_clip(6, 32, 32, seed=0), fps=8)
    return tmp_path / "videos"


def test_run_json_records_precision_threads_and_batch_sizes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    records = evaluate(
        [_video_dir(tmp_path)],
        dimensions=["temporal_flickering"],
        out_dir=out,
        precision="fast",
        progress=False,
    )
    assert [r["status"] for r in records] == ["ok"]
    info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    runtime = info["runtime"]
    assert runtime["precision"] == "fast" and info["options"]["precision"] == "fast"
    assert runtime["matmul_tf32"] is True and runtime["cudnn_benchmark"] is True
    assert runtime["device"] == "cpu" and runtime["decoder_threads"] >= 1
    assert runtime["batch_sizes"] == {"frame_difference": 4096}
    assert torch.backends.cuda.matmul.allow_tf32  # the run pinned what it recorded


def test_the_cli_refuses_an_unknown_precision(tmp_path: Path) -> None:
    from vbench_cn.cli import app

    result = CliRunner().invoke(
        app, ["evaluate", str(_video_dir(tmp_path)), "--precision", "half", "--no-progress"]
    )
    assert result.exit_code == 2
    assert "--precision must be one of parity, fast, got 'half'" in result.output


def test_pyav_decoders_start_the_capped_number_of_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import av

    counts: list[int] = []
    real_decode = av.container.InputContainer.decode

    def decode(self, *streams, **kwargs):  # type: ignore[no-untyped-def]
        counts.append(streams[0].thread_count)
        return real_decode(self, *streams, **kwargs)

    monkeypatch.setattr(av.container.InputContainer, "decode", decode)
    path = _video_dir(tmp_path) / "m" / "a.mp4"
    video.set_decoder_threads(3)
    chunks = list(video.VideoReader(path).read([0, 1, 2], chunk_frames=2))
    # the probe decodes the first frame (its display matrix), then the reader decodes: both capped
    assert len(chunks) == 2 and counts == [3, 3]


def test_a_record_of_a_fast_cuda_run_names_tf32_so_a_parity_rerun_scores_it_again() -> None:
    from vbench_cn.features import ExtractorOptions
    from vbench_cn.preflight import Expectations

    cuda = torch.device("cuda")
    fast = Expectations(ExtractorOptions(device=cuda, precision="fast"))
    assert fast.precision("raft_things") == "fp32+tf32"
    assert fast.precision("clip_vitb32") == "fp16+tf32"
    parity = Expectations(ExtractorOptions(device=cuda))
    assert (parity.precision("raft_things"), parity.precision("clip_vitb32")) == ("fp32", "fp16")
    on_cpu = Expectations(ExtractorOptions(precision="fast"))  # TF32 is a CUDA setting
    assert on_cpu.precision("raft_things") == "fp32"
