"""Chinese-CLIP (Yang et al., 2022) for Chinese prompts, and the language routers.

A video generated from a Chinese prompt is scored against the Chinese text by a model
that reads Chinese, not through a translation. Chinese-CLIP's architecture and its
BERT-Chinese vocabulary come from the ``cn_clip`` package (``cn_clip.clip.model.CLIP``,
``cn_clip.clip.tokenize``, 52-token context), so nothing is downloaded but the weights:
``clip_cn_vit-b-16.pt`` / ``clip_cn_vit-l-14.pt`` from the Hugging Face repos
``OFA-Sys/chinese-clip-vit-{base-patch16,large-patch14}``, read with
``torch.load(weights_only=True)`` (``cn_clip``'s own loader unpickles freely).

Preprocessing is Chinese-CLIP's ``image_transform``: resize to 224x224 (bicubic, aspect
ratio not kept, antialiased as PIL is), /255, CLIP mean/std.

Routers: ``style_clip`` (appearance style: English -> ``clip_vitb32``, VBench's model;
Chinese -> ``cnclip_vitb16``) and ``video_text`` (temporal style, overall consistency:
English -> ``viclip_l14``; Chinese -> ``cnclip_vitl14``). A router is never run itself:
the runner asks it for the extractor of the prompt's language (``routes``), so English
videos share ``clip_vitb32`` with background consistency and no video runs both models.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features._transforms import CLIP_MEAN, CLIP_STD, in_frame_slices, normalize
from vbench_cn.features.outputs import TaggedEmbeddings
from vbench_cn.video import VideoInfo
from vbench_cn.weights import Weights, register_weights

#: Context length of every released Chinese-CLIP text model (``cn_clip.clip.tokenize``).
CONTEXT_LENGTH = 52

_ARCHS: dict[str, tuple[str, str]] = {
    "ViT-B-16": ("ViT-B-16", "RoBERTa-wwm-ext-base-chinese"),
    "ViT-L-14": ("ViT-L-14", "RoBERTa-wwm-ext-base-chinese"),
}


def cnclip_config(arch: str) -> dict[str, Any]:
    """The ``cn_clip.clip.model.CLIP`` keyword arguments of ``arch``, from cn_clip's configs."""
    import cn_clip.clip

    vision, text = _ARCHS[arch]
    root = Path(cn_clip.clip.__file__).parent / "model_configs"
    cfg = json.loads((root / f"{vision}.json").read_text())
    cfg.update(json.loads((root / f"{text}.json").read_text()))
    return cfg


def build_cnclip(arch: str, **overrides: Any) -> nn.Module:
    """Chinese-CLIP ``arch`` (``ViT-B-16`` or ``ViT-L-14``) in float32, random init.

    ``overrides`` change config entries (reduced sizes for tests).
    """
    from cn_clip.clip.model import CLIP

    cfg = {**cnclip_config(arch), **overrides}
    model = CLIP(**cfg)
    model.image_size = int(cfg["image_resolution"])  # type: ignore[assignment]
    return model.float()


def convert_cnclip(raw: Any) -> dict[str, torch.Tensor]:
    """A Chinese-CLIP training checkpoint -> state dict.

    Takes ``raw["state_dict"]``, strips DDP's ``module.`` prefix and drops the unused BERT
    pooler, as ``cn_clip.clip.utils.create_model`` does; tensors become float32.
    """
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict):
        raise TypeError("Chinese-CLIP checkpoint is not a dict")
    out = {}
    for key, value in raw.items():
        key = key.removeprefix("module.")
        if "bert.pooler" in key or not isinstance(value, torch.Tensor):
            continue
        out[key] = value.float() if value.is_floating_point() else value
    return out


def _builder(arch: str) -> Any:
    return lambda: build_cnclip(arch)


_COMMON_META = {
    "paper": "Yang et al., Chinese CLIP: Contrastive Vision-Language Pretraining in Chinese, "
    "arXiv 2211.01335",
    "package": "cn_clip (architecture, BERT-Chinese vocab.txt)",
}

register_weights(
    Weights(
        name="cnclip_vitb16",
        build=_builder("ViT-B-16"),
        source="hf://OFA-Sys/chinese-clip-vit-base-patch16/clip_cn_vit-b-16.pt",
        filename="clip_cn_vit-b-16.pt",
        sha256=None,  # no published digest; records carry the computed one
        size_bytes=None,
        license="MIT",
        transforms="resize to 224x224 (bicubic, antialiased, aspect not kept), /255, "
        "CLIP mean/std; text: BERT-Chinese WordPiece, 52 tokens",
        meta={**_COMMON_META, "num_params": 188262913, "used_by": ["appearance_style (zh)"]},
        convert=convert_cnclip,
    )
)

