"""AMT-S, the frame interpolator behind VBench's motion smoothness, written from the paper.

AMT: All-Pairs Multi-Field Transforms for Efficient Frame Interpolation (Li, Zhu, Cheng,
Hou, Guo, CVPR 2023). AMT-S is the small variant: a RAFT-style correlation encoder builds
one bidirectional all-pairs correlation volume at 1/8 resolution; an IFRNet-style feature
pyramid (channels 20/32/44/56) is decoded coarse to fine (1/16 → 1/2) into bilateral flows
``t→0`` and ``t→1`` plus an intermediate feature; at 1/8, 1/4 and 1/2 the flows are refined
by looking up the correlation volume (scaled linearly from ``t`` to the full interval); the
last decoder emits ``num_flows`` flow pairs, blending masks and residuals, and the frame is
the mean of the ``num_flows`` warped blends plus a small convolutional correction.

Parameter names follow the official ``amt-s.pth`` checkpoint (``ckpt["state_dict"]``;
``corr_radius=3, corr_lvls=4, num_flows=3``) so that it loads with ``strict=True``. The
numerical recipe (order of reductions, grid normalisation, interpolation modes) follows the
reference implementation vendored in ``vbench==0.1.5`` (``vbench/third_party/amt``), since
the motion-smoothness score truncates the prediction to ``uint8`` and so amplifies any
float difference. Only the full-resolution path (``scale_factor == 1``) exists: it is the
path VBench takes on CPU and on every ``torch.device`` (see ``docs/vbench-reference.md`` §4).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["AMTS", "build_amt_s"]


# --------------------------------------------------------------------------- helpers


def _rescale(x: Tensor, factor: float) -> Tensor:
    """Bilinear resize by ``factor`` (``align_corners=False``), as AMT resizes flows, features."""
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


def _conv_prelu(
    in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, padding: int = 1
) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel, stride, padding), nn.PReLU(out_ch))


def linspace_like_cpu(start: float, end: float, steps: int, device: torch.device) -> Tensor:
    """``torch.linspace(start, end, steps)`` of the CPU (float32), computed on ``device``.

    The CPU kernel takes the float32 ``step = (end - start) / (steps - 1)`` and gives
    ``start + step·i`` on the first half, ``end - step·(steps-1-i)`` on the second, rounded
    to float32. Evaluated here in float64 (where ``step·i`` is exact) and then rounded, so
    every device gets the CPU's values; tests check this against ``torch.linspace`` for
    every size up to 4096. VBench's AMT builds its grids on the CPU and copies them to the
    GPU, and a device's own ``linspace`` kernel need not round the same way.

    Args:
        start: first value, exact in float32.
        end: last value, exact in float32.
        steps: number of values, ``>= 1``.
        device: where the result is made.
    """
    if steps == 1:
        return torch.full((1,), start, dtype=torch.float32, device=device)
    step = float(torch.tensor(end - start, dtype=torch.float32) / (steps - 1))  # float32 division
    index = torch.arange(steps, dtype=torch.float64, device=device)
    low = start + step * index
    high = end - step * ((steps - 1) - index)
    return torch.where(index < steps // 2, low, high).to(torch.float32)


@functools.lru_cache(maxsize=16)
def sampling_grid(height: int, width: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """``(1, 2, H, W)`` normalised pixel positions (x then y, -1 to 1 corner to corner), cached.

    Made once per size and device, on that device: a warp then costs no host work and no
    host-to-device copy (VBench's AMT builds the grid on the CPU and copies it at every warp,
    six times per interpolation). Made outside inference mode so that the cached tensor can
    serve any later call.
    """
    with torch.inference_mode(False):
        xs = linspace_like_cpu(-1.0, 1.0, width, device).view(1, 1, 1, width)
        ys = linspace_like_cpu(-1.0, 1.0, height, device).view(1, 1, height, 1)
        grid = torch.cat([xs.expand(1, 1, height, width), ys.expand(1, 1, height, width)], 1)
        return grid.to(dtype)


def backward_warp(image: Tensor, flow: Tensor) -> Tensor:
    """Sample ``image`` at ``pixel + flow`` (bilinear, border padding, corners aligned).

    Args:
        image: ``(B, C, H, W)``.
        flow: ``(B, 2, H, W)`` displacement in pixels, x then y.
    """
    b, _, h, w = flow.shape
    base = sampling_grid(h, w, image.device, image.dtype).expand(b, -1, -1, -1)
    offset = torch.cat([flow[:, 0:1] / ((w - 1.0) / 2.0), flow[:, 1:2] / ((h - 1.0) / 2.0)], 1)
    grid = (base + offset).permute(0, 2, 3, 1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def pixel_grid(batch: int, height: int, width: int, device: torch.device) -> Tensor:
    """``(B, 2, H, W)`` float pixel coordinates, x in channel 0 and y in channel 1."""
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij"
    )
    return torch.stack([xs, ys], dim=0).float()[None].repeat(batch, 1, 1, 1)


# --------------------------------------------------------------------------- correlation encoder


class _Bottleneck(nn.Module):
    """1x1 → 3x3 (strided) → 1x1 residual block with instance norms (no affine parameters)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        mid = out_ch // 4
        self.conv1 = nn.Conv2d(in_ch, mid, kernel_size=1, padding=0)
        self.conv2 = nn.Conv2d(mid, mid, kernel_size=3, padding=1, stride=stride)
        self.conv3 = nn.Conv2d(mid, out_ch, kernel_size=1, padding=0)
        self.norm1 = nn.InstanceNorm2d(mid)
        self.norm2 = nn.InstanceNorm2d(mid)
        self.norm3 = nn.InstanceNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(
                nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride), nn.InstanceNorm2d(out_ch)
            )
            if stride != 1
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        y = self.relu(self.norm3(self.conv3(y)))
        if self.downsample is not None:
            x = self.downsample(x)
        return self.relu(x + y)


