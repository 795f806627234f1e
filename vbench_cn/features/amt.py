"""AMT-S frame interpolation error per triplet, VBench's motion-smoothness protocol.

VBench (``vbench/motion_smoothness.py``, vbench 0.1.5) reads every frame, keeps the even
ones ``0, 2, 4, …`` as float ``/255``, replicate-pads them (centred) to a multiple of 16,
interpolates once at ``t = 0.5`` between each consecutive pair, and compares each prediction,
``×255``, clipped to [0, 255] and **truncated** to ``uint8``, with the real odd frame in
between (mean absolute difference over pixels and channels). Only odd frames that lie
between two even frames are compared, so a video of ``T`` frames has ``(T - 1) // 2``
triplets.

Here one item is a triplet ``(2k, 2k+1, 2k+2)`` of ``uint8`` frames. A chunk of the video
arrives with the last 2 frames of the previous chunk prepended (``overlap = 2``) and
yields the triplets whose first frame is even, at or after ``position``, and whose last
frame is in the chunk: every triplet is produced exactly once, whatever the chunk size.
Each triplet is interpolated on its own (batch of one, as VBench does): batching changes
the network's float rounding, which the ``uint8`` truncation turns into score changes of
~1e-4, so on CPU the default keeps VBench's numbers exactly. On CUDA, passes of a fixed
size that never mix videos keep a video's scores independent of the batch schedule.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features.amt_arch import build_amt_s
from vbench_cn.video import VideoInfo
from vbench_cn.weights import StateDict, Weights, WeightsError, register_weights

#: Spatial multiple the interpolator needs (its coarsest feature map is 1/16).
PAD_MULTIPLE = 16


def triplet_starts(num_frames: int, *, position: int) -> list[int]:
    """Local indices ``s`` of the triplets ``(s, s+1, s+2)`` a chunk yields.

    Args:
        num_frames: frames in the chunk (overlap included).
        position: index within the video of the chunk's first frame.

    Example:
        >>> triplet_starts(5, position=0)
        [0, 2]
        >>> triplet_starts(4, position=61)  # frames 61..64: only (62, 63, 64)
        [1]
    """
    first = position + (position % 2)  # the first even frame index at or after position
    return [i - position for i in range(first, position + num_frames - 2, 2)]


def replicate_pad(
    x: torch.Tensor, multiple: int = PAD_MULTIPLE
) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pad ``(B, C, H, W)`` by edge replication to a multiple of ``multiple``, centred.

    The extra column (row) of an odd padding goes right (bottom), as AMT's ``InputPadder``.

    Returns:
        The padded tensor and ``(left, right, top, bottom)``.
    """
    h, w = x.shape[-2:]
    pad_h = -h % multiple
    pad_w = -w % multiple
    pads = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
    if pad_h == 0 and pad_w == 0:
        return x, pads
    return F.pad(x, pads, mode="replicate"), pads


def interpolation_mae(model: nn.Module, triplets: torch.Tensor, *, t: float = 0.5) -> torch.Tensor:
    """Mean absolute ``uint8`` error of the middle frame predicted from its neighbours.

    Args:
        model: ``model(img0, img1, t) -> (B, 3, H, W)`` in [0, 1], inputs a multiple of 16.
        triplets: ``(B, 3, H, W, 3)`` uint8 RGB frames ``(before, middle, after)``.
        t: interpolation time.

    Returns:
        ``(B,)`` float64 mean absolute difference on the 0-255 scale.
    """
    b = triplets.shape[0]
    x = triplets.permute(0, 1, 4, 2, 3)  # (B, 3 frames, C, H, W)
    h, w = x.shape[-2:]
    img0, pads = replicate_pad(x[:, 0].to(torch.float32) / 255.0)
    img1, _ = replicate_pad(x[:, 2].to(torch.float32) / 255.0)
    time = torch.full((b, 1, 1, 1), t, dtype=torch.float32, device=triplets.device)
    pred = model(img0, img1, time)
    left, _, top, _ = pads
    pred = pred[..., top : top + h, left : left + w]
    pred_u8 = (pred * 255.0).clamp(0, 255).to(torch.uint8)  # truncation, like numpy's astype(uint8)
    diff = (pred_u8.to(torch.int32) - x[:, 1].to(torch.int32)).abs()
    return diff.sum(dim=(1, 2, 3)).to(torch.float64) / float(diff[0].numel())


