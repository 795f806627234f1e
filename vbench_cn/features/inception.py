"""Inception-v3 pool features (2048-d) of single frames, for frame-level FID and KID.

Resize convention: pytorch-fid's (``InceptionV3(resize_input=True, normalize_input=True)``):
each frame is resized to 299x299 with bilinear interpolation (``align_corners=False``, no
antialiasing, aspect ratio not kept) and mapped from [0, 1] to [-1, 1]. We follow it
because the FID numbers published for video generators and the public ``fid_stats_*.npz``
files are made with pytorch-fid, and imported statistics must match. Clean-FID (Parmar et
al., CVPR 2022) shows that an antialiased (PIL bicubic) resize gives different, arguably
better-founded values; its numbers are not comparable with ours. The resize runs on the CPU
in :meth:`prepare` so that only 299x299 frames travel to the device.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features.i3d import resize_frames
from vbench_cn.features.inception_arch import INCEPTION_SIZE
from vbench_cn.video import VideoInfo
from vbench_cn.weights import Weights, register_weights


def _build() -> torch.nn.Module:
    from vbench_cn.features.inception_arch import build_fid_inception

    return build_fid_inception()


def _convert(raw: Any) -> dict[str, torch.Tensor]:
    from vbench_cn.features.inception_arch import convert_inception_state_dict

    return convert_inception_state_dict(raw)


INCEPTION_WEIGHTS = register_weights(
    Weights(
        name="inception_v3_fid",
        build=_build,
        source="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
        "pt_inception-2015-12-05-6726825d.pth",
        filename="pt_inception-2015-12-05-6726825d.pth",
        # torch.hub-style name: 6726825d is the digest's prefix (docs/weights.md)
        sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
        size_bytes=95628359,
        license="Apache-2.0 (TensorFlow inception-2015-12-05 graph, ported by pytorch-fid)",
        transforms="each frame resized to 299x299 (bilinear, align_corners=False, no antialias, "
        "aspect not kept), [0, 255] -> [-1, 1]; features: 2048-d final average pool (pool_3)",
        meta={
            # includes the unused 1008-class fc, so the checkpoint loads strictly
            "num_params": 23850960,
            "paper": "Szegedy et al., Rethinking the Inception Architecture, CVPR 2016; "
            "FID: Heusel et al., NeurIPS 2017; KID: Binkowski et al., ICLR 2018",
            "reference_impl": "pytorch-fid 0.3.0 (fid_inception_v3), compared where installed",
            "used_by": ["fid_frames", "kid_frames"],
            "sha256_prefix": "6726825d",
            "format": "torch.save state dict (read with weights_only=True)",
        },
        convert=_convert,
    )
)


class InceptionFeatures(FeatureExtractor):
    """2048-d pool_3 features of the FID Inception-v3, one per sampled frame."""

    name = "inception_fid"
    batch_size = 64
    weights = ("inception_v3_fid",)
    amp_ok: ClassVar[bool] = False  # fp32 features: statistics are compared across runs

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        self.model, self.weights_id = self.load()

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        return resize_frames(frames, INCEPTION_SIZE).mul_(2.0).sub_(1.0)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model(batch)
