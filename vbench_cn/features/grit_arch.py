"""GRiT-B, the dense captioner VBench's object, colour and spatial dimensions run, in plain PyTorch.

GRiT (Wu et al., "GRiT: A Generative Region-to-text Transformer for Object Understanding",
2022) as VBench 0.1.5 configures it (``vbench/third_party/grit_src/configs/
GRiT_B_DenseCap_ObjectDet.yaml`` over ``Base.yaml``; ``docs/grit.md`` lists every constant
with its VBench file):

* a ViT-B/16 backbone (12 blocks, windowed attention of 14x14 tokens in every block but
  2, 5, 8 and 11, decomposed relative positions, absolute positions interpolated from the
  224-pixel pre-training grid) and GRiT's simple feature pyramid (strides 8 to 128, 256
  channels, LayerNorm over channels);
* a CenterNet proposal head (class-agnostic heat map and box regression, sqrt of the
  heat map as objectness);
* three cascaded box heads (two fully connected layers each, class-agnostic regression
  with weights 10/20/30) whose foreground probabilities are averaged and multiplied with
  the objectness (geometric mean);
* one BERT-style text decoder (6 post-norm layers over the 14x14 RoI features and the
  text so far), run twice per box: from token 101 it names the object (ObjectDet task),
  from token 104 it describes it (DenseCap task). Greedy decoding as VBench's beam size 1:
  at most 39 tokens, the previous token is never repeated, [SEP] ends.

Module and parameter names follow the released checkpoint, so its state dict loads
strictly; the mask head is present for that reason only (VBench computes masks and never
reads them; this module never runs it). Everything runs batched on the input's device: one
backbone and box-head pass for all frames of a batch, one decoding loop for all their boxes
and both tasks. Per-image work is limited to proposal selection and the two NMS passes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms, roi_align

from vbench_cn.features.layers import Mlp

#: ImageNet mean and std on the 0-255 scale, RGB (``Base.yaml`` MODEL.PIXEL_MEAN / PIXEL_STD).
PIXEL_MEAN = (123.675, 116.280, 103.530)
PIXEL_STD = (58.395, 57.12, 57.375)
#: [SEP]: ends a description (``grit_roi_heads.py``: ``end_token_id=tokenizer.sep_token_id``).
END_TOKEN = 102
#: First token of each task (``grit_roi_heads.py``: the first training task, ObjectDet, starts
#: from [CLS] = 101; the i-th other task from 103 + i, so DenseCap from 104).
OBJECTDET_BEGIN = 101
DENSECAP_BEGIN = 104


@dataclass(frozen=True)
class GritConfig:
    """Sizes and inference constants of GRiT-B as VBench runs it (defaults = the real model)."""

    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    patch_size: int = 16
    window_size: int = 14
    global_blocks: tuple[int, ...] = (2, 5, 8, 11)
    pretrain_grid: int = 14  # 224 / 16: the absolute position table
    rel_pos_grid: int = 64  # 1024 / 16: relative position tables of the global blocks
    fpn_channels: int = 256
    box_fc_dim: int = 1024
    text_hidden: int = 768
    text_layers: int = 6
    text_heads: int = 12
    text_ffn: int = 3072
    vocab_size: int = 30522
    max_positions: int = 1024
    # inference constants (docs/grit.md)
    size_divisibility: int = 32
    proposal_threshold: float = 1e-4
    pre_nms_topk: int = 1000
    proposal_nms: float = 0.9
    post_nms_topk: int = 256
    score_threshold: float = 0.5
    box_nms: float = 0.5
    max_detections: int = 256
    max_steps: int = 40  # tokens including the task's begin token


STRIDES = (8, 16, 32, 64, 128)
BOX_POOL = 7
OBJECT_POOL = 14
CASCADE_WEIGHTS = ((10.0, 10.0, 5.0, 5.0), (20.0, 20.0, 10.0, 10.0), (30.0, 30.0, 15.0, 15.0))
SCALE_CLAMP = math.log(1000.0 / 16)


# --------------------------------------------------------------------------- backbone


def _window_partition(x: torch.Tensor, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """``(B, H, W, C)`` -> ``(B * windows, size, size, C)``, zero-padded at the bottom/right."""
    b, h, w, c = x.shape
    ph, pw = (size - h % size) % size, (size - w % size) % size
    if ph or pw:
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
    hp, wp = h + ph, w + pw
    x = x.view(b, hp // size, size, wp // size, size, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, size, size, c), (hp, wp)


def _window_unpartition(
    windows: torch.Tensor, size: int, padded: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    hp, wp = padded
    b = windows.shape[0] // (hp * wp // size // size)
    x = windows.view(b, hp // size, wp // size, size, size, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, hp, wp, -1)[:, : hw[0], : hw[1]]


def _relative_table(size: int, table: torch.Tensor) -> torch.Tensor:
    """Relative position embeddings ``(size, size, C)`` for a side of ``size`` tokens.

    The table (``2 * trained - 1`` rows) is resized linearly to ``2 * size - 1`` rows when
    the side differs from the trained one, as ViTDet does.
    """
    rows = 2 * size - 1
    if table.shape[0] != rows:
        table = F.interpolate(
            table.reshape(1, table.shape[0], -1).permute(0, 2, 1), size=rows, mode="linear"
        )
        table = table.reshape(-1, rows).permute(1, 0)
    coords = torch.arange(size, device=table.device)
    return table[(coords[:, None] - coords[None, :] + (size - 1)).long()]


class Attention(nn.Module):
    """Multi-head self-attention over a token grid with decomposed relative positions."""

    def __init__(self, dim: int, heads: int, rel_grid: int) -> None:
        super().__init__()
        self.heads = heads
        head_dim = dim // heads
        self.scale = head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos_h = nn.Parameter(torch.zeros(2 * rel_grid - 1, head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(2 * rel_grid - 1, head_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, b * self.heads, h * w, -1).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        r_q = q.reshape(b * self.heads, h, w, -1)
        rel_h = torch.einsum("bhwc,hkc->bhwk", r_q, _relative_table(h, self.rel_pos_h))
        rel_w = torch.einsum("bhwc,wkc->bhwk", r_q, _relative_table(w, self.rel_pos_w))
        attn = (attn.view(-1, h, w, h, w) + rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).view(
            -1, h * w, h * w
        )
        out = (attn.softmax(dim=-1) @ v).view(b, self.heads, h, w, -1)
        return self.proj(out.permute(0, 2, 3, 1, 4).reshape(b, h, w, -1))


class Block(nn.Module):
    """Pre-norm transformer block; ``window > 0`` restricts attention to windows of that side."""

    def __init__(self, dim: int, heads: int, window: int, rel_grid: int) -> None:
        super().__init__()
        self.window = window
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, window if window > 0 else rel_grid)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.window > 0:
            h, w = x.shape[1:3]
            x, padded = _window_partition(x, self.window)
            x = _window_unpartition(self.attn(x), self.window, padded, (h, w))
        else:
            x = self.attn(x)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection, output ``(B, H/16, W/16, C)``."""

    def __init__(self, patch: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class ViT(nn.Module):
    """The ViT-B/16 trunk: ``(B, 3, H, W)`` normalised pixels -> ``(B, C, H/16, W/16)``."""

    def __init__(self, cfg: GritConfig) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(cfg.patch_size, cfg.embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.pretrain_grid**2 + 1, cfg.embed_dim))
        self.blocks = nn.ModuleList(
            Block(
                cfg.embed_dim,
                cfg.num_heads,
                0 if i in cfg.global_blocks else cfg.window_size,
                cfg.rel_pos_grid,
            )
            for i in range(cfg.depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        h, w = x.shape[1:3]
        grid = int(math.sqrt(self.pos_embed.shape[1] - 1))
        pos = self.pos_embed[:, 1:]  # the pre-training class token has no place on the grid
        if (grid, grid) != (h, w):
            pos = F.interpolate(
                pos.reshape(1, grid, grid, -1).permute(0, 3, 1, 2),
                size=(h, w),
                mode="bicubic",
                align_corners=False,
            ).permute(0, 2, 3, 1)
        else:
            pos = pos.reshape(1, h, w, -1)
        x = x + pos
        for block in self.blocks:
            x = block(x)
        return x.permute(0, 3, 1, 2)


class _ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channels of a ``(B, C, H, W)`` map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class LastLevels(nn.Module):
    """P6 and P7 from P5 (stride-2 3x3 convolutions, ReLU between)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.p6 = nn.Conv2d(channels, channels, 3, 2, 1)
        self.p7 = nn.Conv2d(channels, channels, 3, 2, 1)

    def forward(self, p5: torch.Tensor) -> list[torch.Tensor]:
        p6 = self.p6(p5)
        return [p6, self.p7(F.relu(p6))]


class FeaturePyramid(nn.Module):
    """GRiT's simple pyramid on the stride-16 ViT map: P3 (up), P4, P5 (max-pooled), P6, P7."""

    def __init__(self, cfg: GritConfig) -> None:
        super().__init__()
        d, c = cfg.embed_dim, cfg.fpn_channels
        self.bottom_up = ViT(cfg)
        self.top_block = LastLevels(c)
        self.maxpool = nn.MaxPool2d(2, stride=2)
        self.fpn_stride_16_8 = nn.ConvTranspose2d(d, d, 2, stride=2, bias=False)
        for stride in (8, 16, 32):
            setattr(self, f"fpn_stride{stride}_conv1", nn.Conv2d(d, c, 1, bias=False))
            setattr(self, f"fpn_stride{stride}_norm1", _ChannelNorm(c))
            setattr(self, f"fpn_stride{stride}_conv2", nn.Conv2d(c, c, 3, padding=1, bias=False))
            setattr(self, f"fpn_stride{stride}_norm2", _ChannelNorm(c))

    def _lateral(self, stride: int, x: torch.Tensor) -> torch.Tensor:
        x = getattr(self, f"fpn_stride{stride}_norm1")(
            getattr(self, f"fpn_stride{stride}_conv1")(x)
        )
        return getattr(self, f"fpn_stride{stride}_norm2")(
            getattr(self, f"fpn_stride{stride}_conv2")(x)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        vit = self.bottom_up(x)
        p3 = self._lateral(8, self.fpn_stride_16_8(vit))
        p5 = self._lateral(32, self.maxpool(vit))
        p4 = self._lateral(16, vit)
        return [p3, p4, p5, *self.top_block(p5)]


# --------------------------------------------------------------------------- proposals


class _Scale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class CenterNetHead(nn.Module):
    """Class-agnostic CenterNet head: per level a heat-map logit and four box distances."""

    def __init__(self, channels: int, levels: int = 5) -> None:
        super().__init__()
        tower: list[nn.Module] = []
        for _ in range(4):
            tower += [nn.Conv2d(channels, channels, 3, padding=1), nn.GroupNorm(32, channels)]
            tower.append(nn.ReLU())
        self.bbox_tower = nn.Sequential(*tower)
        self.bbox_pred = nn.Conv2d(channels, 4, 3, padding=1)
        self.agn_hm = nn.Conv2d(channels, 1, 3, padding=1)
        self.scales = nn.ModuleList(_Scale() for _ in range(levels))

    def forward(self, features: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per level ``(heat-map logits (B, 1, h, w), distances (B, 4, h, w))``."""
        out = []
        for level, feature in enumerate(features):
            tower = self.bbox_tower(feature)
            out.append((self.agn_hm(tower), F.relu(self.scales[level](self.bbox_pred(tower)))))
        return out


class ProposalGenerator(nn.Module):
    """Holds the CenterNet head under the checkpoint's ``proposal_generator`` name."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.centernet_head = CenterNetHead(channels)


def _nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Single-class NMS as detectron2 calls it (torchvision's ``batched_nms`` with one class).

    The same call keeps the same order among equal scores, which decides VBench's top box.
    """
    return batched_nms(boxes.float(), scores, torch.zeros_like(scores, dtype=torch.long), threshold)


def _level_grid(h: int, w: int, stride: int, device: torch.device) -> torch.Tensor:
    """Centres ``(h * w, 2)`` (x, y) of a level's cells, as CenterNet's ``compute_grids``."""
    xs = torch.arange(0, w * stride, step=stride, dtype=torch.float32, device=device)
    ys = torch.arange(0, h * stride, step=stride, dtype=torch.float32, device=device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx.reshape(-1), gy.reshape(-1)), dim=1) + stride // 2


def select_proposals(
    levels: list[tuple[torch.Tensor, torch.Tensor]], cfg: GritConfig
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """CenterNet's test-time proposals per image: ``(boxes (n, 4), objectness (n,))``.

    Per level the cells whose heat map exceeds ``proposal_threshold`` (at most
    ``pre_nms_topk``, taken with an unsorted top-k as CenterNet does), boxes from the
    stride-scaled distances, objectness sqrt(heat map); over all levels NMS at
    ``proposal_nms`` and the ``post_nms_topk`` best scores (ties at the cut kept).
    """
    batch = levels[0][0].shape[0]
    per_level = []
    for (logits, dist), stride in zip(levels, STRIDES, strict=True):
        _, _, h, w = logits.shape
        heat = logits.sigmoid().permute(0, 2, 3, 1).reshape(batch, -1)
        reg = (dist * stride).permute(0, 2, 3, 1).reshape(batch, -1, 4)
        per_level.append((heat, reg, _level_grid(h, w, stride, logits.device)))
    out = []
    for i in range(batch):
        boxes, scores = [], []
        for heat, reg, grid in per_level:
            candidates = heat[i] > cfg.proposal_threshold
            score = heat[i][candidates]
            where = candidates.nonzero()[:, 0]
            r, g = reg[i][where], grid[where]
            if score.numel() > cfg.pre_nms_topk:
                score, top = score.topk(cfg.pre_nms_topk, sorted=False)
                r, g = r[top], g[top]
            det = torch.stack(
                (g[:, 0] - r[:, 0], g[:, 1] - r[:, 1], g[:, 0] + r[:, 2], g[:, 1] + r[:, 3]), dim=1
            )
            det[:, 2] = torch.max(det[:, 2], det[:, 0] + 0.01)
            det[:, 3] = torch.max(det[:, 3], det[:, 1] + 0.01)
            boxes.append(det)
            scores.append(score.sqrt())
        box, score = torch.cat(boxes), torch.cat(scores)
        keep = _nms(box, score, cfg.proposal_nms)
        box, score = box[keep], score[keep]
        if score.numel() > cfg.post_nms_topk:
            cut = torch.kthvalue(score.float(), score.numel() - cfg.post_nms_topk + 1).values
            keep = (score >= cut).nonzero()[:, 0]
            box, score = box[keep], score[keep]
        out.append((box, score))
    return out


# --------------------------------------------------------------------------- box heads


def pool_regions(
    features: list[torch.Tensor], boxes: list[torch.Tensor], size: int
) -> torch.Tensor:
    """RoIAlign (aligned, adaptive sampling) of every image's boxes from P3-P5, FPN level rule.

    A box of side ``s = sqrt(area)`` reads level ``floor(4 + log2(s / 224))`` clamped to 3-5
    (detectron2's ``ROIPooler`` with canonical size 224 at level 4).
    """
    all_boxes = torch.cat(boxes)
    index = torch.cat(
        [
            torch.full((len(b), 1), i, dtype=all_boxes.dtype, device=all_boxes.device)
            for i, b in enumerate(boxes)
        ]
    )
    rois = torch.cat([index, all_boxes], dim=1)
    side = torch.sqrt((all_boxes[:, 2] - all_boxes[:, 0]) * (all_boxes[:, 3] - all_boxes[:, 1]))
    level = torch.clamp(torch.floor(4 + torch.log2(side / 224 + 1e-8)), min=3, max=5) - 3
    out = features[0].new_zeros((len(rois), features[0].shape[1], size, size))
    for lv, feature in enumerate(features[:3]):
        sel = (level == lv).nonzero()[:, 0]
        if sel.numel():
            out.index_put_(
                (sel,),
                roi_align(feature, rois[sel].to(feature.dtype), size, 1.0 / STRIDES[lv], 0, True),
            )
    return out


class BoxHead(nn.Module):
    """Two fully connected layers on a flattened 7x7 RoI (detectron2's ``FastRCNNConvFCHead``)."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels * BOX_POOL * BOX_POOL, dim)
        self.fc2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc2(F.relu(self.fc1(x.flatten(1)))))


class BoxPredictor(nn.Module):
    """Foreground/background logits and class-agnostic box deltas (an MLP)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.cls_score = nn.Linear(dim, 2)
        self.bbox_pred = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 4))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cls_score(x), self.bbox_pred(x)


def apply_deltas(
    deltas: torch.Tensor, boxes: torch.Tensor, weights: tuple[float, ...]
) -> torch.Tensor:
    """Faster R-CNN box decoding (detectron2's ``Box2BoxTransform.apply_deltas``)."""
    deltas, boxes = deltas.float(), boxes.float()
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    ctr_x, ctr_y = boxes[:, 0] + 0.5 * widths, boxes[:, 1] + 0.5 * heights
    wx, wy, ww, wh = weights
    dx, dy = deltas[:, 0::4] / wx, deltas[:, 1::4] / wy
    dw = torch.clamp(deltas[:, 2::4] / ww, max=SCALE_CLAMP)
    dh = torch.clamp(deltas[:, 3::4] / wh, max=SCALE_CLAMP)
    px, py = dx * widths[:, None] + ctr_x[:, None], dy * heights[:, None] + ctr_y[:, None]
    pw, ph = torch.exp(dw) * widths[:, None], torch.exp(dh) * heights[:, None]
    out = torch.stack((px - 0.5 * pw, py - 0.5 * ph, px + 0.5 * pw, py + 0.5 * ph), dim=-1)
    return out.reshape(deltas.shape)


def clip_boxes(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Boxes clamped to ``[0, width] x [0, height]``."""
    x0, y0 = boxes[:, 0].clamp(min=0, max=width), boxes[:, 1].clamp(min=0, max=height)
    x1, y1 = boxes[:, 2].clamp(min=0, max=width), boxes[:, 3].clamp(min=0, max=height)
    return torch.stack((x0, y0, x1, y1), dim=-1)


class MaskHead(nn.Module):
    """Mask R-CNN's mask head: in the checkpoint, never run (VBench discards its masks)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        for i in range(1, 5):
            setattr(self, f"mask_fcn{i}", nn.Conv2d(channels, channels, 3, padding=1))
        self.deconv = nn.ConvTranspose2d(channels, channels, 2, stride=2)
        self.predictor = nn.Conv2d(channels, 1, 1)


# --------------------------------------------------------------------------- text decoder


class _SelfAttention(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)


class _AttentionOutput(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.LayerNorm = nn.LayerNorm(dim, eps=1e-12)


class _Attention(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.self = _SelfAttention(dim)
        self.output = _AttentionOutput(dim)


class _Dense(nn.Module):
    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.dense = nn.Linear(dim_in, dim_out)


class _Output(nn.Module):
    def __init__(self, dim_in: int, dim: int) -> None:
        super().__init__()
        self.dense = nn.Linear(dim_in, dim)
        self.LayerNorm = nn.LayerNorm(dim, eps=1e-12)


class DecoderLayer(nn.Module):
    """A post-norm BERT layer; text attends to the region features and to earlier text.

    The region features never attend to text (GRiT's attention mask), so their states are
    computed once per box (:meth:`memory`); :meth:`step` then runs one new token of every
    sequence, attending to its box's region keys (shared by the box's sequences, one per
    task) and to the keys of its own earlier tokens, so decoding costs one token per step.
    """

    def __init__(self, dim: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.heads = heads
        self.attention = _Attention(dim)
        self.intermediate = _Dense(dim, ffn)
        self.output = _Output(ffn, dim)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., n, D)`` -> ``(..., heads, n, D / heads)``."""
        x = x.unflatten(-1, (self.heads, -1))
        return x.transpose(-3, -2)

    def _finish(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        context = context.transpose(-3, -2).flatten(-2)
        att = self.attention.output
        x = att.LayerNorm(att.dense(context) + x)
        hidden = F.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(self.output.dense(hidden) + x)

    def memory(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Region features ``(B, R, D)`` through this layer: ``(output, keys, values)``."""
        sa = self.attention.self
        q, k, v = self._split(sa.query(x)), self._split(sa.key(x)), self._split(sa.value(x))
        scores = torch.matmul(q / math.sqrt(q.shape[-1]), k.transpose(-1, -2))
        return self._finish(x, torch.matmul(scores.softmax(dim=-1), v)), k, v

    def step(
        self,
        x: torch.Tensor,
        region: tuple[torch.Tensor, torch.Tensor],
        past: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """One token per sequence.

        Args:
            x: ``(B, S, 1, D)`` the new token of each of the ``S`` sequences of ``B`` boxes.
            region: the boxes' region keys and values ``(B, 1, heads, R, d)``.
            past: keys and values ``(B, S, heads, t, d)`` of the earlier tokens, or None.

        Returns:
            ``(output (B, S, 1, D), (keys, values))`` with this token's appended.
        """
        sa = self.attention.self
        k, v = self._split(sa.key(x)), self._split(sa.value(x))
        if past is not None:
            k, v = torch.cat([past[0], k], dim=-2), torch.cat([past[1], v], dim=-2)
        q = self._split(sa.query(x)) / math.sqrt(k.shape[-1])
        scores = torch.cat(
            [torch.matmul(q, region[0].transpose(-1, -2)), torch.matmul(q, k.transpose(-1, -2))],
            dim=-1,
        ).softmax(dim=-1)
        n_region = region[0].shape[-2]
        context = torch.matmul(scores[..., :n_region], region[1]) + torch.matmul(
            scores[..., n_region:], v
        )
        return self._finish(x, context), (k, v)


class _Encoder(nn.Module):
    def __init__(self, cfg: GritConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(
            DecoderLayer(cfg.text_hidden, cfg.text_heads, cfg.text_ffn)
            for _ in range(cfg.text_layers)
        )


class _Transformer(nn.Module):
    def __init__(self, cfg: GritConfig) -> None:
        super().__init__()
        self.encoder = _Encoder(cfg)


class WordAndPositionEmbedding(nn.Module):
    """Token plus learned position embedding, LayerNorm (eps 1e-8)."""

    def __init__(self, vocab: int, dim: int, positions: int) -> None:
        super().__init__()
        self.words = nn.Embedding(vocab, dim)
        self.positions = nn.Embedding(positions, dim)
        self.layer_norm = nn.LayerNorm(dim, eps=1e-8)

    def forward(self, tokens: torch.Tensor, position: int) -> torch.Tensor:
        return self.layer_norm(self.words(tokens) + self.positions.weight[position])


class TextualHead(nn.Module):
    """Region-feature projection, embeddings, the 6 layers and the (tied) vocabulary projection."""

    def __init__(self, cfg: GritConfig) -> None:
        super().__init__()
        self.object_feature_projection = nn.Sequential(
            nn.Linear(cfg.fpn_channels, cfg.text_hidden), nn.LayerNorm(cfg.text_hidden)
        )
        self.embedding = WordAndPositionEmbedding(
            cfg.vocab_size, cfg.text_hidden, cfg.max_positions
        )
        self.transformer = _Transformer(cfg)
        self.output = nn.Linear(cfg.text_hidden, cfg.vocab_size)
        self.output.weight = self.embedding.words.weight


class TextDecoder(nn.Module):
    """Holds the textual head under the checkpoint's ``text_decoder.textual`` name."""

    def __init__(self, cfg: GritConfig) -> None:
        super().__init__()
        self.textual = TextualHead(cfg)


@torch.no_grad()
def greedy_decode(
    head: TextualHead,
    regions: torch.Tensor,
    begins: tuple[int, ...],
    max_steps: int,
    chunk: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """VBench's beam-size-1 search, for every box and every task at once.

    At each step the most likely token is taken (log-softmax, top-1), the previous token
    may not come again (its logit set to -10000), and a sequence that produced [SEP] keeps
    producing it; decoding stops when every sequence has ended or after ``max_steps - 1``
    tokens. Sequences are independent, so batching boxes of many images changes nothing.

    Args:
        head: the textual head.
        regions: ``(N, R, C)`` RoI features of ``N`` boxes.
        begins: the begin token of each task (a sequence per box and task).
        max_steps: tokens per sequence including the begin token.
        chunk: boxes decoded together (bounds the key/value cache: ~7 MB a box).

    Returns:
        ``(tokens (N, tasks, max_steps - 1), logprob (N, tasks))``: the generated tokens
        ([SEP] after the end) and the length-normalised log-probability GRiT scores with.
    """
    outs = [
        _decode_chunk(head, regions[i : i + chunk], begins, max_steps)
        for i in range(0, regions.shape[0], chunk)
    ]
    return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])


def _decode_chunk(
    head: TextualHead, regions: torch.Tensor, begins: tuple[int, ...], max_steps: int
) -> tuple[torch.Tensor, torch.Tensor]:
    n, tasks, device = regions.shape[0], len(begins), regions.device
    layers = head.transformer.encoder.layer
    x = head.object_feature_projection(regions)
    region_kv = []
    for layer in layers:
        x, k, v = layer.memory(x)
        region_kv.append((k[:, None], v[:, None]))
    past: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(layers)
    token = torch.tensor(begins, device=device).expand(n, tasks)
    tokens = torch.full((n, tasks, max_steps - 1), END_TOKEN, dtype=torch.long, device=device)
    logprob = torch.zeros((n, tasks), device=device)
    ended = torch.zeros((n, tasks), dtype=torch.bool, device=device)
    for step in range(max_steps - 1):
        h = head.embedding(token[..., None], step)
        for i, layer in enumerate(layers):
            h, past[i] = layer.step(h, region_kv[i], past[i])
        logits = head.output(h[:, :, 0]).float()
        if step > 0:  # the previous token may not come again; ended sequences repeat [SEP]
            logits = logits.scatter(-1, token[..., None], -10000)
            forced = torch.full_like(logits[:1, :1], float("-inf"))
            forced[..., END_TOKEN] = 0
            logits = torch.where(ended[..., None], forced, logits)
        top, token = F.log_softmax(logits, dim=-1).topk(1)
        token = token[..., 0]
        logprob = top[..., 0] + logprob
        tokens[:, :, step] = token
        ended = ended | (token == END_TOKEN)
        if bool(ended.all()):
            break
    # GRiT's length: generated tokens before [SEP], plus one for the [SEP] itself
    valid = (tokens != END_TOKEN).sum(-1) + ended.long()
    return tokens, logprob / valid.clamp(min=1)


# --------------------------------------------------------------------------- the model


class RoIHeads(nn.Module):
    """The cascade, the (unused) mask head and the text decoder, named as in the checkpoint."""

    def __init__(self, cfg: GritConfig) -> None:
        super().__init__()
        c = cfg.fpn_channels
        self.box_head = nn.ModuleList(BoxHead(c, cfg.box_fc_dim) for _ in CASCADE_WEIGHTS)
        self.box_predictor = nn.ModuleList(BoxPredictor(cfg.box_fc_dim) for _ in CASCADE_WEIGHTS)
        self.mask_head = MaskHead(c)
        self.text_decoder = TextDecoder(cfg)


@dataclass(frozen=True)
class GritOutput:
    """Detections of a batch of images, concatenated; ``image`` says whose each row is.

    Rows are in GRiT's order within an image (NMS order, best box first).
    """

    image: torch.Tensor  # (N,) int64 image index
    boxes: torch.Tensor  # (N, 4) x0, y0, x1, y1 in input pixels
    scores: torch.Tensor  # (N,) cascade box score (thresholded at 0.5)
    objectdet_tokens: torch.Tensor  # (N, 39) object name tokens
    objectdet_logprob: torch.Tensor  # (N,)
    densecap_tokens: torch.Tensor  # (N, 39) description tokens
    densecap_logprob: torch.Tensor  # (N,)


class GRiT(nn.Module):
    """GRiT-B: ``(B, 3, H, W)`` RGB pixels in 0-255 -> boxes, object names and descriptions."""

    def __init__(self, cfg: GritConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or GritConfig()
        #: boxes whose captions are decoded together (memory ~7 MB a box in float32)
        self.decode_chunk = 64
        self.backbone = FeaturePyramid(self.cfg)
        self.proposal_generator = ProposalGenerator(self.cfg.fpn_channels)
        self.roi_heads = RoIHeads(self.cfg)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Normalise with ImageNet mean/std (0-255 scale) and zero-pad to a multiple of 32."""
        x = images.float()
        mean = torch.tensor(PIXEL_MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(PIXEL_STD, device=x.device).view(1, 3, 1, 1)
        x = (x - mean) / std
        d = self.cfg.size_divisibility
        h, w = x.shape[-2:]
        return F.pad(x, (0, (d - w % d) % d, 0, (d - h % d) % d))

    def detect(
        self, images: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """Backbone, proposals and cascade: per image its boxes and scores, and the P3-P7 maps."""
        cfg = self.cfg
        height, width = images.shape[-2:]
        features = self.backbone(self.preprocess(images))
        proposals = select_proposals(self.proposal_generator.centernet_head(features), cfg)
        boxes = [p[0] for p in proposals]
        objectness = torch.cat([p[1] for p in proposals])
        counts = [len(b) for b in boxes]
        heads = self.roi_heads
        probs = []
        for k, weights in enumerate(CASCADE_WEIGHTS):
            if k > 0:
                boxes = [clip_boxes(b, height, width) for b in boxes]
            pooled = pool_regions(features, boxes, BOX_POOL)
            logits, deltas = heads.box_predictor[k](heads.box_head[k](pooled))
            probs.append(F.softmax(logits, dim=-1))
            boxes = list(apply_deltas(deltas, torch.cat(boxes), weights).split(counts))
        score = (probs[0] + probs[1] + probs[2]) * (1.0 / len(CASCADE_WEIGHTS))
        score = (score * objectness[:, None]) ** 0.5
        out_boxes, out_scores = [], []
        for box, s in zip(boxes, score.split(counts), strict=True):
            finite = torch.isfinite(box).all(dim=1) & torch.isfinite(s).all(dim=1)
            box, s = clip_boxes(box[finite], height, width), s[finite, 0]
            keep = (s > cfg.score_threshold).nonzero()[:, 0]
            box, s = box[keep], s[keep]
            keep = _nms(box, s, cfg.box_nms)[: cfg.max_detections]
            box, s = box[keep], s[keep]
            nonempty = ((box[:, 2] - box[:, 0]) > 0) & ((box[:, 3] - box[:, 1]) > 0)
            out_boxes.append(box[nonempty])
            out_scores.append(s[nonempty])
        return out_boxes, out_scores, features

    def forward(self, images: torch.Tensor) -> GritOutput:
        boxes, scores, features = self.detect(images)
        device = images.device
        image = torch.cat(
            [torch.full((len(b),), i, dtype=torch.long, device=device) for i, b in enumerate(boxes)]
        )
        n = len(image)
        steps = self.cfg.max_steps
        if n == 0:
            empty_tokens = torch.zeros((0, steps - 1), dtype=torch.long, device=device)
            empty = torch.zeros(0, device=device)
            return GritOutput(
                image,
                torch.zeros((0, 4), device=device),
                empty,
                empty_tokens,
                empty,
                empty_tokens,
                empty,
            )
        regions = pool_regions(features, boxes, OBJECT_POOL).flatten(2).permute(0, 2, 1)
        tokens, logprob = greedy_decode(
            self.roi_heads.text_decoder.textual,
            regions,
            (OBJECTDET_BEGIN, DENSECAP_BEGIN),
            steps,
            self.decode_chunk,
        )
        return GritOutput(
            image=image,
            boxes=torch.cat(boxes),
            scores=torch.cat(scores),
            objectdet_tokens=tokens[:, 0],
            objectdet_logprob=logprob[:, 0],
            densecap_tokens=tokens[:, 1],
            densecap_logprob=logprob[:, 1],
        )
