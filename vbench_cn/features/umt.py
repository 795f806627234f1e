"""UMT Kinetics-400 action probabilities (VBench human action).

Source: ``vbench/human_action.py``: 16 middle-sampled frames (decord, uint8), the umt
``video_transforms``: each frame's short side to 256 with ``cv2.resize(INTER_LINEAR)``
(uint8 in, uint8 out; long side ``int(256·long/short)``; frames already 256 on the short
side are kept), center crop 224 at ``round((size - 224) / 2)``, ``/255``, ImageNet
mean/std, layout ``(1, 3, 16, 224, 224)``; **sigmoid** of the logits. The class order is
the checkpoint's (``vbench/third_party/umt/kinetics_400_categories.txt``), kept in
``vbench_cn/data/labels/kinetics400_umt.txt``; names are lower-cased as VBench does.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import torch

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features._transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SHORT_SIDE_MAX_ASPECT,
    normalize,
)
from vbench_cn.features.outputs import ClassProbabilities
from vbench_cn.features.viclip import ClipAssembler
from vbench_cn.video import VideoInfo
from vbench_cn.weights import Weights, register_weights

UMT_SHA256 = "bfee78a03bf806fbc0c216309e8f92792011b7db6556fa860e9d869c1e69fecd"


@lru_cache(maxsize=1)
def umt_labels() -> tuple[str, ...]:
    """The 400 Kinetics class names in the UMT checkpoint's output order, lower-case."""
    from importlib.resources import files

    text = (
        files("vbench_cn").joinpath("data/labels/kinetics400_umt.txt").read_text(encoding="utf-8")
    )
    labels = tuple(line.strip().lower() for line in text.splitlines() if line.strip())
    if len(labels) != 400:
        raise ValueError(f"kinetics400_umt.txt: expected 400 labels, got {len(labels)}")
    return labels


def _resize_short_side_uint8(frame: np.ndarray, size: int) -> np.ndarray:
    """umt ``resize_clip`` on one ``(H, W, 3)`` uint8 frame (cv2 INTER_LINEAR; torch fallback)."""
    h, w = frame.shape[:2]
    if (w <= h and w == size) or (h <= w and h == size):
        return frame
    oh, ow = (int(size * h / w), size) if w < h else (size, int(size * w / h))
    try:
        import cv2
    except ImportError:  # pragma: no cover - opencv ships with the OCR dependency
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms import functional as TF

        x = torch.from_numpy(frame).permute(2, 0, 1)
        x = TF.resize(x, [oh, ow], interpolation=InterpolationMode.BILINEAR, antialias=False)
        return x.permute(1, 2, 0).numpy()
    return cv2.resize(frame, (ow, oh), interpolation=cv2.INTER_LINEAR)


def umt_transform(frames: torch.Tensor, *, short_side: int = 256, crop: int = 224) -> torch.Tensor:
    """``(n, H, W, 3)`` uint8 -> ``(n, 3, crop, crop)`` float32, ImageNet-normalised (frame-wise).

    Host code: VBench resizes with OpenCV's fixed-point ``INTER_LINEAR`` on uint8, which no
    torch kernel reproduces bit for bit, so this step stays on the CPU (16 frames per video;
    frames on a device are copied back first). The clip layout ``(3, T, H, W)`` is formed in
    :meth:`UMTK400.forward`.
    """
    out = []
    for frame in frames.cpu().numpy():
        f = _resize_short_side_uint8(np.ascontiguousarray(frame), short_side)
        h, w = f.shape[:2]
        if h < crop or w < crop:
            raise ValueError(f"frame {w}x{h} is smaller than the {crop}px crop after resizing")
        y0, x0 = round((h - crop) / 2.0), round((w - crop) / 2.0)
        out.append(torch.from_numpy(np.ascontiguousarray(f[y0 : y0 + crop, x0 : x0 + crop])))
    x = torch.stack(out).permute(0, 3, 1, 2).float() / 255.0
    return normalize(x, IMAGENET_MEAN, IMAGENET_STD)


def _build() -> Any:
    from vbench_cn.features.umt_arch import build_umt_l16_k400

    return build_umt_l16_k400()


