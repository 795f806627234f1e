"""VBench's frame transforms, on float 0-255 tensors as VBench applies them.

Every transform runs on the device of its input (CPU or accelerator), with its constants
made there: one code path, so CPU results are the reference ones on any machine.

VBench's ``load_video`` returns float32 frames in 0..255 (not uint8), so every resize runs
on floats and is never rounded, and CLIP's bicubic output may overshoot 0..255 without a
clamp (docs/vbench-offline.md). ``antialias=False`` is pinned, as in VBench since commit
``ee896a9`` (2024-11-29). Sources: ``vbench/utils.py`` (``clip_transform``,
``dino_transform``), ``vbench/imaging_quality.py`` (``transform``, mode ``longer``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

#: OpenAI CLIP normalisation (vbench/utils.py clip_transform).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
#: ImageNet normalisation (vbench/utils.py dino_transform).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


#: Largest long/short side ratio a short-side resize takes (``FeatureExtractor.max_aspect_ratio``):
#: 8:1 gives DINO 14x112 = 1568 tokens, eight times a square frame's; wider real footage is
#: rare (32:9 is 3.6:1), and a 4000x16 strip (250:1) would cost ViT attention 60,000 times more.
SHORT_SIDE_MAX_ASPECT = 8.0

#: Most bytes of full-resolution float32 frames a transform holds at once: about four
#: 1080p frames. A 16-frame 1080p chunk converted at once is 400 MB per extractor.
FLOAT_FRAMES_BUDGET = 100 * 1024 * 1024

_T = TypeVar("_T", bound=Callable[..., torch.Tensor])


def in_frame_slices(transform: _T) -> _T:
    """Apply a per-frame ``transform`` of ``(n, H, W, 3)`` frames to a few frames at a time.

    The result is the same (every step is per image) but the float copy of the frames at
    full resolution is bounded by :data:`FLOAT_FRAMES_BUDGET`, whatever the chunk size.
    """

    @functools.wraps(transform)
    def sliced(frames: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        per_frame = max(1, frames[0].numel() * 4) if frames.shape[0] else 1
        step = max(1, FLOAT_FRAMES_BUDGET // per_frame)
        if frames.shape[0] <= step:
            return transform(frames, *args, **kwargs)
        return torch.cat(
            [
                transform(frames[i : i + step], *args, **kwargs)
                for i in range(0, frames.shape[0], step)
            ]
        )

    return sliced  # type: ignore[return-value]


def to_float_nchw(frames: torch.Tensor) -> torch.Tensor:
    """``(n, H, W, 3)`` uint8 RGB -> ``(n, 3, H, W)`` float32 on the 0-255 scale."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be (n, H, W, 3), got {tuple(frames.shape)}")
    return frames.permute(0, 3, 1, 2).to(torch.float32).contiguous()


def channel_constants(values: tuple[float, ...], like: torch.Tensor) -> torch.Tensor:
    """``(1, C, 1, 1)`` holding ``values`` in ``like``'s dtype, made on ``like``'s device.

    Filled in place there: no host tensor is built and copied (a CPU ``(1, 3, 1, 1)`` tensor
    cannot meet a CUDA one, and ``torch.tensor(values, device=...)`` is a host-to-device
    copy that waits for the device). Same float rounding as ``torch.tensor(values)``.
    """
    out = torch.empty(len(values), dtype=like.dtype, device=like.device)
    for i, value in enumerate(values):
        out[i].fill_(value)
    return out.view(1, -1, 1, 1)


def normalize(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Channel-wise ``(x - mean) / std`` of ``(n, 3, H, W)``, on ``x``'s device and dtype."""
    return (x - channel_constants(mean, x)) / channel_constants(std, x)


def resize_short_side(x: torch.Tensor, size: int, interpolation: InterpolationMode) -> torch.Tensor:
    """torchvision ``Resize(size)``: short side to ``size``, long side ``int(size·long/short)``."""
    return TF.resize(x, [size], interpolation=interpolation, antialias=False)


@in_frame_slices
def clip_transform(frames: torch.Tensor, size: int = 224) -> torch.Tensor:
    """VBench ``clip_transform(224)``: short side bicubic, center crop, /255, CLIP mean/std.

    Args:
        frames: ``(n, H, W, 3)`` uint8 RGB.

    Returns:
        ``(n, 3, size, size)`` float32.
    """
    x = resize_short_side(to_float_nchw(frames), size, InterpolationMode.BICUBIC)
    x = TF.center_crop(x, [size, size])
    return normalize(x / 255.0, CLIP_MEAN, CLIP_STD)


@in_frame_slices
def dino_transform(frames: torch.Tensor, size: int = 224) -> torch.Tensor:
    """VBench ``dino_transform(224)``: short side bilinear, no crop, /255, ImageNet mean/std.

    Args:
        frames: ``(n, H, W, 3)`` uint8 RGB.

    Returns:
        ``(n, 3, h, w)`` float32 with ``min(h, w) == size`` and the aspect ratio kept.
    """
    x = resize_short_side(to_float_nchw(frames), size, InterpolationMode.BILINEAR)
    return normalize(x / 255.0, IMAGENET_MEAN, IMAGENET_STD)


@in_frame_slices
def musiq_longer_transform(frames: torch.Tensor, max_side: int = 512) -> torch.Tensor:
    """VBench imaging-quality mode ``longer``: if max(H, W) > 512 resize, then /255.

    The target is ``(int(512/max·H), int(512/max·W))`` (bilinear, ``antialias=False``).

    Args:
        frames: ``(n, H, W, 3)`` uint8 RGB.

    Returns:
        ``(n, 3, h, w)`` float32 in 0..1.
    """
    x = to_float_nchw(frames)
    h, w = x.shape[-2:]
    if max(h, w) > max_side:
        scale = max_side / max(h, w)
        x = TF.resize(
            x,
            [int(scale * h), int(scale * w)],
            interpolation=InterpolationMode.BILINEAR,
            antialias=False,
        )
    return x / 255.0


def pad_to_multiple(x: torch.Tensor, multiple: int = 8) -> torch.Tensor:
    """RAFT's ``InputPadder`` in ``sintel`` mode: replicate-pad both sides to a multiple.

    Padding per axis is ``p = (-size) % multiple``, split ``p // 2`` before and
    ``p - p // 2`` after (``vbench/third_party/RAFT/core/utils_core/utils.py``).

    Args:
        x: ``(n, C, H, W)`` float.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    pad = [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]
    return torch.nn.functional.pad(x, pad, mode="replicate")
