"""UMT ViT-L/16 video classifier (Li et al., Unmasked Teacher, ICCV 2023), from its description.

The fine-tuning architecture VBench builds for human action (``vbench/human_action.py``:
``vit_large_patch16_224`` with ``num_classes=400, all_frames=16, tubelet_size=1,
use_mean_pooling=True``): a ViT whose patch embedding is a ``(tubelet, 16, 16)`` Conv3d over
the clip, a fixed sinusoidal position table over (frame, row, column) that starts as the
8-frame table of pre-training and is linearly interpolated in time to 16 frames, pre-norm
blocks with separate q and v biases (no k bias), mean pooling, LayerNorm and a linear head.
Parameter names follow the released checkpoint ``l16_ptk710_ftk710_ftk400_f16_res224.pth``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vbench_cn.features.layers import Mlp


@dataclass(frozen=True)
class UMTConfig:
    """Sizes of a UMT classifier; defaults are VBench's ViT-L/16, 16 frames, Kinetics-400."""

    image_size: int = 224
    patch_size: int = 16
    num_frames: int = 16
    tubelet_size: int = 1
    dim: int = 1024
    depth: int = 24
    heads: int = 16
    mlp_ratio: float = 4.0
    num_classes: int = 400
    pretrain_frames: int = 8  # frames of the sinusoid table before temporal interpolation


def sinusoid_table(num_positions: int, dim: int) -> torch.Tensor:
    """``(num_positions, dim)`` table of ``pos / 10000^(2(j//2)/dim)``; sin on even j, else cos."""
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(
        torch.tensor(10000.0, dtype=torch.float64), 2 * torch.div(j, 2, rounding_mode="floor") / dim
    )
    table = torch.empty(num_positions, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table.float()


def video_position_table(cfg: UMTConfig) -> torch.Tensor:
    """The ``(1, T·g·g, dim)`` position table VBench's UMT builds (``get_sinusoid_encoding_table``).

    The pre-training table covers ``pretrain_frames`` frames of ``g x g`` patches; when the
    model sees another number of (tubelet) frames it is linearly interpolated along time
    (``F.interpolate(mode="linear")``, align_corners False).
    """
    g = cfg.image_size // cfg.patch_size
    t_old, t_new, c = cfg.pretrain_frames, cfg.num_frames // cfg.tubelet_size, cfg.dim
    table = sinusoid_table(t_old * g * g, c)[None]
    if t_new != t_old:
        x = table.reshape(1, t_old, g, g, c).permute(0, 2, 3, 4, 1).reshape(-1, c, t_old)
        x = F.interpolate(x, size=t_new, mode="linear")
        table = x.reshape(1, g, g, c, t_new).permute(0, 4, 1, 2, 3).flatten(1, 3)
    return table


class PatchEmbed(nn.Module):
    """``(B, 3, T, H, W)`` -> ``(B, T/tubelet · H/p · W/p, dim)`` with a Conv3d."""

    def __init__(self, cfg: UMTConfig) -> None:
        super().__init__()
        k = (cfg.tubelet_size, cfg.patch_size, cfg.patch_size)
        self.proj = nn.Conv3d(3, cfg.dim, kernel_size=k, stride=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with q and v biases only (BEiT style)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        qkv = (
            F.linear(x, self.qkv.weight, bias)
            .reshape(b, n, 3, self.heads, c // self.heads)
            .permute(2, 0, 3, 1, 4)
        )
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    """Pre-norm transformer block (LayerNorm eps 1e-6)."""

    def __init__(self, cfg: UMTConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.attn = Attention(cfg.dim, cfg.heads)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.mlp = Mlp(cfg.dim, int(cfg.dim * cfg.mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class UMTClassifier(nn.Module):
    """``(B, 3, T, H, W)`` ImageNet-normalised clip -> ``(B, num_classes)`` logits."""

    def __init__(self, cfg: UMTConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or UMTConfig()
        self.patch_embed = PatchEmbed(cfg)
        # A parameter (not a buffer) in VBench's model, so fine-tuned checkpoints may carry it.
        self.pos_embed = nn.Parameter(video_position_table(cfg), requires_grad=False)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.depth)])
        self.fc_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = nn.Linear(cfg.dim, cfg.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = x + self.pos_embed.to(x.dtype)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.fc_norm(x.mean(1)))


def build_umt_l16_k400() -> UMTClassifier:
    """VBench's UMT ViT-L/16 Kinetics-400 classifier (16 frames, tubelet 1), random init."""
    return UMTClassifier(UMTConfig())


def num_tokens(cfg: UMTConfig) -> int:
    """Patch tokens of one clip."""
    return (cfg.num_frames // cfg.tubelet_size) * int(math.pow(cfg.image_size // cfg.patch_size, 2))
