"""OpenAI CLIP backbones: ViT-B/32 image/text embeddings and ViT-L/14 + LAION aesthetic head.

Architectures come from open_clip (``ViT-B-32-quickgelu``, ``ViT-L-14-quickgelu``: OpenAI's
models use QuickGELU), whose state-dict names equal those of OpenAI's checkpoints once the
non-tensor entries are dropped (open_clip ``build_model_from_openai_state_dict`` relies on
the same correspondence). OpenAI's files are TorchScript archives in float16; the registry
reads their tensors with a restricted reader (:mod:`vbench_cn._torchscript`), and
``load_state_dict`` casts them to the model's float32 as it copies them, as ``clip.load``
does on CPU (casting the state dict first would hold a third copy: 1.7 GB for ViT-L/14).

Preprocessing is VBench's ``clip_transform(224)`` (``vbench/utils.py``). On CUDA, VBench's
``clip.load`` keeps fp16 weights; our runner's autocast (fp16) is the closest equivalent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features._transforms import clip_transform
from vbench_cn.video import VideoInfo

_OPEN_CLIP_NAMES = {"ViT-B-32": "ViT-B-32-quickgelu", "ViT-L-14": "ViT-L-14-quickgelu"}


def build_openai_clip(arch: str) -> nn.Module:
    """open_clip model with OpenAI's architecture ``arch`` (``ViT-B-32`` or ``ViT-L-14``), random init."""
    import logging

    import open_clip

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # open_clip warns "initialized randomly" on the root logger
    try:
        # the default device, so that `with torch.device("meta")` counts parameters without memory
        return open_clip.create_model(
            _OPEN_CLIP_NAMES[arch], pretrained=None, device=torch.get_default_device()
        )
    finally:
        root.setLevel(level)


def convert_openai_clip(raw: Any) -> dict[str, torch.Tensor]:
    """OpenAI checkpoint tensors -> open_clip state dict, dtypes kept (float16).

    Drops what is not a learned tensor of the model: the TorchScript attributes
    ``input_resolution``, ``context_length``, ``vocab_size`` and the per-block ``attn_mask``
    constants (open_clip keeps its mask as a non-persistent buffer). ``load_state_dict``
    casts to float32 while copying into the parameters, exactly as ``.float()`` would.
    """
    if not isinstance(raw, dict):
        raise ValueError("CLIP checkpoint is not a dict of tensors")
    out: dict[str, torch.Tensor] = {}
    for key, value in raw.items():
        key = key.removeprefix("module.")
        if key in ("input_resolution", "context_length", "vocab_size") or key.endswith("attn_mask"):
            continue
        if isinstance(value, torch.Tensor):
            out[key] = value
    return out


class ClipViTB32(FeatureExtractor):
    """Per-frame OpenAI CLIP ViT-B/32 image embeddings, L2-normalised: ``(T, 512)``.

    Used by background consistency (``vbench/background_consistency.py``) and, through
    :meth:`encode_text`, by appearance style.
    """

    name = "clip_vitb32"
    batch_size = 64
    weights: ClassVar[tuple[str, ...]] = ("clip_vitb32",)

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        import open_clip

        self.model: Any
        self.model, self.weights_id = self.load()
        self.tokenizer = open_clip.get_tokenizer(_OPEN_CLIP_NAMES["ViT-B-32"])

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        return clip_transform(frames)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(batch)

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> torch.Tensor:
        if outputs.numel() == 0:
            return outputs.reshape(0, 512)
        return F.normalize(outputs.float(), dim=-1, p=2)

    def encode_text(self, texts: Sequence[str], *, lang: str) -> torch.Tensor:
        """CLIP text embeddings ``(len(texts), 512)``, L2-normalised (OpenAI BPE, 77 tokens).

        OpenAI CLIP was trained on English; Chinese text is tokenised as is (byte-level BPE).
        """
        tokens = self.tokenizer(list(texts)).to(self.device)
        with torch.inference_mode():
            feats = self.model.encode_text(tokens)
        return F.normalize(feats.float(), dim=-1, p=2)


class AestheticPredictor(nn.Module):
    """CLIP ViT-L/14 image tower -> float32 L2-normalised embedding -> LAION linear head."""

    def __init__(self, visual: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.visual = visual
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, 224, 224)`` -> ``(B,)`` raw head outputs (VBench divides by 10 later)."""
        feats = self.visual(x).to(torch.float32)
        with torch.autocast(device_type=feats.device.type, enabled=False):
            feats = F.normalize(feats, dim=-1, p=2)
            return self.head(feats).squeeze(-1)


class ClipViTL14Aesthetic(FeatureExtractor):
    """Per-frame LAION aesthetic score (head output, ~0-10) of all frames: ``(T,)``.

    Source: ``vbench/aesthetic_quality.py`` (``encode_image`` -> float32 -> L2 normalise ->
    ``nn.Linear(768, 1)``); the /10 and the mean over frames are the scorer's.
    """

    name = "clip_vitl14_aesthetic"
    batch_size = 32
    weights: ClassVar[tuple[str, ...]] = ("clip_vitl14", "laion_aesthetic_head")

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        clip_model: Any
        clip_model, clip_id = self.load("clip_vitl14")
        head, head_id = self.load("laion_aesthetic_head")
        self.model = AestheticPredictor(clip_model.visual, head).eval()
        del clip_model
        self.weights_id = "random" if clip_id == head_id == "random" else f"{clip_id}+{head_id}"

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        return clip_transform(frames)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model(batch)

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> torch.Tensor:
        return outputs.float().reshape(-1)
