"""RAFT optical flow (dynamic degree): per consecutive pair, mean of the top 5 % magnitudes.

Architecture: torchvision ``raft_large`` (the RAFT-large of Teed & Deng, whose
``Raft_Large_Weights.C_T_V1`` are a port of the same princeton-vl checkpoint).
:func:`convert_princeton_raft` maps the original ``raft-things.pth`` names (prefixed
``module.`` by ``DataParallel``) onto torchvision's: ``fnet``/``cnet`` become
``feature_encoder``/``context_encoder``, ``convN``/``normN`` pairs become
``Conv2dNormActivation`` indices, ``update_block.encoder``/``gru``/``mask`` become
``motion_encoder``/``recurrent_block``/``mask_predictor``. The original residual blocks
register their down-sampling norm twice (``norm3`` and ``downsample.1``): the alias must
equal its twin and is dropped.

VBench's use (``vbench/dynamic_degree.py``): float 0-255 RGB frames, RAFT maps them to
[-1, 1]; replicate-pad to a multiple of 8 ("sintel": both sides); 20 iterations, the
upsampled flow; pair score = mean of the ``int(0.05·H·W)`` largest magnitudes over the
*padded* frame; no mixed precision.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features._transforms import pad_to_multiple, to_float_nchw
from vbench_cn.video import VideoInfo
from vbench_cn.weights import Weights, register_weights

#: RAFT iterations VBench uses (``iters=20`` in vbench/dynamic_degree.py).
NUM_FLOW_UPDATES = 20
#: Fraction of the largest flow magnitudes averaged per pair (``int(h*w*0.05)``).
TOP_FRACTION = 0.05
#: Smallest padded side whose 4-level correlation pyramid stays >= 2 px at 1/64 scale. Below
#: it, RAFT's last level is 1 px wide (``2x/(W-1)`` divides by zero: NaN flow in VBench) or
#: empty (VBench crashes); such pairs score NaN here and the scorer skips the video.
MIN_PADDED_SIDE_PX = 128


def build_raft_large() -> nn.Module:
    """torchvision RAFT-large with random init (no weights download)."""
    from torchvision.models.optical_flow import raft_large

    return raft_large(weights=None, progress=False)


# (original pattern, torchvision replacement), applied in order to the key without "module.".
_RULES: tuple[tuple[str, str], ...] = (
    (r"^fnet\.", "feature_encoder."),
    (r"^cnet\.", "context_encoder."),
    (r"^(feature|context)_encoder\.conv1\.", r"\1_encoder.convnormrelu.0."),
    (r"^(feature|context)_encoder\.norm1\.", r"\1_encoder.convnormrelu.1."),
    (r"^(feature|context)_encoder\.conv2\.", r"\1_encoder.conv."),
    (r"\.(layer\d\.\d)\.conv1\.", r".\1.convnormrelu1.0."),
    (r"\.(layer\d\.\d)\.norm1\.", r".\1.convnormrelu1.1."),
    (r"\.(layer\d\.\d)\.conv2\.", r".\1.convnormrelu2.0."),
    (r"\.(layer\d\.\d)\.norm2\.", r".\1.convnormrelu2.1."),
    (r"^update_block\.encoder\.convc1\.", "update_block.motion_encoder.convcorr1.0."),
    (r"^update_block\.encoder\.convc2\.", "update_block.motion_encoder.convcorr2.0."),
    (r"^update_block\.encoder\.convf1\.", "update_block.motion_encoder.convflow1.0."),
    (r"^update_block\.encoder\.convf2\.", "update_block.motion_encoder.convflow2.0."),
    (r"^update_block\.encoder\.conv\.", "update_block.motion_encoder.conv.0."),
    (r"^update_block\.gru\.conv([zrq])1\.", r"update_block.recurrent_block.convgru1.conv\1."),
    (r"^update_block\.gru\.conv([zrq])2\.", r"update_block.recurrent_block.convgru2.conv\1."),
    (r"^update_block\.mask\.0\.", "mask_predictor.convrelu.0."),
    (r"^update_block\.mask\.2\.", "mask_predictor.conv."),
)
_ALIAS = re.compile(r"\.(layer\d\.\d)\.norm3\.")


def princeton_to_torchvision_key(key: str) -> str | None:
    """Torchvision name of an original RAFT key; None for ``norm3``, alias of ``downsample.1``."""
    key = key.removeprefix("module.")
    if _ALIAS.search(key):
        return None
    for pattern, repl in _RULES:
        key = re.sub(pattern, repl, key)
    return key


def convert_princeton_raft(raw: Any) -> dict[str, torch.Tensor]:
    """Map a princeton-vl ``raft-things.pth`` state dict onto torchvision ``raft_large``.

    Every key is used: each maps to one torchvision key, except ``…norm3.*``, which must be
    identical to its ``…downsample.1.*`` twin (same module registered twice) and is checked.

    Raises:
        ValueError: two keys map to one name, or an alias differs from its twin.
    """
    if not isinstance(raw, dict):
        raise ValueError("RAFT checkpoint is not a dict")
    out: dict[str, torch.Tensor] = {}
    aliases: dict[str, torch.Tensor] = {}
    for key, value in raw.items():
        new = princeton_to_torchvision_key(key)
        if new is None:
            aliases[key.removeprefix("module.")] = value
            continue
        if new in out:
            raise ValueError(f"RAFT checkpoint: two keys map to {new}")
        out[new] = value
    for key, value in aliases.items():
        twin = _ALIAS.sub(lambda m: f".{m.group(1)}.downsample.1.", key)
        twin_new = princeton_to_torchvision_key(twin)
        if twin_new not in out or not torch.equal(out[twin_new], value):
            raise ValueError(f"RAFT checkpoint: {key} differs from {twin}")
    return out


def torchvision_to_princeton(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`convert_princeton_raft`: write a torchvision RAFT in the original layout.

    Used to hand one random RAFT to both VBench (which loads ``raft-things.pth`` through
    ``DataParallel``) and vbench-cn; restores the ``norm3`` aliases and the ``module.`` prefix.
    """
    inverse = [
        (r"^feature_encoder\.convnormrelu\.0\.", "fnet.conv1."),
        (r"^feature_encoder\.conv\.", "fnet.conv2."),
        (r"^context_encoder\.convnormrelu\.0\.", "cnet.conv1."),
        (r"^context_encoder\.convnormrelu\.1\.", "cnet.norm1."),
        (r"^context_encoder\.conv\.", "cnet.conv2."),
        (r"^feature_encoder\.", "fnet."),
        (r"^context_encoder\.", "cnet."),
        (r"\.(layer\d\.\d)\.convnormrelu1\.0\.", r".\1.conv1."),
        (r"\.(layer\d\.\d)\.convnormrelu1\.1\.", r".\1.norm1."),
        (r"\.(layer\d\.\d)\.convnormrelu2\.0\.", r".\1.conv2."),
        (r"\.(layer\d\.\d)\.convnormrelu2\.1\.", r".\1.norm2."),
        (r"^update_block\.motion_encoder\.convcorr1\.0\.", "update_block.encoder.convc1."),
        (r"^update_block\.motion_encoder\.convcorr2\.0\.", "update_block.encoder.convc2."),
        (r"^update_block\.motion_encoder\.convflow1\.0\.", "update_block.encoder.convf1."),
        (r"^update_block\.motion_encoder\.convflow2\.0\.", "update_block.encoder.convf2."),
        (r"^update_block\.motion_encoder\.conv\.0\.", "update_block.encoder.conv."),
        (
            r"^update_block\.recurrent_block\.convgru1\.conv([zrq])\.",
            r"update_block.gru.conv\g<1>1.",
        ),
        (
            r"^update_block\.recurrent_block\.convgru2\.conv([zrq])\.",
            r"update_block.gru.conv\g<1>2.",
        ),
        (r"^mask_predictor\.convrelu\.0\.", "update_block.mask.0."),
        (r"^mask_predictor\.conv\.", "update_block.mask.2."),
    ]
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key
        for pattern, repl in inverse:
            new = re.sub(pattern, repl, new)
        out[f"module.{new}"] = value
        m = re.search(r"^(cnet\.layer\d\.\d)\.downsample\.1\.(.+)$", new)
        if m:
            out[f"module.{m.group(1)}.norm3.{m.group(2)}"] = value
    return out


