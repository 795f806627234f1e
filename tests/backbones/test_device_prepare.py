"""Preprocessing that can run on the device gives, on CPU tensors, the CPU results bit for bit.

Each test compares a rewritten step with the way it was computed before it could run on a
device (written out here as the reference): OWLv2's resize and pad (per frame before,
a few frames at a time now), RAFT's pairs (float32 in ``prepare`` before, uint8 pairs
converted in ``forward`` now), AMT's triplet gather and sampling grid (a CPU ``linspace``
copied at every warp before, made on the device and cached now), the normalisation
constants, and the detector's colour naming (boolean index writes and one host read per
box before). The VBench parity fixtures and the seeded goldens check the whole pipelines.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from vbench_cn import synthetic
from vbench_cn.features import ExtractorOptions, _transforms
from vbench_cn.features.amt import AMTInterpolationError, triplet_starts
from vbench_cn.features.amt_arch import backward_warp, linspace_like_cpu, sampling_grid
from vbench_cn.features.detector import (
    COLOR_NAMES,
    color_codes,
    dominant_color,
    dominant_colors,
    owlv2_resize_pad,
)
from vbench_cn.features.raft import RaftThings
from vbench_cn.video import VideoInfo

GEN = torch.Generator().manual_seed(0)


def _frames(n: int, h: int, w: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, h, w, 3), dtype=torch.uint8, generator=GEN)


def _info(frames: torch.Tensor) -> VideoInfo:
    n, h, w, _ = frames.shape
    return VideoInfo("x.mp4", n, 8.0, n / 8.0, w, h, None, False, "decord")


def test_normalize_constants_made_by_fills_equal_torch_tensor_constants() -> None:
    x = torch.rand(4, 3, 17, 23, generator=GEN) * 255
    for dtype in (torch.float32, torch.float64, torch.float16):
        y = x.to(dtype)
        m = torch.tensor(_transforms.CLIP_MEAN, dtype=dtype).view(1, -1, 1, 1)
        s = torch.tensor(_transforms.CLIP_STD, dtype=dtype).view(1, -1, 1, 1)
        got = _transforms.normalize(y, _transforms.CLIP_MEAN, _transforms.CLIP_STD)
        assert torch.equal(got, (y - m) / s), dtype


def _owlv2_per_frame(frames: torch.Tensor, size: int) -> torch.Tensor:
    """The previous Owlv2Coco.prepare: one frame at a time into a CPU grey canvas."""
    h, w = frames.shape[1:3]
    scale = size / max(h, w)
    nh, nw = max(1, min(size, round(h * scale))), max(1, min(size, round(w * scale)))
    out = torch.full((frames.shape[0], 3, size, size), 0.5)
    for i, frame in enumerate(frames):
        x = frame.permute(2, 0, 1).float().unsqueeze(0) / 255.0
        x = TF.resize(x, [nh, nw], interpolation=InterpolationMode.BILINEAR, antialias=True)
        out[i, :, :nh, :nw] = x[0].clamp(0, 1)
    return out


@pytest.mark.parametrize("shape", [(72, 128), (128, 72), (50, 50), (9, 300), (200, 33)])
def test_owlv2_resize_pad_equals_the_frame_by_frame_version(shape: tuple[int, int]) -> None:
    frames = _frames(5, *shape)
    assert torch.equal(owlv2_resize_pad(frames, 96), _owlv2_per_frame(frames, 96))


def test_owlv2_resize_pad_bounds_the_float_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    original = _transforms.to_float_nchw

    def spy(frames: torch.Tensor) -> torch.Tensor:
        seen.append(frames.shape[0])
        return original(frames)

    monkeypatch.setattr("vbench_cn.features.detector.to_float_nchw", spy)
    monkeypatch.setattr(_transforms, "FLOAT_FRAMES_BUDGET", 2 * 40 * 60 * 3 * 4)
    frames = _frames(5, 40, 60)
    assert torch.equal(owlv2_resize_pad(frames, 64), _owlv2_per_frame(frames, 64))
    assert seen == [2, 2, 1]


class _Recorder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        self.inputs.append(pairs)
        return torch.zeros(pairs.shape[0])


@pytest.mark.parametrize("shape", [(64, 80), (61, 77), (128, 136)])
def test_raft_model_input_equals_the_float_pairs_built_in_prepare_before(
    shape: tuple[int, int],
) -> None:
    ext = RaftThings.__new__(RaftThings)  # no weights needed: the model is replaced
    ext.model = _Recorder()
    frames = _frames(6, *shape)
    items = ext.prepare(frames, position=0, info=_info(frames))
    assert items.dtype == torch.uint8 and items.shape == (5, 2, *shape, 3)
    ext.forward(items)
    x = _transforms.pad_to_multiple(_transforms.to_float_nchw(frames), 8)
    before = torch.stack([x[:-1], x[1:]], dim=1)
    assert torch.equal(ext.model.inputs[0], before)


@pytest.mark.parametrize("position", [0, 1, 2, 7, 60, 61])
def test_amt_triplets_gathered_on_the_device_equal_the_listed_index(position: int) -> None:
    ext = AMTInterpolationError.__new__(AMTInterpolationError)
    frames = _frames(9, 8, 10)
    got = ext.prepare(frames, position=position, info=_info(frames))
    starts = triplet_starts(9, position=position)
    before = frames[torch.tensor([[s, s + 1, s + 2] for s in starts], dtype=torch.long)]
    assert got is not None and torch.equal(got, before)


def test_linspace_made_on_a_device_equals_the_cpu_linspace_for_every_size() -> None:
    cpu = torch.device("cpu")
    for n in range(1, 4097):
        assert torch.equal(linspace_like_cpu(-1.0, 1.0, n, cpu), torch.linspace(-1.0, 1.0, n)), n


def test_linspace_like_cpu_is_float64_arithmetic_then_one_rounding() -> None:
    # the values do not depend on the device's own linspace kernel: the formula is exact
    got = linspace_like_cpu(-1.0, 1.0, 7, torch.device("meta"))
    assert got.device.type == "meta" and got.dtype == torch.float32 and got.shape == (7,)


def _warp_with_cpu_grid(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """The previous backward_warp: CPU linspace grids, copied to the image's device."""
    b, _, h, w = flow.shape
    xs = torch.linspace(-1.0, 1.0, w).view(1, 1, 1, w).expand(b, -1, h, -1)
    ys = torch.linspace(-1.0, 1.0, h).view(1, 1, h, 1).expand(b, -1, -1, w)
    base = torch.cat([xs, ys], 1).to(image)
    offset = torch.cat([flow[:, 0:1] / ((w - 1.0) / 2.0), flow[:, 1:2] / ((h - 1.0) / 2.0)], 1)
    grid = (base + offset).permute(0, 2, 3, 1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


@pytest.mark.parametrize("shape", [(16, 16), (23, 41), (90, 160)])
def test_backward_warp_with_the_cached_grid_equals_the_cpu_grid(shape: tuple[int, int]) -> None:
    image = torch.rand(2, 5, *shape, generator=GEN)
    flow = torch.randn(2, 2, *shape, generator=GEN) * 3
    assert torch.equal(backward_warp(image, flow), _warp_with_cpu_grid(image, flow))
    with torch.inference_mode():  # the cached grid serves inference and normal calls alike
        assert torch.equal(backward_warp(image, flow), _warp_with_cpu_grid(image, flow))
    assert sampling_grid.cache_info().hits > 0


def _color_codes_with_index_writes(rgb: torch.Tensor) -> torch.Tensor:
    """The previous color_codes: the same rules written with boolean-index assignments."""
    r, g, b = rgb.float().unbind(-1)
    v = torch.maximum(torch.maximum(r, g), b)
    mn = torch.minimum(torch.minimum(r, g), b)
    delta = v - mn
    s = torch.where(v > 0, delta / v.clamp_min(1e-8), torch.zeros_like(v))
    safe = delta.clamp_min(1e-8)
    h = (
        torch.where(
            v == r,
            ((g - b) / safe) % 6,
            torch.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4),
        )
        * 60.0
    )
    code = torch.full(v.shape, COLOR_NAMES.index("gray"), dtype=torch.int64)
    rules: list[tuple[Any, str]] = [
        ((s >= 0.25) & ((h < 15) | (h >= 345)), "red"),
        ((s >= 0.25) & (h >= 15) & (h < 40), "orange"),
        ((s >= 0.25) & (h >= 15) & (h < 45) & (v < 0.6), "brown"),
        ((s >= 0.25) & (h >= 40) & (h < 70) & (v >= 0.6), "yellow"),
        ((s >= 0.25) & (h >= 40) & (h < 70) & (v < 0.6), "brown"),
        ((s >= 0.25) & (h >= 70) & (h < 165), "green"),
        ((s >= 0.25) & (h >= 165) & (h < 255), "blue"),
        ((s >= 0.25) & (h >= 255) & (h < 290), "purple"),
        ((s >= 0.25) & (h >= 290) & (h < 345), "pink"),
        ((s >= 0.25) & ((h < 15) | (h >= 345)) & (s < 0.5) & (v > 0.7), "pink"),
        ((s < 0.25) & (v > 0.8), "white"),
        (v < 0.2, "black"),
    ]
    for mask, name in rules:
        code[mask] = COLOR_NAMES.index(name)
    return code


