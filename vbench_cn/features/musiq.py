"""MUSIQ (SPAQ) per-frame image quality (imaging quality).

Architecture: :mod:`vbench_cn.features.musiq_arch`, our MUSIQ with the single-score head,
numerically the pyiqa class VBench instantiates (``vbench/imaging_quality.py``). MUSIQ maps
its 0-1 input to [-1, 1] and builds multi-scale patches itself (longer side 224 and 384
plus the native resolution), so its score depends on resolution.

Preprocessing: VBench's default mode ``longer`` (since 2024-04-21): frames whose longer
side exceeds 512 are resized so that it is 512 (bilinear, ``antialias=False``), then /255.
Output: MOS per frame on MUSIQ's 0-100 scale.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features._transforms import musiq_longer_transform
from vbench_cn.features.musiq_arch import build_musiq
from vbench_cn.video import VideoInfo
from vbench_cn.weights import Weights, register_weights, strip_module_prefix

MUSIQ_SPAQ = register_weights(
    Weights(
        name="musiq_spaq",
        build=build_musiq,
        source="https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/"
        "musiq_spaq_ckpt-358bb6af.pth",
        filename="musiq_spaq_ckpt-358bb6af.pth",
        # torch.hub-style name: 358bb6af is the digest's prefix (docs/weights.md)
        sha256="358bb6af275e28ea56821d44fb55c6cb83645db11f394d3ad65b2d149965ab50",
        size_bytes=None,
        license="Apache-2.0 (google-research/musiq); port by IQA-PyTorch",
        transforms="/255 RGB; longer side to 512 if larger (bilinear, antialias=False); "
        "MUSIQ multi-scale patches inside",
        meta={
            "num_params": 27125825,
            "paper": "Ke et al., MUSIQ: Multi-scale Image Quality Transformer, ICCV 2021",
            "vbench_file": "vbench/imaging_quality.py",
            "vbench_cache_path": "pyiqa_model/musiq_spaq_ckpt-358bb6af.pth",
            "used_by": ["imaging_quality"],
            "hash_prefix": "358bb6af",
        },
        convert=strip_module_prefix,
    )
)


class MusiqSpaq(FeatureExtractor):
    """Per-frame MUSIQ-SPAQ mean opinion score (0-100): ``(T,)``."""

    name = "musiq_spaq"
    batch_size = 8
    cpu_batch_size = 1  # 0.24 s/frame at 1 vs 0.30 at 8 on a 2-core CPU: batching pays only on GPU
    weights: ClassVar[tuple[str, ...]] = (MUSIQ_SPAQ.name,)
    amp_ok = False  # VBench runs MUSIQ in float32

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        self.model, self.weights_id = self.load()

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        return musiq_longer_transform(frames)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model(batch).reshape(-1)

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> torch.Tensor:
        return outputs.float().reshape(-1)