def _convert(raw: Any) -> dict[str, torch.Tensor]:
    """The released fine-tuned state dict -> ours: unwrap ``model``/``module``, float32.

    VBench loads it with ``strict=False``; here keys the architecture does not have are
    dropped and a missing ``pos_embed`` (a fixed sinusoid table) is filled in, so every
    learned weight must be present (the registry loads strictly).
    """
    from vbench_cn.features.umt_arch import video_position_table
    from vbench_cn.weights import get_weights

    for key in ("model", "module", "state_dict"):
        if isinstance(raw, dict) and isinstance(raw.get(key), dict):
            raw = raw[key]
    if not isinstance(raw, dict):
        raise TypeError("UMT checkpoint is not a dict")
    with torch.device("meta"):
        arch = get_weights("umt_l16_k400").build()  # the registered architecture, not allocated
    expected = set(arch.state_dict())
    out = {k.removeprefix("module."): v for k, v in raw.items() if isinstance(v, torch.Tensor)}
    out = {k: (v.float() if v.is_floating_point() else v) for k, v in out.items() if k in expected}
    out.setdefault("pos_embed", video_position_table(arch.cfg))
    return out


register_weights(
    Weights(
        name="umt_l16_k400",
        build=_build,
        source="hf://OpenGVLab/VBench_Used_Models/l16_ptk710_ftk710_ftk400_f16_res224.pth",
        filename="l16_ptk710_ftk710_ftk400_f16_res224.pth",
        sha256=UMT_SHA256,  # HF LFS digest, docs/vbench-reference.md §17
        size_bytes=None,  # ~607 MB (fp16 tensors)
        license="MIT (OpenGVLab unmasked_teacher)",
        transforms="16 middle frames, uint8 short side 256 (cv2 INTER_LINEAR), center crop 224, "
        "/255, ImageNet mean/std, (1, 3, 16, 224, 224); sigmoid outputs",
        meta={
            "num_params": 306695568,
            "paper": "Li et al., Unmasked Teacher: Towards Training-Efficient Video Foundation "
            "Models, ICCV 2023",
            "vbench_file": "vbench/human_action.py",
            "vbench_cache_path": "umt_model/l16_ptk710_ftk710_ftk400_f16_res224.pth",
            "used_by": ["human_action"],
        },
        convert=_convert,
    )
)


class UMTK400(FeatureExtractor):
    """Per-video sigmoid probabilities over the 400 Kinetics classes, with their names.

    Frames arrive per chunk; :class:`~vbench_cn.features.viclip.ClipAssembler` forms the
    16-frame clip. More sampled frames give several clips, whose probabilities are averaged.
    """

    name = "umt_l16_k400"
    max_aspect_ratio = SHORT_SIDE_MAX_ASPECT  # resizes the short side
    batch_size = 4  # clips per forward pass
    weights: ClassVar[tuple[str, ...]] = ("umt_l16_k400",)
    amp_ok = False  # VBench runs UMT in float32; the 0.85 sigmoid threshold is sensitive
    host_prepare = True  # OpenCV's uint8 resize (umt_transform); 16 frames per video

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        self.model, self.weights_id = self.load()
        cfg = self.model.cfg
        self.crop = cfg.image_size
        self.assembler = ClipAssembler(cfg.num_frames)
        labels = umt_labels()
        self.labels = (
            labels
            if cfg.num_classes == len(labels)
            else tuple(f"class {i}" for i in range(cfg.num_classes))
        )

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        items = umt_transform(frames, short_side=round(self.crop * 256 / 224), crop=self.crop)
        return self.assembler.add(items, position=position, info=info)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """``(B, T, 3, H, W)`` clips -> ``(B, 400)`` sigmoid probabilities."""
        return torch.sigmoid(self.model(batch.permute(0, 2, 1, 3, 4)).float())

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> ClassProbabilities:
        if outputs.numel() == 0:
            raise ValueError(f"fewer than {self.assembler.num_frames} frames reached UMT")
        return ClassProbabilities(outputs.float().mean(0), self.labels)
