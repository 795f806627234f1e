"""MUSIQ, the multi-scale image quality transformer behind VBench's imaging quality.

Ke, Wang, Wang, Milanfar, Yang, "MUSIQ: Multi-scale Image Quality Transformer", ICCV 2021.
An image is cut into 32x32 patches at several scales (its longer side resized to 224 and
384, plus the native resolution); each patch goes through a small ResNet stem (a
weight-standardised 7x7 convolution, group norm, max pool, one bottleneck) and becomes one
token. Tokens carry a hash-based spatial embedding (the patch grid of any size is mapped
onto a fixed 10x10 grid by nearest-neighbour lookup) and a scale embedding; a 14-layer
transformer with a class token reads all scales at once and a linear head on the class
token gives the mean opinion score.

Parameter names follow the IQA-PyTorch checkpoints (``musiq_spaq_ckpt-358bb6af.pth``) so
that they load with ``strict=True``. VBench runs the IQA-PyTorch port (``pyiqa`` 0.1.10,
``MUSIQ(num_class=1)``), so its numerical recipe is the one kept here: TensorFlow "SAME"
padding, weight standardisation with the unbiased standard deviation plus 1e-5, bicubic
resizes without antialiasing, every native-resolution patch kept, the two resized scales
padded to ``ceil(side / 32) ** 2`` tokens. ``tests/parity/test_musiq_arch.py`` compares
this module with pyiqa's on the same seeded weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MUSIQ", "build_musiq", "multiscale_patches"]

PATCH = 32
HASH_GRID = 10
LONGER_SIDES = (224, 384)


def _same_pad(x: Tensor, kernel: int, stride: int) -> Tensor:
    """Zero-pad ``(B, C, H, W)`` like TensorFlow's ``padding="SAME"`` (odd pixel bottom/right)."""
    h, w = x.shape[-2:]
    pad_h = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
    pad_w = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
    return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


class WSConv2d(nn.Conv2d):
    """Convolution with standardised weights (zero mean, unit std per filter), SAME padding."""

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight
        w = (w - w.mean(dim=(1, 2, 3), keepdim=True)) / (w.std(dim=(1, 2, 3), keepdim=True) + 1e-5)
        x = _same_pad(x, self.kernel_size[0], self.stride[0])
        return F.conv2d(x, w, self.bias, self.stride)