def convert_amt_checkpoint(raw: Any) -> StateDict:
    """The official ``amt-s.pth`` holds ``{"state_dict": ...}``.

    VBench reads ``ckpt["state_dict"]``.
    """
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        return dict(raw["state_dict"])
    if isinstance(raw, dict) and all(isinstance(v, torch.Tensor) for v in raw.values()):
        return dict(raw)  # a bare state dict (e.g. a .safetensors copy)
    raise WeightsError("amt_s: expected {'state_dict': {...}} as in the official amt-s.pth")


def _randomize_amt(module: nn.Module, gen: torch.Generator) -> None:
    """Shrink the last layers of a random AMT-S so it blends warped inputs instead of saturating."""
    with torch.no_grad():
        for layer in (module.decoder1.convblock[2], module.comb_block[2]):  # type: ignore[index]
            layer.weight.mul_(0.05)
            layer.bias.mul_(0.05)


AMT_S = register_weights(
    Weights(
        name="amt_s",
        build=build_amt_s,
        source="https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth",
        filename="amt-s.pth",
        sha256=None,
        unpinned_reason="Hugging Face shows the LFS sha256 of lalala125/AMT amt-s.pth on the "
        "file's page, but no copy of it was found (searched: the code, pages and issues corpora "
        "for the file name with sha256); see docs/weights.md",
        size_bytes=None,
        license="CC-BY-NC-4.0 (per the MCG-NKU/AMT repository; unverified)",
        transforms="RGB float /255, replicate-padded (centred) to a multiple of 16, "
        "full resolution",
        meta={
            "num_params": 2_990_543,
            "paper": "Li et al., AMT: All-Pairs Multi-Field Transforms for Efficient Frame "
            "Interpolation, CVPR 2023",
            "vbench_file": "vbench/motion_smoothness.py",
            "vbench_cache_path": "amt_model/amt-s.pth",
            "used_by": ["motion_smoothness"],
            "config": {"corr_radius": 3, "corr_lvls": 4, "num_flows": 3},
        },
        convert=convert_amt_checkpoint,
        randomize=_randomize_amt,
    )
)


class AMTInterpolationError(FeatureExtractor):
    """Per-triplet interpolation error of AMT-S (``vbench/motion_smoothness.py``).

    A forward call interpolates its triplets in passes of ``triplets_per_pass``, each pass
    filled up to that size by repeating its last triplet (the repeats are dropped): every
    pass has the same shape, so the convolution algorithm, and with it the float rounding
    that the uint8 truncation amplifies, never depends on how many triplets a batch held.
    With ``batch_per_video`` the runner never mixes two videos in one call: a video's
    errors depend on its own frames only, whatever the batch size, the other videos, their
    order or the number of ranks.

    Class attributes:
        triplets_per_pass: triplets interpolated together; 1 (VBench's batch) on CPU keeps
            VBench's numbers bit for bit; CUDA runs use ``cuda_triplets_per_pass``.
    """

    name = "amt_s"
    min_side = 49  # padded to 64: its 1/32-scale features are 2 px (1 px fails in pooling)
    overlap = 2
    batch_size = 8
    weights = ("amt_s",)
    amp_ok: ClassVar[bool] = False  # fp16 moves truncated uint8 predictions
    batch_per_video: ClassVar[bool] = True
    triplets_per_pass: ClassVar[int] = 1
    cuda_triplets_per_pass: ClassVar[int] = 4

    def __init__(self, options: ExtractorOptions, *, model: nn.Module | None = None) -> None:
        super().__init__(options)
        if model is None:
            model, self.weights_id = self.load()
        else:
            self.weights_id = "custom"
        self.model = model.to(self.device).eval()
        self._per_pass = (
            self.cuda_triplets_per_pass if self.device.type == "cuda" else self.triplets_per_pass
        )

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        """Triplets ``(K, 3, H, W, 3)`` uint8, gathered on the frames' device."""
        starts = triplet_starts(frames.shape[0], position=position)
        if not starts:
            return None
        # starts step by 2: index made on the frames' device, without a host-built tensor
        device = frames.device
        first = torch.arange(starts[0], starts[-1] + 1, 2, dtype=torch.long, device=device)
        return frames[first[:, None] + torch.arange(3, dtype=torch.long, device=device)]

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        out = []
        for i in range(0, batch.shape[0], self._per_pass):
            chunk = batch[i : i + self._per_pass]
            real = chunk.shape[0]
            if real < self._per_pass:  # same pass shape every time: repeat the last triplet
                chunk = torch.cat(
                    [chunk, chunk[-1:].expand(self._per_pass - real, *chunk.shape[1:])]
                )
            out.append(interpolation_mae(self.model, chunk)[:real])
        return torch.cat(out)

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> torch.Tensor:
        return outputs.reshape(-1)
