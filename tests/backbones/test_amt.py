"""AMT-S and the motion-smoothness extractor: architecture, VBench protocol, chunks, end to end."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from vbench_cn import features, synthetic
from vbench_cn.api import evaluate
from vbench_cn.features import ExtractorOptions
from vbench_cn.features.amt import (
    AMTInterpolationError,
    interpolation_mae,
    replicate_pad,
    triplet_starts,
)
from vbench_cn.features.amt_arch import AMTS, build_amt_s

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "parity"))
from seeded import seeded_state_dict  # noqa: E402

EXPECT = Path(__file__).parent / "expect" / "amt_s.json"

#: Parameters of AMT-S as built by VBench's vendored code (``networks/AMT-S.py``, AMT-S.yaml).
AMT_S_NUM_PARAMS = 2_990_543


class LinearInterpolator(nn.Module):
    """``(1 - t)·img0 + t·img1``: exact for pixels that change linearly in time."""

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (1 - t) * img0 + t * img1


class ConstantInterpolator(nn.Module):
    """Predicts the same grey value everywhere (to observe the uint8 truncation)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.full_like(img0, self.value)


def linear_motion_clip(num_frames: int, height: int, width: int) -> np.ndarray:
    """A colour gradient sliding 3 px per frame: every pixel changes linearly in time."""
    y, x = np.mgrid[0:height, 0:width]
    frames = [
        np.stack([x + 3 * k + 20 * c + (y % 3) for c in range(3)], -1) for k in range(num_frames)
    ]
    out = np.stack(frames)
    assert out.max() <= 255
    return out.astype(np.uint8)


def seeded_amt(seed: int = 0) -> AMTS:
    model = build_amt_s().eval()
    model.load_state_dict(seeded_state_dict(seed, model.state_dict(), backbone="amt_s"))
    return model


def use_model(monkeypatch: pytest.MonkeyPatch, model: nn.Module) -> None:
    """Make the runner build the ``amt_s`` extractor around ``model``."""
    monkeypatch.setitem(
        features.EXTRACTORS, "amt_s", lambda opts: AMTInterpolationError(opts, model=model)
    )


def _scores(records: list[dict]) -> dict[str, float]:
    return {
        Path(r["video"]).stem: r["score"] for r in records if r["dimension"] == "motion_smoothness"
    }


# --------------------------------------------------------------------------- architecture


def test_parameter_count_and_checkpoint_key_names() -> None:
    model = build_amt_s()
    keys = set(model.state_dict())
    assert sum(p.numel() for p in model.parameters()) == AMT_S_NUM_PARAMS
    assert len(keys) == 213  # instance norms carry no parameters
    for key in (
        "feat_encoder.layer2.0.downsample.0.weight",
        "encoder.pyramid4.1.1.weight",
        "decoder1.convblock.1.conv5.bias",
        "update3.gru.2.weight",
        "comb_block.1.weight",
    ):
        assert key in keys
    assert not any("norm" in k for k in keys)


def test_official_layout_checkpoint_loads_strictly(tmp_path: Path) -> None:
    template = build_amt_s().state_dict()
    path = tmp_path / "amt-s.pth"
    torch.save({"state_dict": seeded_state_dict(3, template, backbone="amt_s")}, path)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model = build_amt_s()
    model.load_state_dict(ckpt["state_dict"], strict=True)
    missing = dict(ckpt["state_dict"])
    missing.pop("comb_block.0.bias")
    with pytest.raises(RuntimeError, match="comb_block.0.bias"):
        build_amt_s().load_state_dict(missing, strict=True)


def test_seeded_random_amt_matches_its_golden_output() -> None:
    """A changed architecture, init recipe or op order shows up here.

    Regenerate with VBENCH_CN_ACCEPT=1.
    """
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    img0 = torch.rand(1, 3, 128, 160, generator=gen)
    img1 = torch.roll(img0, shifts=3, dims=-1)
    with torch.inference_mode():
        pred = seeded_amt(0)(img0, img1, torch.full((1, 1, 1, 1), 0.5))
    summary = torch.nn.functional.avg_pool2d(pred, 16)[0]  # (3, 8, 10): small enough to store
    if os.environ.get("VBENCH_CN_ACCEPT") == "1" or not EXPECT.exists():
        if not os.environ.get("VBENCH_CN_ACCEPT"):
            pytest.fail(f"{EXPECT} missing; run with VBENCH_CN_ACCEPT=1 to create it")
        EXPECT.parent.mkdir(parents=True, exist_ok=True)
        EXPECT.write_text(
            json.dumps({"shape": list(summary.shape), "values": summary.flatten().tolist()})
        )
    expect = json.loads(EXPECT.read_text())
    want = torch.tensor(expect["values"]).reshape(expect["shape"])
    torch.testing.assert_close(summary, want, atol=1e-5, rtol=0)


# --------------------------------------------------------------------------- protocol pieces


@pytest.mark.parametrize(
    ("num_frames", "position", "expected"),
    [
        (3, 0, [0]),
        (2, 0, []),
        (8, 0, [0, 2, 4]),
        (9, 0, [0, 2, 4, 6]),
        (5, 62, [0, 2]),
        (5, 61, [1]),
        (3, 61, []),
        (4, 61, [1]),
    ],
)
def test_triplet_starts(num_frames: int, position: int, expected: list[int]) -> None:
    assert triplet_starts(num_frames, position=position) == expected


@pytest.mark.parametrize("total", [3, 4, 9, 17, 30])
def test_every_triplet_once_whatever_the_chunking(total: int) -> None:
    """Simulate the runner's overlap of 2: the union of chunks' triplets is VBench's list."""
    want = list(range(0, total - 2, 2))
    for chunk in (1, 2, 3, 4, 7, 64):
        got: list[int] = []
        carry = 0
        for start in range(0, total, chunk):
            new = min(chunk, total - start)
            position = start - carry
            got += [position + s for s in triplet_starts(carry + new, position=position)]
            carry = min(2, carry + new)
        assert got == want, (total, chunk)