def shrink_random_flow(module: nn.Module, factor: float = 0.2) -> None:
    """Scale a random RAFT's last flow layer so random flow is a few pixels, not 12-20.

    With random weights RAFT predicts large flow everywhere and every clip counts as
    dynamic; x0.2 makes the random model discriminate (docs/vbench-offline.md).
    """
    conv: Any = module.get_submodule("update_block.flow_head.conv2")
    with torch.no_grad():
        conv.weight.mul_(factor)
        conv.bias.mul_(factor)


def _randomize_raft(module: nn.Module, gen: torch.Generator) -> None:
    shrink_random_flow(module)


RAFT_THINGS = register_weights(
    Weights(
        name="raft_things",
        build=build_raft_large,
        source="https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip",
        filename="raft-things.pth",
        sha256=None,
        unpinned_reason="princeton-vl publishes no digest of models.zip or raft-things.pth "
        "(Dropbox link); a digest found for ProPainter's re-hosted copy is not shown to be the "
        "same file (searched: the code, pages and issues corpora "
        "for the file name with sha256; docs/weights.md)",
        size_bytes=None,
        license="BSD-3-Clause",
        transforms="float 0-255 RGB frames (RAFT maps to [-1,1]), replicate-padded to a "
        "multiple of 8 (sintel mode)",
        meta={
            "num_params": 5257536,
            "paper": "Teed & Deng, RAFT: Recurrent All-Pairs Field Transforms for Optical Flow, "
            "ECCV 2020",
            "vbench_file": "vbench/dynamic_degree.py",
            "vbench_cache_path": "raft_model/models/raft-things.pth",
            "used_by": ["dynamic_degree"],
            "format": "princeton-vl state dict, keys prefixed 'module.', mapped onto "
            "torchvision raft_large",
        },
        convert=convert_princeton_raft,
        archive_member="models/raft-things.pth",
        randomize=_randomize_raft,
    )
)