def test_color_codes_without_index_writes_name_every_pixel_the_same() -> None:
    rgb = torch.rand(120, 150, 3, generator=GEN)
    rgb[::7] = rgb[::7].round()  # exact greys, ties between channels
    rgb[::5, :, 0] = rgb[::5, :, 1]
    assert torch.equal(color_codes(rgb), _color_codes_with_index_writes(rgb))


def test_dominant_colors_of_all_boxes_equal_dominant_color_box_by_box() -> None:
    for trial in range(12):
        h, w = (int(v) for v in torch.randint(1, 60, (2,), generator=GEN))
        top = 3 if trial % 3 == 0 else len(COLOR_NAMES)  # few colours: many ties
        codes = torch.randint(0, top, (h, w), generator=GEN)
        size = torch.tensor([w, h, w, h], dtype=torch.float32)
        boxes = (torch.rand(40, 4, generator=GEN) * 1.4 - 0.2) * size
        extra = torch.tensor(
            [[0, 0, 0, 0], [-5, -5, -1, -1], [w + 3, h + 3, w + 9, h + 9], [0, 0, w, h]],
            dtype=torch.float32,
        )
        boxes = torch.cat([boxes, boxes.round(), boxes.round() + 0.5, extra])  # .5: half-even
        one_by_one = torch.tensor([dominant_color(codes, b) for b in boxes.tolist()])
        assert torch.equal(dominant_colors(codes, boxes), one_by_one), trial