register_weights(
    Weights(
        name="cnclip_vitl14",
        build=_builder("ViT-L-14"),
        source="hf://OFA-Sys/chinese-clip-vit-large-patch14/clip_cn_vit-l-14.pt",
        filename="clip_cn_vit-l-14.pt",
        sha256=None,  # no published digest; records carry the computed one
        size_bytes=None,
        license="MIT",
        transforms="resize to 224x224 (bicubic, antialiased, aspect not kept), /255, "
        "CLIP mean/std; text: BERT-Chinese WordPiece, 52 tokens",
        meta={
            **_COMMON_META,
            "num_params": 406233089,
            "used_by": ["overall_consistency (zh)", "temporal_style (zh)"],
        },
        convert=convert_cnclip,
    )
)


@in_frame_slices
def cnclip_transform(frames: torch.Tensor, size: int = 224) -> torch.Tensor:
    """Chinese-CLIP ``image_transform``: ``(n, H, W, 3)`` uint8 -> ``(n, 3, size, size)`` float."""
    x = frames.permute(0, 3, 1, 2).float()
    x = TF.resize(x, [size, size], interpolation=InterpolationMode.BICUBIC, antialias=True)
    return normalize(x.clamp(0, 255) / 255.0, CLIP_MEAN, CLIP_STD)


def tokenize_chinese(texts: Sequence[str], context_length: int = CONTEXT_LENGTH) -> torch.Tensor:
    """BERT-Chinese WordPiece ids ``(n, context_length)``: [CLS] text [SEP], zero padded."""
    from cn_clip.clip import tokenize

    return tokenize(list(texts), context_length=context_length)


class _CNClipBase(FeatureExtractor):
    """Chinese-CLIP image embeddings of every sampled frame, plus Chinese text embeddings."""

    batch_size = 32

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        self.model, self.weights_id = self.load()
        self.image_size = int(getattr(self.model, "image_size", 224))

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        return cnclip_transform(frames, self.image_size)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(batch)

    def encode_text(self, texts: Sequence[str], *, lang: str) -> torch.Tensor:
        """L2-normalised text embeddings ``(n, D)``; reads Chinese natively, English less well."""
        tokens = tokenize_chinese(texts).to(self.device)
        with torch.inference_mode():
            return F.normalize(self.model.encode_text(tokens).float(), dim=-1)


class CNClipViTB16(_CNClipBase):
    """Per-frame Chinese-CLIP ViT-B/16 embeddings ``(T, 512)``, L2-normalised (zh style)."""

    name = "cnclip_vitb16"
    weights: ClassVar[tuple[str, ...]] = ("cnclip_vitb16",)

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> TaggedEmbeddings:
        if outputs.numel() == 0:
            raise ValueError("no frame reached Chinese-CLIP")
        return TaggedEmbeddings(F.normalize(outputs.float(), dim=-1), model=self.name)


class CNClipViTL14(_CNClipBase):
    """One Chinese-CLIP ViT-L/14 video embedding ``(1, 768)``: the normalised mean of its frames'.

    The stand-in for ViCLIP on Chinese prompts (temporal style, overall consistency): an
    image model sees no motion, so temporal-style scores of zh videos read appearance only.
    """

    name = "cnclip_vitl14"
    batch_size = 16
    weights: ClassVar[tuple[str, ...]] = ("cnclip_vitl14",)

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> TaggedEmbeddings:
        if outputs.numel() == 0:
            raise ValueError("no frame reached Chinese-CLIP")
        frames = F.normalize(outputs.float(), dim=-1)
        return TaggedEmbeddings(F.normalize(frames.mean(0, keepdim=True), dim=-1), model=self.name)


class LanguageRouter(FeatureExtractor):
    """Names the extractor that serves a prompt's language; never runs a model itself.

    Class attributes:
        routes: language (``"en"``, ``"zh"``) -> extractor name; ``"en"`` is the fallback.
    """

    routes: ClassVar[dict[str, str]]

    def route(self, lang: str | None) -> str:
        """The extractor for ``lang`` (unknown languages fall back to English)."""
        return self.routes.get(lang or "en", self.routes["en"])

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        raise RuntimeError(
            f"{self.name} routes by language; this runner does not resolve routes "
            f"({', '.join(f'{k} -> {v}' for k, v in self.routes.items())})"
        )


class StyleClipRouter(LanguageRouter):
    """Appearance style: English -> ``clip_vitb32`` (VBench), Chinese -> ``cnclip_vitb16``."""

    name = "style_clip"
    routes: ClassVar[dict[str, str]] = {"en": "clip_vitb32", "zh": "cnclip_vitb16"}
    weights: ClassVar[tuple[str, ...]] = ("clip_vitb32", "cnclip_vitb16")


class VideoTextRouter(LanguageRouter):
    """Video-text similarity: English -> ``viclip_l14`` (VBench), Chinese -> ``cnclip_vitl14``."""

    name = "video_text"
    routes: ClassVar[dict[str, str]] = {"en": "viclip_l14", "zh": "cnclip_vitl14"}
    weights: ClassVar[tuple[str, ...]] = ("viclip_l14", "cnclip_vitl14")
