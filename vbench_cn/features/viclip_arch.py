"""ViCLIP ViT-L/14 (InternVid, Wang et al., ICLR 2024), written from its description.

A CLIP ViT-L/14 image tower whose patch embedding is a ``(1, 14, 14)`` Conv3d, with a
learned temporal position embedding added to every patch token (8 frames), all frames'
patch tokens attended jointly behind one class token; and a CLIP text transformer
(width 768, 12 layers, causal mask) with a 32-token context. Parameter names follow the
released checkpoint (``ViClip-InternVid-10M-FLT.pth``, key ``"model"``), as VBench loads it
strictly (``vbench/third_party/ViCLIP/viclip.py``): ``vision_encoder.*``, ``text_encoder.*``,
``temp``. Dropout, drop-path and token masking are training-only and omitted.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ViCLIPConfig:
    """Sizes of a ViCLIP model; the defaults are the released ViT-L/14."""

    image_size: int = 224
    patch_size: int = 14
    vision_width: int = 1024
    vision_layers: int = 24
    vision_heads: int = 16
    num_frames: int = 8
    embed_dim: int = 768
    text_width: int = 768
    text_layers: int = 12
    text_heads: int = 12
    context_length: int = 32
    vocab_size: int = 49408


class QuickGELU(nn.Module):
    """CLIP's ``x * sigmoid(1.702 x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """Pre-norm transformer block on ``(L, N, D)`` sequences (CLIP layout)."""

    def __init__(self, width: int, heads: int, attn_mask: torch.Tensor | None = None) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            OrderedDict(
                [
                    ("c_fc", nn.Linear(width, width * 4)),
                    ("gelu", QuickGELU()),
                    ("c_proj", nn.Linear(width * 4, width)),
                ]
            )
        )
        self.ln_2 = nn.LayerNorm(width)
        self.register_buffer("attn_mask", attn_mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.attn_mask.to(dtype=x.dtype) if self.attn_mask is not None else None
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A stack of :class:`ResidualAttentionBlock` named ``resblocks.<i>``."""

    def __init__(
        self, width: int, layers: int, heads: int, attn_mask: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.resblocks = nn.Sequential(
            *[ResidualAttentionBlock(width, heads, attn_mask) for _ in range(layers)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)


class ViCLIPVision(nn.Module):
    """Video tower: ``(B, 3, T, H, W)`` normalised frames -> ``(B, embed_dim)``."""

    def __init__(self, cfg: ViCLIPConfig) -> None:
        super().__init__()
        w, p = cfg.vision_width, cfg.patch_size
        self.conv1 = nn.Conv3d(3, w, (1, p, p), (1, p, p), bias=False)
        scale = w**-0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(w))
        self.positional_embedding = nn.Parameter(
            scale * torch.randn((cfg.image_size // p) ** 2 + 1, w)
        )
        self.temporal_positional_embedding = nn.Parameter(torch.zeros(1, cfg.num_frames, w))
        self.ln_pre = nn.LayerNorm(w)
        self.transformer = Transformer(w, cfg.vision_layers, cfg.vision_heads)
        self.ln_post = nn.LayerNorm(w)
        self.proj = nn.Parameter(scale * torch.randn(w, cfg.embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)  # (B, D, T, h, w)
        b, d, t = x.shape[:3]
        x = x.permute(0, 2, 3, 4, 1).reshape(b, t, -1, d)  # (B, T, N, D)
        x = x + self.positional_embedding[1:].to(x.dtype)  # spatial position, per frame
        temporal = self.temporal_positional_embedding
        # One frame: the mean temporal embedding (as the released code does).
        temporal = temporal.mean(1, keepdim=True) if t == 1 else temporal[:, :t]
        x = x + temporal.to(x.dtype).unsqueeze(2)  # (1, T, 1, D) broadcast over patches
        x = x.permute(0, 2, 1, 3).reshape(b, -1, d)  # tokens ordered (patch, frame)
        cls = (self.class_embedding + self.positional_embedding[0]).to(x.dtype).expand(b, 1, d)
        x = self.ln_pre(torch.cat([cls, x], dim=1))
        x = self.transformer(x.permute(1, 0, 2))
        return self.ln_post(x[0]) @ self.proj


class ViCLIPText(nn.Module):
    """CLIP text tower: ``(B, L)`` token ids -> ``(B, embed_dim)`` at the end-of-text token."""

    def __init__(self, cfg: ViCLIPConfig) -> None:
        super().__init__()
        self.context_length = cfg.context_length
        mask = torch.full((cfg.context_length, cfg.context_length), float("-inf")).triu_(1)
        self.transformer = Transformer(
            cfg.text_width, cfg.text_layers, cfg.text_heads, attn_mask=mask
        )
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.text_width)
        self.positional_embedding = nn.Parameter(
            0.01 * torch.randn(cfg.context_length, cfg.text_width)
        )
        self.ln_final = nn.LayerNorm(cfg.text_width)
        self.text_projection = nn.Parameter(
            cfg.text_width**-0.5 * torch.randn(cfg.text_width, cfg.embed_dim)
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(tokens) + self.positional_embedding.to(
            self.token_embedding.weight.dtype
        )
        x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection


class ViCLIP(nn.Module):
    """Both towers plus the learned temperature ``temp`` (unused at inference)."""

    def __init__(self, cfg: ViCLIPConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or ViCLIPConfig()
        self.vision_encoder = ViCLIPVision(self.cfg)
        self.text_encoder = ViCLIPText(self.cfg)
        self.temp = nn.Parameter(torch.ones([]) / 100.0)

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """``(B, T, 3, H, W)`` normalised frames -> ``(B, embed_dim)`` (not normalised)."""
        return self.vision_encoder(video.permute(0, 2, 1, 3, 4))

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, context_length)`` token ids -> ``(B, embed_dim)`` (not normalised)."""
        return self.text_encoder(tokens)


def build_viclip_l14() -> ViCLIP:
    """The released ViCLIP ViT-L/14 architecture (InternVid-10M-FLT), random init."""
    return ViCLIP(ViCLIPConfig())