def test_replicate_pad_is_centred_with_the_odd_pixel_after() -> None:
    x = torch.arange(2 * 3 * 20 * 37, dtype=torch.float32).reshape(2, 3, 20, 37)
    padded, pads = replicate_pad(x)
    assert padded.shape[-2:] == (32, 48)
    assert pads == (5, 6, 6, 6)
    torch.testing.assert_close(padded[..., 6:26, 5:42], x, rtol=0, atol=0)
    torch.testing.assert_close(padded[..., 0, 0], x[..., 0, 0], rtol=0, atol=0)
    torch.testing.assert_close(padded[..., -1, -1], x[..., -1, -1], rtol=0, atol=0)
    assert replicate_pad(torch.zeros(1, 3, 32, 48))[1] == (0, 0, 0, 0)


def test_prediction_is_truncated_not_rounded() -> None:
    frames = torch.zeros(1, 3, 16, 16, 3, dtype=torch.uint8)
    frames[:, 1] = 127
    # 0.5 * 255 = 127.5: truncated to 127 (VBench's astype(uint8)), rounding would give 128
    assert interpolation_mae(ConstantInterpolator(0.5), frames).tolist() == [0.0]
    frames[:, 1] = 128
    assert interpolation_mae(ConstantInterpolator(0.5), frames).tolist() == [1.0]
    # clipped to [0, 255] before the cast
    assert interpolation_mae(ConstantInterpolator(1.7), frames).tolist() == [127.0]


def test_compares_with_the_middle_frame_only() -> None:
    clip = torch.from_numpy(linear_motion_clip(3, 20, 30))[None]
    assert interpolation_mae(LinearInterpolator(), clip).tolist() == [0.0]
    bumped = clip.clone()
    bumped[:, 1] += 6
    assert interpolation_mae(LinearInterpolator(), bumped).tolist() == [6.0]
    bumped = clip.clone()
    bumped[:, 2] += 6  # the far frame moves, the prediction by 3
    assert interpolation_mae(LinearInterpolator(), bumped).tolist() == [3.0]


# --------------------------------------------------------------------------- through the runner


@pytest.fixture(scope="module")
def motion_clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("motion")
    synthetic.write_video(
        folder / "linear-9.mp4", linear_motion_clip(9, 120, 150), codec="libx264rgb"
    )
    synthetic.write_video(
        folder / "linear-8.mp4", linear_motion_clip(8, 120, 150), codec="libx264rgb"
    )
    jerky = linear_motion_clip(9, 120, 150).astype(np.int16)
    jerky[1::2] += 6  # every odd frame off the line by 6 grey levels
    synthetic.write_video(folder / "jerky-9.mp4", jerky.astype(np.uint8), codec="libx264rgb")
    synthetic.write_video(
        folder / "short-2.mp4", linear_motion_clip(2, 120, 150), codec="libx264rgb"
    )
    synthetic.write_video(
        folder / "texture-11.mp4", synthetic.translating_clip(11, 128, 144, pixels_per_frame=2)
    )
    return folder


def test_linear_motion_scores_exactly_one_through_the_runner(
    motion_clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_model(monkeypatch, LinearInterpolator())
    records = evaluate(
        [motion_clips],
        model="m",
        dimensions=["motion_smoothness"],
        out_dir=tmp_path,
        progress=False,
        chunk_frames=4,
    )
    by_name = {Path(r["video"]).stem: r for r in records}
    assert by_name["linear-9"]["score"] == 1.0
    assert by_name["linear-9"]["details"]["triplets"] == 4
    assert by_name["linear-8"]["score"] == 1.0
    assert by_name["linear-8"]["details"]["triplets"] == 3  # frame 7 has no right neighbour
    assert by_name["jerky-9"]["score"] == pytest.approx((255 - 6) / 255, abs=1e-12)
    assert by_name["short-2"]["status"] == "skipped"


def test_chunked_equals_unchunked_with_the_real_architecture(
    motion_clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.set_num_threads(1)
    use_model(monkeypatch, seeded_amt(0))
    runs = {}
    for chunk in (3, 64):
        records = evaluate(
            [motion_clips],
            model="m",
            dimensions=["motion_smoothness"],
            out_dir=tmp_path / str(chunk),
            progress=False,
            chunk_frames=chunk,
        )
        runs[chunk] = _scores(records)
    assert runs[3] == runs[64]
    assert 0.5 < runs[64]["texture-11"] < 1.0


def test_end_to_end_with_random_weights(motion_clips: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vbench_cn.cli import app

    video = motion_clips / "texture-11.mp4"
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            str(video),
            "--dimensions",
            "motion_smoothness",
            "--random-weights",
            "--out",
            str(out),
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    records = [
        json.loads(line)
        for p in out.glob("**/*.jsonl")
        for line in p.read_text().splitlines()
        if line
    ]
    scored = [r for r in records if r["dimension"] == "motion_smoothness"]
    assert len(scored) == 1 and scored[0]["status"] == "ok", scored
    assert 0.0 <= scored[0]["score"] <= 1.0
    assert scored[0]["random_weights"] is True
    assert scored[0]["details"]["triplets"] == 5


def test_extractor_keeps_autocast_off_and_one_triplet_per_pass_on_cpu() -> None:
    ext = AMTInterpolationError(ExtractorOptions(), model=LinearInterpolator())
    assert ext.amp_ok is False and ext._per_pass == 1 and ext.overlap == 2
