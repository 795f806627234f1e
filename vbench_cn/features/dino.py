"""DINO ViT-B/16 frame embeddings (subject consistency).

Architecture: timm's ``VisionTransformer`` with DINO's ViT-B/16 settings (patch 16, 768
wide, 12 blocks, 12 heads, qkv bias, LayerNorm eps 1e-6, no head). Its state-dict names
are those of ``facebookresearch/dino`` ``vision_transformer.py`` (``cls_token``,
``pos_embed``, ``patch_embed.proj``, ``blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,
mlp.fc2}``, ``norm``), so ``dino_vitbase16_pretrain.pth`` loads strictly.

VBench feeds DINO non-square frames (short side 224, no crop); DINO then resamples its
14×14 position grid with ``interpolate_pos_encoding``: bicubic, with a scale factor of
``(H//16 + 0.1)/14`` by ``(W//16 + 0.1)/14`` (the +0.1 avoids a floor error, DINO issue #8),
skipped only when the patch count is 196 *and* the input is square. The forward here
reproduces that rule.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features._transforms import SHORT_SIDE_MAX_ASPECT, dino_transform
from vbench_cn.video import VideoInfo
from vbench_cn.weights import Weights, register_weights, strip_module_prefix


class DinoViT(nn.Module):
    """ViT-B/16 returning DINO's CLS token, with DINO's position-embedding interpolation."""

    def __init__(self) -> None:
        super().__init__()
        from timm.models.vision_transformer import VisionTransformer

        vit = VisionTransformer(
            img_size=224,
            patch_size=16,
            embed_dim=768,
            depth=12,
            num_heads=12,
            mlp_ratio=4.0,
            qkv_bias=True,
            num_classes=0,
        )
        self.patch_size = 16
        self.cls_token: nn.Parameter = vit.cls_token  # type: ignore[assignment]
        self.pos_embed: nn.Parameter = vit.pos_embed  # type: ignore[assignment]
        self.patch_embed = vit.patch_embed
        self.blocks = vit.blocks
        self.norm = vit.norm

    def interpolate_pos_encoding(self, num_patches: int, height: int, width: int) -> torch.Tensor:
        """DINO's rule for a ``height × width`` input (pixels); returns ``(1, 1+P, D)``."""
        n = self.pos_embed.shape[1] - 1
        if num_patches == n and height == width:
            return self.pos_embed
        cls_pos = self.pos_embed[:, :1]
        grid = self.pos_embed[:, 1:]
        dim = grid.shape[-1]
        side = int(math.sqrt(n))
        h0 = height // self.patch_size + 0.1
        w0 = width // self.patch_size + 0.1
        grid = F.interpolate(
            grid.reshape(1, side, side, dim).permute(0, 3, 1, 2),
            scale_factor=(h0 / math.sqrt(n), w0 / math.sqrt(n)),
            mode="bicubic",
        )
        if grid.shape[-2] != int(h0) or grid.shape[-1] != int(w0):
            raise RuntimeError(f"position grid {tuple(grid.shape[-2:])} != {(int(h0), int(w0))}")
        grid = grid.permute(0, 2, 3, 1).reshape(1, -1, dim)
        return torch.cat([cls_pos, grid], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` normalised images -> ``(B, 768)`` CLS tokens (not normalised)."""
        b, _, h, w = x.shape
        tokens = self.patch_embed.proj(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls_token.expand(b, -1, -1), tokens], dim=1)
        tokens = tokens + self.interpolate_pos_encoding(tokens.shape[1] - 1, h, w).to(tokens.dtype)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)[:, 0]


def build_dino_vitb16() -> nn.Module:
    """DINO ViT-B/16 with random init (for the weights registry)."""
    return DinoViT()


DINO_VITB16 = register_weights(
    Weights(
        name="dino_vitb16",
        build=build_dino_vitb16,
        source="https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/"
        "dino_vitbase16_pretrain.pth",
        filename="dino_vitbase16_pretrain.pth",
        sha256=None,
        unpinned_reason="Meta publishes no sha256; the object store's metadata gives the MD5 "
        "552daf80332dbde16bba2a52c6508b77 (quoted in public code), not a sha256 "
        "(searched: the code, pages and issues corpora "
        "for the file name with sha256; docs/weights.md)",
        size_bytes=None,
        license="Apache-2.0",
        transforms="short side to 224 (bilinear, antialias=False, float 0-255), no crop, /255, "
        "ImageNet mean/std",
        meta={
            "num_params": 85798656,
            "paper": "Caron et al., Emerging Properties in Self-Supervised Vision Transformers, "
            "ICCV 2021",
            "vbench_file": "vbench/subject_consistency.py",
            "vbench_cache_path": "dino_model/dino_vitbase16_pretrain.pth",
            "used_by": ["subject_consistency"],
        },
        convert=strip_module_prefix,
    )
)


class DinoExtractor(FeatureExtractor):
    """Per-frame DINO ViT-B/16 CLS embeddings, L2-normalised: ``(T, 768)``.

    Preprocessing: VBench ``dino_transform(224)`` (``vbench/utils.py``), on all frames.
    """

    name = "dino_vitb16"
    max_aspect_ratio = SHORT_SIDE_MAX_ASPECT  # resizes the short side
    batch_size = 32
    weights: ClassVar[tuple[str, ...]] = (DINO_VITB16.name,)
    amp_ok = False  # VBench runs DINO in float32

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        self.model, self.weights_id = self.load()

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        return dino_transform(frames)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model(batch)

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> torch.Tensor:
        if outputs.numel() == 0:
            return outputs.reshape(0, 768)
        return F.normalize(outputs.float(), dim=-1, p=2)
