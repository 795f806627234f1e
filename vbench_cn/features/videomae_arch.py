"""VideoMAE-v2 video ViT (encoder + mean-pooled features), as used by content-debiased FVD.

Architecture: Wang et al., "VideoMAE V2: Scaling Video Masked Autoencoders with Dual
Masking", CVPR 2023 (arXiv:2303.16727): tubelet patch embedding (2x14x14 for ViT-g), fixed
sine-cosine position table (Vaswani et al. 2017), pre-norm transformer blocks whose query
and value projections carry a bias but the key projection does not, and, with mean pooling,
a LayerNorm (``fc_norm``) over the average of all tokens.

Ge et al., "On the Content Bias in Fréchet Video Distance", CVPR 2024 (package ``cd-fvd``)
use the ViT-g checkpoint ``vit_g_hybrid_pt_1200e_ssv2_ft.pth`` (pre-trained on UnlabeledHybrid,
fine-tuned on Something-Something v2, 174 classes) and read ``forward_features``: the 1408-d
``fc_norm`` output, on 16 frames resized to 224x224 with values in [0, 1] (no mean/std).
Parameter names follow that checkpoint (``blocks.3.attn.q_bias``, ``fc_norm.weight``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vbench_cn.features.layers import Mlp


@dataclass(frozen=True)
class VideoViTConfig:
    """Sizes of a VideoMAE-v2 encoder."""

    embed_dim: int = 1408
    depth: int = 40
    num_heads: int = 16
    mlp_hidden: int = 6144  # int(1408 * 48 / 11), the ViT-g ratio
    patch_size: int = 14
    tubelet_size: int = 2
    image_size: int = 224
    num_frames: int = 16
    num_classes: int = 174  # Something-Something v2 head of the fine-tuned checkpoint
    layer_norm_eps: float = 1e-6

    @property
    def num_tokens(self) -> int:
        """Tokens per clip: (T / tubelet) x (S / patch)^2."""
        side = self.image_size // self.patch_size
        return (self.num_frames // self.tubelet_size) * side * side


#: ViT-g/14 of VideoMAE-v2 (about 1.01 billion parameters).
VIT_GIANT = VideoViTConfig()


def sinusoid_table(num_positions: int, dim: int) -> torch.Tensor:
    """``(1, N, dim)`` sine-cosine table of angle ``pos / 10000^(2*floor(j/2)/dim)``.

    sin on even channels j, cos on odd ones.
    """
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(10000.0, 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    table = torch.where(j.long() % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.to(torch.float32)[None]


class Attention(nn.Module):
    """Multi-head self-attention; ``qkv`` has no bias, ``q_bias`` and ``v_bias`` are separate."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        bias = torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias).reshape(
            b, n, 3, self.num_heads, c // self.num_heads
        )
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(d)) v
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    """Pre-norm transformer block (no layer scale: the checkpoint has ``init_values = 0``)."""

    def __init__(self, cfg: VideoViTConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.embed_dim, eps=cfg.layer_norm_eps)
        self.attn = Attention(cfg.embed_dim, cfg.num_heads)
        self.norm2 = nn.LayerNorm(cfg.embed_dim, eps=cfg.layer_norm_eps)
        self.mlp = Mlp(cfg.embed_dim, cfg.mlp_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """Tubelet embedding: Conv3d with kernel = stride = (tubelet, patch, patch)."""

    def __init__(self, cfg: VideoViTConfig) -> None:
        super().__init__()
        k = (cfg.tubelet_size, cfg.patch_size, cfg.patch_size)
        self.proj = nn.Conv3d(3, cfg.embed_dim, kernel_size=k, stride=k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class VideoMAEv2(nn.Module):
    """VideoMAE-v2 ViT; :meth:`forward_features` gives the pooled embedding ``(B, embed_dim)``.

    Args:
        cfg: model sizes (:data:`VIT_GIANT` for the cd-FVD detector).
    """

    pos_embed: torch.Tensor  # fixed sine table (non-persistent buffer)

    def __init__(self, cfg: VideoViTConfig = VIT_GIANT) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg)
        self.register_buffer(
            "pos_embed", sinusoid_table(cfg.num_tokens, cfg.embed_dim), persistent=False
        )
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.depth)])
        self.fc_norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.layer_norm_eps)
        self.head = nn.Linear(cfg.embed_dim, cfg.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Random init as VideoMAE-v2: trunc-normal (std 0.02) linears, zero biases, unit norms."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Clips ``(B, 3, T, H, W)`` in [0, 1] → ``fc_norm(mean over tokens)``."""
        tokens = self.patch_embed(x)
        if tokens.shape[1] != self.pos_embed.shape[1]:
            raise ValueError(
                f"VideoMAE-v2 expects {self.cfg.num_frames} frames of {self.cfg.image_size}px "
                f"({self.pos_embed.shape[1]} tokens), got {tokens.shape[1]} tokens"
            )
        x = tokens + self.pos_embed.to(tokens.dtype)
        for blk in self.blocks:
            x = blk(x)
        return self.fc_norm(x.mean(dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def build_videomae_g() -> VideoMAEv2:
    """The ViT-g/14 VideoMAE-v2 (SSv2 head) with random weights."""
    return VideoMAEv2(VIT_GIANT).eval()


def convert_videomae_state_dict(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Checkpoint tensors to our keys: unwrap ``model``/``module`` and drop non-parameter extras.

    The VideoMAE-v2 release nests the weights under ``"model"`` (or ``"module"``), as
    ``cd-fvd`` unwraps them. A stored ``pos_embed`` is the fixed sine table and is dropped.
    """
    for key in ("model", "module", "state_dict"):
        if key in sd and isinstance(sd[key], Mapping):
            sd = sd[key]  # type: ignore[assignment]
            break
    out = {k.removeprefix("module."): v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    out.pop("pos_embed", None)
    return out


def count_params(cfg: VideoViTConfig) -> int:
    """Parameters of :class:`VideoMAEv2` for ``cfg``, computed without building it."""
    d, h = cfg.embed_dim, cfg.mlp_hidden
    patch = 3 * cfg.tubelet_size * cfg.patch_size**2 * d + d
    block = 2 * 2 * d + 3 * d * d + 2 * d + d * d + d + d * h + h + h * d + d
    return patch + cfg.depth * block + 2 * d + d * cfg.num_classes + cfg.num_classes