def top_fraction_mean(magnitude: torch.Tensor, fraction: float = TOP_FRACTION) -> torch.Tensor:
    """Mean of the ``int(fraction·H·W)`` largest values of each ``(B, H, W)`` map -> ``(B,)``.

    ``int(…) == 0`` (under 20 pixels) gives NaN, as numpy's mean of an empty slice does in VBench.
    """
    flat = magnitude.reshape(magnitude.shape[0], -1)
    k = int(flat.shape[1] * fraction)
    if k == 0:
        return torch.full((flat.shape[0],), float("nan"), dtype=flat.dtype, device=flat.device)
    return flat.topk(k, dim=1).values.mean(dim=1)


def _coords_grid(batch: int, height: int, width: int, device: torch.device) -> torch.Tensor:
    """``(B, 2, h, w)`` pixel coordinates, channel 0 = x (column), channel 1 = y (row)."""
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij"
    )
    return torch.stack([xs, ys]).float()[None].repeat(batch, 1, 1, 1)


def _sample(volume: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup at absolute pixel coordinates (RAFT's ``bilinear_sampler``, corners)."""
    height, width = volume.shape[-2:]
    x, y = coords.split([1, 1], dim=-1)
    grid = torch.cat([2 * x / (width - 1) - 1, 2 * y / (height - 1) - 1], dim=-1)
    return F.grid_sample(volume, grid, align_corners=True)


class RaftPairScorer(nn.Module):
    """``(B, 2, 3, H, W)`` float 0-255 pairs (padded) -> ``(B,)`` top-5 % flow magnitudes.

    The forward pass is RAFT's (Teed & Deng 2020, as in ``vbench/third_party/RAFT``) over
    torchvision's modules: all-pairs correlation / sqrt(C), a 4-level average-pooled pyramid,
    radius-4 lookups, 20 GRU updates, convex 8x upsampling of the final flow. It is written
    out here because torchvision's ``RAFT.forward`` refuses frames under 128 px, which the
    original (and VBench) accepts down to 64 px, and because only the final flow is needed.
    """

    def __init__(self, raft: nn.Module, num_flow_updates: int = NUM_FLOW_UPDATES) -> None:
        super().__init__()
        self.raft = raft
        self.num_flow_updates = num_flow_updates

    def flow(self, image1: torch.Tensor, image2: torch.Tensor) -> torch.Tensor:
        """Upsampled flow ``(B, 2, H, W)`` of RAFT on ``[-1, 1]`` images, H and W multiples of 8."""
        raft: Any = self.raft  # torchvision RAFT's submodules
        batch, _, height, width = image1.shape
        if height % 8 or width % 8:
            raise ValueError(f"RAFT input must be padded to a multiple of 8, got {height}x{width}")
        fmaps = raft.feature_encoder(torch.cat([image1, image2], dim=0)).float()
        fmap1, fmap2 = fmaps.chunk(2, dim=0)
        _, channels, h8, w8 = fmap1.shape
        corr = torch.matmul(
            fmap1.reshape(batch, channels, -1).transpose(1, 2), fmap2.reshape(batch, channels, -1)
        )
        corr = (corr / torch.sqrt(torch.tensor(float(channels)))).reshape(
            batch * h8 * w8, 1, h8, w8
        )
        radius = raft.corr_block.radius
        pyramid = [corr]
        for _ in range(raft.corr_block.num_levels - 1):
            pyramid.append(F.avg_pool2d(pyramid[-1], 2, stride=2))
        offsets = torch.linspace(-radius, radius, 2 * radius + 1, device=image1.device)
        delta = torch.stack(torch.meshgrid(offsets, offsets, indexing="ij"), dim=-1).view(
            1, 2 * radius + 1, 2 * radius + 1, 2
        )
        context = raft.context_encoder(image1)
        hidden_size = raft.update_block.hidden_state_size
        hidden, ctx = torch.split(context, [hidden_size, context.shape[1] - hidden_size], dim=1)
        hidden, ctx = torch.tanh(hidden), torch.relu(ctx)
        coords0 = _coords_grid(batch, h8, w8, image1.device)
        coords1 = coords0.clone()
        for _ in range(self.num_flow_updates):
            centroid = coords1.permute(0, 2, 3, 1).reshape(batch * h8 * w8, 1, 1, 2)
            looked = [
                _sample(level, centroid / 2**i + delta).view(batch, h8, w8, -1)
                for i, level in enumerate(pyramid)
            ]
            corr_features = torch.cat(looked, dim=-1).permute(0, 3, 1, 2).contiguous().float()
            hidden, delta_flow = raft.update_block(hidden, ctx, corr_features, coords1 - coords0)
            coords1 = coords1 + delta_flow
        flow = coords1 - coords0
        mask = raft.mask_predictor(hidden).view(batch, 1, 9, 8, 8, h8, w8).softmax(dim=2)
        up = F.unfold(8 * flow, kernel_size=3, padding=1).view(batch, 2, 9, 1, 1, h8, w8)
        up = (mask * up).sum(dim=2).permute(0, 1, 4, 2, 5, 3)
        return up.reshape(batch, 2, 8 * h8, 8 * w8)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        if min(pairs.shape[-2:]) < MIN_PADDED_SIDE_PX:
            # The 4-level pyramid would reach 1 px (VBench: NaN flow) or 0 px (VBench: crash).
            return torch.full((pairs.shape[0],), float("nan"), device=pairs.device)
        image1 = 2.0 * (pairs[:, 0] / 255.0) - 1.0
        image2 = 2.0 * (pairs[:, 1] / 255.0) - 1.0
        flow = self.flow(image1.contiguous(), image2.contiguous()).float()
        magnitude = torch.sqrt(flow[:, 0] ** 2 + flow[:, 1] ** 2)
        return top_fraction_mean(magnitude)


class RaftThings(FeatureExtractor):
    """Per pair of consecutive sampled frames, the mean of the top 5 % RAFT flow magnitudes.

    Output ``(T-1,)``.
    """

    name = "raft_things"
    min_side = MIN_PADDED_SIDE_PX - 7  # padded to a multiple of 8
    overlap = 1
    batch_size = 8
    weights: ClassVar[tuple[str, ...]] = (RAFT_THINGS.name,)
    amp_ok = False  # VBench: mixed_precision=False

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        raft, self.weights_id = self.load()
        self.model = RaftPairScorer(raft).eval()

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        """Consecutive pairs ``(n-1, 2, H, W, 3)``, still uint8, on the frames' device.

        The float conversion and padding happen in :meth:`forward`: a queued pair costs
        ``2·H·W·3`` bytes instead of four times that in float32 (22 MB at 720p), and a pair
        uploaded from the host crosses the bus as uint8.
        """
        if frames.shape[0] < 2:
            return None
        return torch.stack([frames[:-1], frames[1:]], dim=1)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 pairs -> float 0-255, replicate-padded to a multiple of 8 -> pair scores."""
        b, _, h, w, c = batch.shape
        x = pad_to_multiple(to_float_nchw(batch.reshape(b * 2, h, w, c)), 8)
        return self.model(x.reshape(b, 2, *x.shape[1:]))

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> torch.Tensor:
        return outputs.float().reshape(-1)