class CorrelationEncoder(nn.Module):
    """RAFT's small feature encoder (instance norm): ``(N, 3, H, W)`` → ``(N, 84, H/8, W/8)``."""

    def __init__(self, out_ch: int = 84) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=7, stride=2, padding=3)
        self.norm1 = nn.InstanceNorm2d(32)
        self.relu1 = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(_Bottleneck(32, 32, 1), _Bottleneck(32, 32, 1))
        self.layer2 = nn.Sequential(_Bottleneck(32, 64, 2), _Bottleneck(64, 64, 1))
        self.layer3 = nn.Sequential(_Bottleneck(64, 96, 2), _Bottleneck(96, 96, 1))
        self.conv2 = nn.Conv2d(96, out_ch, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu1(self.norm1(self.conv1(x)))
        return self.conv2(self.layer3(self.layer2(self.layer1(x))))


class BidirectionalCorrelation:
    """All-pairs correlation of two 1/8 feature maps, in both directions, as a 4-level pyramid.

    ``lookup(c0, c1)`` returns, for every pixel, the ``(2r+1)^2`` correlations around ``c0``
    in the 0→1 volume and around ``c1`` in the 1→0 volume, for every level (coordinates
    halved per level). The window is enumerated with the x offset varying slowest, as RAFT
    does: pretrained weights depend on that order.
    """

    def __init__(self, fmap0: Tensor, fmap1: Tensor, *, levels: int, radius: int) -> None:
        self.levels = levels
        self.radius = radius
        b, c, h, w = fmap0.shape
        corr = torch.matmul(fmap0.view(b, c, h * w).transpose(1, 2), fmap1.view(b, c, h * w))
        corr = corr.view(b, h, w, 1, h, w) / torch.sqrt(torch.tensor(c).float())
        corr_t = corr.clone().permute(0, 4, 5, 3, 1, 2)
        fwd = corr.reshape(b * h * w, 1, h, w)
        bwd = corr_t.reshape(b * h * w, 1, h, w)
        self.pyramid = [fwd]
        self.pyramid_t = [bwd]
        for _ in range(levels - 1):
            fwd = F.avg_pool2d(fwd, 2, stride=2)
            bwd = F.avg_pool2d(bwd, 2, stride=2)
            self.pyramid.append(fwd)
            self.pyramid_t.append(bwd)

    @staticmethod
    def _sample(volume: Tensor, coords: Tensor) -> Tensor:
        h, w = volume.shape[-2:]
        x, y = coords.split([1, 1], dim=-1)
        grid = torch.cat([2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1], dim=-1)
        return F.grid_sample(volume, grid, align_corners=True)

    def lookup(self, coords0: Tensor, coords1: Tensor) -> tuple[Tensor, Tensor]:
        """Correlation features ``(B, levels·(2r+1)², H, W)`` at two coordinate grids.

        ``coords0`` and ``coords1`` are ``(B, 2, H, W)``.
        """
        r = self.radius
        c0 = coords0.permute(0, 2, 3, 1)
        c1 = coords1.permute(0, 2, 3, 1)
        b, h, w, _ = c0.shape
        steps = torch.linspace(-r, r, 2 * r + 1, device=c0.device)
        window = torch.stack(torch.meshgrid(steps, steps, indexing="ij"), dim=-1).view(
            1, 2 * r + 1, 2 * r + 1, 2
        )
        out0, out1 = [], []
        for level in range(self.levels):
            centre0 = c0.reshape(b * h * w, 1, 1, 2) / 2**level
            centre1 = c1.reshape(b * h * w, 1, 1, 2) / 2**level
            out0.append(self._sample(self.pyramid[level], centre0 + window).view(b, h, w, -1))
            out1.append(self._sample(self.pyramid_t[level], centre1 + window).view(b, h, w, -1))
        feat0 = torch.cat(out0, dim=-1).permute(0, 3, 1, 2).contiguous().float()
        feat1 = torch.cat(out1, dim=-1).permute(0, 3, 1, 2).contiguous().float()
        return feat0, feat1


# ------------------------------------------------------------------ context pyramid and decoders


class ContextPyramid(nn.Module):
    """Four stride-2 stages (conv+PReLU twice): features at 1/2, 1/4, 1/8 and 1/16."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.channels = channels
        prev = 3
        for i, ch in enumerate(channels, 1):
            self.add_module(
                f"pyramid{i}",
                nn.Sequential(_conv_prelu(prev, ch, 3, 2, 1), _conv_prelu(ch, ch, 3, 1, 1)),
            )
            prev = ch

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = []
        for i in range(len(self.channels)):
            x = getattr(self, f"pyramid{i + 1}")(x)
            feats.append(x)
        return feats


class SideResBlock(nn.Module):
    """IFRNet residual block: the last ``side`` channels get an extra conv between the main ones."""

    def __init__(self, channels: int, side: int) -> None:
        super().__init__()
        self.side = side
        self.conv1 = _conv_prelu(channels, channels)
        self.conv2 = _conv_prelu(side, side)
        self.conv3 = _conv_prelu(channels, channels)
        self.conv4 = _conv_prelu(side, side)
        self.conv5 = nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1)
        self.prelu = nn.PReLU(channels)

    def _side(self, x: Tensor, conv: nn.Module) -> Tensor:
        return torch.cat([x[:, : -self.side], conv(x[:, -self.side :])], 1)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv3(self._side(self.conv1(x), self.conv2))
        out = self.conv5(self._side(out, self.conv4))
        return self.prelu(x + out)


def _decoder_block(in_ch: int, mid_ch: int, out_ch: int, side: int) -> nn.Sequential:
    return nn.Sequential(
        _conv_prelu(in_ch, mid_ch),
        SideResBlock(mid_ch, side),
        nn.ConvTranspose2d(mid_ch, out_ch, 4, 2, 1, bias=True),
    )


class InitialDecoder(nn.Module):
    """1/16 → 1/8: first bilateral flows and intermediate feature from both frames and ``t``."""

    def __init__(self, in_ch: int, out_ch: int, side: int) -> None:
        super().__init__()
        self.convblock = _decoder_block(2 * in_ch + 1, 2 * in_ch, out_ch + 4, side)

    def forward(self, f0: Tensor, f1: Tensor, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        h, w = f0.shape[2:]
        out = self.convblock(torch.cat([f0, f1, t.repeat(1, 1, h, w)], 1))
        flow0, flow1 = torch.chunk(out[:, :4], 2, 1)
        return flow0, flow1, out[:, 4:]


class RefineDecoder(nn.Module):
    """One level up: warp both frames' features by the current flows, predict residual flows."""

    def __init__(self, in_ch: int, out_ch: int, side: int) -> None:
        super().__init__()
        self.convblock = _decoder_block(3 * in_ch + 4, 3 * in_ch, out_ch + 4, side)

    def forward(
        self, ft: Tensor, f0: Tensor, f1: Tensor, flow0: Tensor, flow1: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        x = torch.cat([ft, backward_warp(f0, flow0), backward_warp(f1, flow1), flow0, flow1], 1)
        out = self.convblock(x)
        d0, d1 = torch.chunk(out[:, :4], 2, 1)
        return d0 + 2.0 * _rescale(flow0, 2.0), d1 + 2.0 * _rescale(flow1, 2.0), out[:, 4:]


class MultiFieldDecoder(nn.Module):
    """Last level (1/2 → 1): ``num_flows`` flow pairs, blending masks and RGB residuals."""

    def __init__(self, in_ch: int, side: int, num_flows: int) -> None:
        super().__init__()
        self.num_flows = num_flows
        self.convblock = _decoder_block(3 * in_ch + 4, 3 * in_ch, 8 * num_flows, side)

    def forward(
        self, ft: Tensor, f0: Tensor, f1: Tensor, flow0: Tensor, flow1: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        n = self.num_flows
        out = self.convblock(
            torch.cat([ft, backward_warp(f0, flow0), backward_warp(f1, flow1), flow0, flow1], 1)
        )
        d0, d1, mask, residual = torch.split(out, [2 * n, 2 * n, n, 3 * n], 1)
        flow0 = d0 + 2.0 * _rescale(flow0, 2.0).repeat(1, n, 1, 1)
        flow1 = d1 + 2.0 * _rescale(flow1, 2.0).repeat(1, n, 1, 1)
        return flow0, flow1, torch.sigmoid(mask), residual


class CorrelationUpdate(nn.Module):
    """Residual update of flows and feature from correlation lookups.

    RAFT's small update, without GRU state.
    """

    def __init__(
        self,
        feat_ch: int,
        *,
        levels: int,
        radius: int,
        scale: int | None,
        hidden: int = 76,
        flow_ch: int = 20,
        corr_ch: int = 64,
        fused_ch: int = 68,
    ) -> None:
        super().__init__()
        corr_planes = levels * (2 * radius + 1) ** 2
        self.scale_factor = scale
        self.convc1 = nn.Conv2d(2 * corr_planes, corr_ch, 1, padding=0)
        self.convf1 = nn.Conv2d(4, flow_ch * 2, 7, padding=3)
        self.convf2 = nn.Conv2d(flow_ch * 2, flow_ch, 3, padding=1)
        self.conv = nn.Conv2d(corr_ch + flow_ch, fused_ch, 3, padding=1)
        self.gru = self._head(fused_ch + 4 + feat_ch, hidden, hidden)
        self.feat_head = self._head(hidden, hidden, feat_ch)
        self.flow_head = self._head(hidden, hidden, 4)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)

    @staticmethod
    def _head(in_ch: int, mid_ch: int, out_ch: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(in_ch, mid_ch, 3, padding=1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Conv2d(mid_ch, out_ch, 3, padding=1),
        )

    def forward(self, feat: Tensor, flow: Tensor, corr: Tensor) -> tuple[Tensor, Tensor]:
        if self.scale_factor is not None:
            feat = _rescale(feat, 1 / self.scale_factor)
        c = self.lrelu(self.convc1(corr))
        f = self.lrelu(self.convf2(self.lrelu(self.convf1(flow))))
        x = self.lrelu(self.conv(torch.cat([c, f], dim=1)))
        hidden = self.gru(torch.cat([x, flow, feat], dim=1))
        d_feat, d_flow = self.feat_head(hidden), self.flow_head(hidden)
        if self.scale_factor is not None:
            d_feat = _rescale(d_feat, self.scale_factor)
            d_flow = self.scale_factor * _rescale(d_flow, self.scale_factor)
        return d_feat, d_flow


# --------------------------------------------------------------------------- the model


class AMTS(nn.Module):
    """AMT-S: interpolate the frame at time ``t`` between ``img0`` and ``img1``.

    Args:
        corr_radius: correlation window radius (3 for AMT-S).
        corr_lvls: correlation pyramid levels (4).
        num_flows: flow fields of the multi-field decoder (3).
        channels: context pyramid widths.
        skip_channels: side channels of the residual blocks.
    """

    def __init__(
        self,
        corr_radius: int = 3,
        corr_lvls: int = 4,
        num_flows: int = 3,
        channels: tuple[int, ...] = (20, 32, 44, 56),
        skip_channels: int = 20,
    ) -> None:
        super().__init__()
        self.radius = corr_radius
        self.corr_levels = corr_lvls
        self.num_flows = num_flows
        self.feat_encoder = CorrelationEncoder(84)
        self.encoder = ContextPyramid(tuple(channels))
        c = channels
        self.decoder4 = InitialDecoder(c[3], c[2], skip_channels)
        self.decoder3 = RefineDecoder(c[2], c[1], skip_channels)
        self.decoder2 = RefineDecoder(c[1], c[0], skip_channels)
        self.decoder1 = MultiFieldDecoder(c[0], skip_channels, num_flows)
        self.update4 = CorrelationUpdate(c[2], levels=corr_lvls, radius=corr_radius, scale=None)
        self.update3 = CorrelationUpdate(c[1], levels=corr_lvls, radius=corr_radius, scale=2)
        self.update2 = CorrelationUpdate(c[0], levels=corr_lvls, radius=corr_radius, scale=4)
        self.comb_block = nn.Sequential(
            nn.Conv2d(3 * num_flows, 6 * num_flows, 3, 1, 1),
            nn.PReLU(6 * num_flows),
            nn.Conv2d(6 * num_flows, 3, 3, 1, 1),
        )

    @staticmethod
    def _refine(
        update: CorrelationUpdate,
        corr: BidirectionalCorrelation,
        grid: Tensor,
        flow0: Tensor,
        flow1: Tensor,
        feat: Tensor,
        t: Tensor,
        downsample: int,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Look up correlations at the flows scaled from ``t`` to the full interval; add update."""
        f0, f1 = flow0, flow1
        if downsample != 1:  # bring the flows to the 1/8 grid of the correlation volume
            inv = 1 / downsample
            f0 = inv * _rescale(f0, inv)
            f1 = inv * _rescale(f1, inv)
        corr0, corr1 = corr.lookup(grid + f1 * (1.0 / t), grid + f0 * (1.0 / (1.0 - t)))
        d_feat, d_flow = update(feat, torch.cat([f0, f1], dim=1), torch.cat([corr0, corr1], dim=1))
        d0, d1 = torch.chunk(d_flow, 2, 1)
        return flow0 + d0, flow1 + d1, feat + d_feat

    def forward(self, img0: Tensor, img1: Tensor, t: Tensor) -> Tensor:
        """Interpolated frame ``(B, 3, H, W)`` in [0, 1].

        Args:
            img0: ``(B, 3, H, W)`` float in [0, 1], H and W multiples of 16.
            img1: same shape, the later frame.
            t: ``(B, 1, 1, 1)`` (or ``(1, 1, 1, 1)`` when B == 1) time in (0, 1).
        """
        mean = (
            torch.cat([img0, img1], 2)
            .mean(1, keepdim=True)
            .mean(2, keepdim=True)
            .mean(3, keepdim=True)
        )
        img0 = img0 - mean
        img1 = img1 - mean
        b, _, h, w = img0.shape
        grid = pixel_grid(b, h // 8, w // 8, img0.device)
        fmap0, fmap1 = torch.split(self.feat_encoder(torch.cat([img0, img1], dim=0)), [b, b], dim=0)
        corr = BidirectionalCorrelation(fmap0, fmap1, levels=self.corr_levels, radius=self.radius)
        f0_1, f0_2, f0_3, f0_4 = self.encoder(img0)
        f1_1, f1_2, f1_3, f1_4 = self.encoder(img1)

        flow0, flow1, ft = self.decoder4(f0_4, f1_4, t)  # 1/8
        flow0, flow1, ft = self._refine(self.update4, corr, grid, flow0, flow1, ft, t, 1)
        flow0, flow1, ft = self.decoder3(ft, f0_3, f1_3, flow0, flow1)  # 1/4
        flow0, flow1, ft = self._refine(self.update3, corr, grid, flow0, flow1, ft, t, 2)
        flow0, flow1, ft = self.decoder2(ft, f0_2, f1_2, flow0, flow1)  # 1/2
        flow0, flow1, ft = self._refine(self.update2, corr, grid, flow0, flow1, ft, t, 4)
        flow0, flow1, mask, residual = self.decoder1(
            ft, f0_1, f1_1, flow0, flow1
        )  # full resolution
        return torch.clamp(self._combine(img0, img1, flow0, flow1, mask, residual, mean), 0, 1)

    def _combine(
        self,
        img0: Tensor,
        img1: Tensor,
        flow0: Tensor,
        flow1: Tensor,
        mask: Tensor,
        residual: Tensor,
        mean: Tensor,
    ) -> Tensor:
        """Warp both frames by each of the ``num_flows`` fields, blend, average, correct."""
        b, c, h, w = flow0.shape
        n = c // 2
        flow0 = flow0.reshape(b, n, 2, h, w).reshape(-1, 2, h, w)
        flow1 = flow1.reshape(b, n, 2, h, w).reshape(-1, 2, h, w)
        mask = mask.reshape(b, n, 1, h, w).reshape(-1, 1, h, w)
        residual = residual.reshape(b, n, 3, h, w).reshape(-1, 3, h, w)
        img0 = torch.stack([img0] * n, 1).reshape(-1, 3, h, w)
        img1 = torch.stack([img1] * n, 1).reshape(-1, 3, h, w)
        mean = torch.stack([mean] * n, 1).reshape(-1, 1, 1, 1)
        blends = (
            mask * backward_warp(img0, flow0)
            + (1 - mask) * backward_warp(img1, flow1)
            + mean
            + residual
        )
        blends = blends.reshape(b, n, 3, h, w)
        return blends.mean(1) + self.comb_block(blends.view(b, -1, h, w))


def build_amt_s() -> AMTS:
    """AMT-S as configured by VBench (``cfgs/AMT-S.yaml``: radius 3, 4 levels, 3 flows)."""
    return AMTS(corr_radius=3, corr_lvls=4, num_flows=3)