# --------------------------------------------------------------------------- AMT passes


def _tiny_amt() -> AMTInterpolationError:
    return AMTInterpolationError(ExtractorOptions(random_weights=True, seed=0))


def _triplets(seed: int, n: int, h: int = 64, w: int = 72) -> torch.Tensor:
    clip = synthetic.translating_clip(2 * n + 1, h, w, pixels_per_frame=2 + seed, seed=seed)
    frames = torch.from_numpy(np.ascontiguousarray(clip))
    ext = AMTInterpolationError.__new__(AMTInterpolationError)
    items = ext.prepare(frames, position=0, info=_info(frames))
    assert items is not None
    return items


def test_a_triplet_error_in_a_padded_pass_does_not_depend_on_the_others() -> None:
    """With CUDA's passes of 4 (forced here on the CPU), a triplet's error is the same
    whatever shares its pass and however the last pass is filled."""
    ext = _tiny_amt()
    ext._per_pass = 4
    a, b = _triplets(0, 3), _triplets(1, 5)
    with torch.inference_mode():
        alone = torch.cat([ext.forward(a[i : i + 1]) for i in range(3)])
        mixed = ext.forward(torch.cat([b[:2], a, b[2:]]))
        assert torch.equal(mixed[2:5], alone)
        assert torch.equal(ext.forward(a), alone)