class Bottleneck(nn.Module):
    """ResNet-v2-style bottleneck (1x1, 3x3, 1x1 weight-standardised convs, group norms)."""

    def __init__(self, channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = WSConv2d(channels, channels, 1, bias=False)
        self.gn1 = nn.GroupNorm(32, channels, eps=1e-4)
        self.conv2 = WSConv2d(channels, channels, 3, bias=False)
        self.gn2 = nn.GroupNorm(32, channels, eps=1e-4)
        self.conv3 = WSConv2d(channels, out_channels, 1, bias=False)
        self.gn3 = nn.GroupNorm(32, out_channels, eps=1e-4)
        self.conv_proj = WSConv2d(channels, out_channels, 1, bias=False)
        self.gn_proj = nn.GroupNorm(32, out_channels, eps=1e-4)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = self.gn_proj(self.conv_proj(x))
        y = F.relu(self.gn1(self.conv1(x)))
        y = F.relu(self.gn2(self.conv2(y)))
        return F.relu(self.gn3(self.conv3(y)) + shortcut)


class EncoderBlock(nn.Module):
    """Pre-norm transformer block; padded tokens are never attended to."""

    def __init__(self, dim: int, mlp_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attention = nn.ModuleDict({k: nn.Linear(dim, dim) for k in ("query", "key", "value")})
        self.attention["out"] = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.ModuleDict({"fc1": nn.Linear(dim, mlp_dim), "fc2": nn.Linear(mlp_dim, dim)})

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        """``x (B, N, D)``; ``key_mask (B, N)`` bool, True for real tokens."""
        b, n, d = x.shape
        y = self.norm1(x)
        q, k, v = (
            self.attention[name](y).reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
            for name in ("query", "key", "value")
        )
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask[:, None, None, :])
        x = x + self.attention["out"](y.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp["fc2"](F.gelu(self.mlp["fc1"](self.norm2(x))))


class Encoder(nn.Module):
    """Class token, hashed spatial and scale embeddings, ``layers`` blocks, final norm."""

    def __init__(self, dim: int, mlp_dim: int, heads: int, layers: int, scales: int) -> None:
        super().__init__()
        # Random init in pyiqa's order of draws, so --random-weights runs score as before.
        position = nn.Parameter(torch.randn(1, HASH_GRID * HASH_GRID, dim))
        nn.init.normal_(position, std=0.02)
        scale = nn.Parameter(torch.randn(scales, dim))
        nn.init.normal_(scale, std=0.02)
        self.posembed_input = nn.ParameterDict({"position_emb": position})
        self.scaleembed_input = nn.ParameterDict({"scale_emb": scale})
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.encoder_norm = nn.LayerNorm(dim, eps=1e-6)
        self.transformer = nn.ModuleDict(
            {f"encoderblock_{i}": EncoderBlock(dim, mlp_dim, heads) for i in range(layers)}
        )

    def forward(self, tokens: Tensor, spatial: Tensor, scale: Tensor, mask: Tensor) -> Tensor:
        x = tokens + self.posembed_input["position_emb"][0][spatial]
        x = x + self.scaleembed_input["scale_emb"][scale]
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        for block in self.transformer.values():
            x = block(x, mask)
        return self.encoder_norm(x)


def _hashed_positions(rows: int, cols: int, device: torch.device) -> Tensor:
    """Index into the ``HASH_GRID``² spatial embedding of each patch of a ``rows x cols`` grid.

    Made on ``device``: nearest-neighbour indices are ``floor(i · in/out)`` in float32 on
    every device, so no host-built index has to be copied there per batch.
    """
    grid = torch.arange(HASH_GRID, dtype=torch.float32, device=device)[None, None]
    r = F.interpolate(grid, size=rows, mode="nearest")[0, 0].long()
    c = F.interpolate(grid, size=cols, mode="nearest")[0, 0].long()
    return (r[:, None] * HASH_GRID + c[None, :]).reshape(-1)


def _patches(x: Tensor, scale_id: int, max_len: int | None) -> tuple[Tensor, ...]:
    """Non-overlapping ``PATCH``² patches of ``x (B, 3, H, W)`` with positions, scale and mask.

    Patches are padded with zeros (mask 0) or cut to ``max_len`` when it is given.
    """
    b, _, h, w = x.shape
    patches = F.unfold(_same_pad(x, PATCH, PATCH), PATCH, stride=PATCH).transpose(1, 2)
    spatial = _hashed_positions(math.ceil(h / PATCH), math.ceil(w / PATCH), x.device)
    spatial = spatial.expand(b, -1)
    mask = torch.ones(spatial.shape, dtype=torch.bool, device=x.device)
    if max_len is not None:
        n = patches.shape[1]
        if n < max_len:
            patches = F.pad(patches, (0, 0, 0, max_len - n))
            spatial = F.pad(spatial, (0, max_len - n))
            mask = F.pad(mask, (0, max_len - n))
        patches, spatial, mask = patches[:, :max_len], spatial[:, :max_len], mask[:, :max_len]
    scale = torch.full_like(spatial, scale_id)
    return patches, spatial, scale, mask


def multiscale_patches(
    x: Tensor, longer_sides: Sequence[int] = LONGER_SIDES
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """MUSIQ's multi-scale input of ``x (B, 3, H, W)``.

    Each ``longer_sides`` scale is a bicubic resize (aspect kept, ``round`` to whole pixels,
    no antialiasing) padded to ``ceil(side / PATCH)²`` tokens; the native resolution follows
    with all its patches.

    Returns:
        ``patches (B, N, 3·PATCH²)``, ``spatial (B, N)`` and ``scale (B, N)`` embedding
        indices, ``mask (B, N)`` True for real patches.
    """
    h, w = x.shape[-2:]
    parts = []
    for scale_id, side in enumerate(sorted(longer_sides)):
        ratio = side / max(h, w)
        size = (round(h * ratio), round(w * ratio))
        resized = F.interpolate(x, size, mode="bicubic", align_corners=False)
        parts.append(_patches(resized, scale_id, math.ceil(side / PATCH) ** 2))
    parts.append(_patches(x, len(longer_sides), None))
    patches, spatial, scale, mask = (torch.cat(p, dim=1) for p in zip(*parts, strict=True))
    return patches, spatial, scale, mask


class MUSIQ(nn.Module):
    """MUSIQ with a single-score head: ``(B, 3, H, W)`` in 0..1 -> ``(B, 1)`` MOS."""

    def __init__(
        self,
        hidden: int = 384,
        mlp_dim: int = 1152,
        heads: int = 6,
        layers: int = 14,
        longer_sides: Sequence[int] = LONGER_SIDES,
    ) -> None:
        super().__init__()
        stem = 64
        self.longer_sides = tuple(longer_sides)
        self.conv_root = WSConv2d(3, stem, 7, stride=2, bias=False)
        self.gn_root = nn.GroupNorm(32, stem, eps=1e-6)
        self.block1 = Bottleneck(stem, 4 * stem)
        self.embedding = nn.Linear(4 * stem * (PATCH // 4) ** 2, hidden)
        self.transformer_encoder = Encoder(hidden, mlp_dim, heads, layers, len(longer_sides) + 1)
        self.head = nn.Linear(hidden, 1)

    def tokens(self, patches: Tensor) -> Tensor:
        """ResNet stem of each ``3·PATCH²`` patch -> one token of ``hidden`` features."""
        b, n, _ = patches.shape
        x = patches.reshape(b * n, 3, PATCH, PATCH)
        x = F.relu(self.gn_root(self.conv_root(x)))
        x = F.max_pool2d(_same_pad(x, 3, 2), 3, 2)
        x = self.block1(x)
        return self.embedding(x.permute(0, 2, 3, 1).reshape(b, n, -1))  # channels last, as in TF

    def forward(self, x: Tensor) -> Tensor:
        patches, spatial, scale, mask = multiscale_patches(x * 2 - 1, self.longer_sides)
        encoded = self.transformer_encoder(self.tokens(patches), spatial, scale, mask)
        return self.head(encoded[:, 0])


def build_musiq() -> MUSIQ:
    """MUSIQ as VBench uses it (SPAQ head: one score), random init, nothing downloaded."""
    return MUSIQ()
