"""Chinese-CLIP (Yang et al., 2022) for Chinese prompts, and the language routers.

A video generated from a Chinese prompt is scored against the Chinese text by a model
that reads Chinese, not through a translation. The architecture is transformers'
``ChineseCLIPModel`` (a CLIP ViT image tower, a RoBERTa-wwm-ext-base text tower whose
``[CLS]`` state is projected), built from the configs below, so nothing but the weights is
downloaded. Two checkpoint layouts load: the Hugging Face one (``model.safetensors`` of
``OFA-Sys/chinese-clip-vit-*``, the default for ViT-B/16) and the original training
checkpoint of the ``cn_clip`` package (``clip_cn_vit-*.pt``: ``{"state_dict": ...}`` with
DDP's ``module.`` prefix, OpenAI-CLIP visual names, fp16 tensors), mapped by
:func:`convert_cnclip`. ``tests/parity/test_backbone_parity.py`` checks both towers against
``cn_clip`` on the same seeded weights.

Text: BERT-Chinese WordPiece (``vbench_cn/data/vocab/bert_chinese_vocab.txt``, the
``vocab.txt`` of the Hugging Face repositories, sha256 in ``docs/weights.md``), lower-cased,
CJK characters split, ``[CLS] text [SEP]`` cut and zero-padded to 52 tokens.

Preprocessing is Chinese-CLIP's ``image_transform``: resize to 224x224 (bicubic, aspect
ratio not kept, antialiased as PIL is), /255, CLIP mean/std.

Routers: ``style_clip`` (appearance style: English -> ``clip_vitb32``, VBench's model;
Chinese -> ``cnclip_vitb16``) and ``video_text`` (temporal style, overall consistency:
English -> ``viclip_l14``; Chinese -> ``cnclip_vitl14``). A router is never run itself:
the runner asks it for the extractor of the prompt's language (``routes``), so English
videos share ``clip_vitb32`` with background consistency and no video runs both models.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib.resources import files
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

#: Context length of every released Chinese-CLIP text model.
CONTEXT_LENGTH = 52
#: WordPiece ids of the special tokens in the BERT-Chinese vocabulary.
PAD_ID, CLS_ID, SEP_ID = 0, 101, 102
#: Longest word WordPiece splits before giving up with ``[UNK]`` (Chinese-CLIP's tokenizer: 200).
MAX_WORD_CHARS = 200

#: RoBERTa-wwm-ext-base-chinese, the text tower of both released ViT-B/16 and ViT-L/14 models.
_TEXT = {
    "vocab_size": 21128,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
}
#: Image towers (OpenAI CLIP ViTs with QuickGELU) and the joint embedding size.
_ARCHS: dict[str, tuple[dict[str, int], int]] = {
    "ViT-B-16": (
        {
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
            "patch_size": 16,
            "image_size": 224,
        },
        512,
    ),
    "ViT-L-14": (
        {
            "hidden_size": 1024,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "intermediate_size": 4096,
            "patch_size": 14,
            "image_size": 224,
        },
        768,
    ),
}


def build_cnclip(
    arch: str,
    *,
    text: dict[str, Any] | None = None,
    vision: dict[str, Any] | None = None,
    projection_dim: int | None = None,
) -> nn.Module:
    """``ChineseCLIPModel`` of ``arch`` (``ViT-B-16`` or ``ViT-L-14``), float32, random init.

    ``text``, ``vision`` and ``projection_dim`` override config entries (small test models).
    """
    from transformers import ChineseCLIPConfig, ChineseCLIPModel

    vision_cfg, dim = _ARCHS[arch]
    cfg = ChineseCLIPConfig(
        text_config={**_TEXT, **(text or {})},
        vision_config={**vision_cfg, "hidden_act": "quick_gelu", **(vision or {})},
        projection_dim=projection_dim or dim,
    )
    return ChineseCLIPModel(cfg).float()


def _split_qkv(key: str, value: torch.Tensor, out: dict[str, torch.Tensor]) -> None:
    """OpenAI CLIP's fused ``in_proj`` -> transformers' ``q_proj``/``k_proj``/``v_proj``."""
    prefix, kind = key.rsplit(".attn.in_proj_", 1)
    for name, part in zip(("q", "k", "v"), value.chunk(3, dim=0), strict=True):
        out[f"{prefix}.self_attn.{name}_proj.{kind}"] = part


_VISUAL_NAMES = (
    ("visual.class_embedding", "vision_model.embeddings.class_embedding"),
    ("visual.positional_embedding", "vision_model.embeddings.position_embedding.weight"),
    ("visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight"),
    ("visual.ln_pre.", "vision_model.pre_layrnorm."),
    ("visual.ln_post.", "vision_model.post_layernorm."),
    ("visual.transformer.resblocks.", "vision_model.encoder.layers."),
    (".attn.out_proj.", ".self_attn.out_proj."),
    (".ln_1.", ".layer_norm1."),
    (".ln_2.", ".layer_norm2."),
    (".mlp.c_fc.", ".mlp.fc1."),
    (".mlp.c_proj.", ".mlp.fc2."),
)


def _from_cn_clip(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ``cn_clip`` training layout (``bert.*``, ``visual.*``) under transformers' names."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key == "visual.proj":
            out["visual_projection.weight"] = value.t()
        elif key == "text_projection":
            out["text_projection.weight"] = value.t()
        elif key.startswith("bert."):
            out["text_model." + key.removeprefix("bert.")] = value
        elif key.startswith("visual."):
            for old, new in _VISUAL_NAMES:
                key = key.replace(old, new)
            if ".attn.in_proj_" in key:
                _split_qkv(key, value, out)
            else:
                out[key] = value
        else:
            out[key] = value  # logit_scale
    return out


def convert_cnclip(raw: Any) -> dict[str, torch.Tensor]:
    """A Chinese-CLIP checkpoint (Hugging Face or ``cn_clip`` training layout) -> our state dict.

    Unwraps ``raw["state_dict"]``, strips DDP's ``module.`` prefix, renames ``cn_clip``'s
    keys, drops the unused BERT pooler and position-id buffers; tensors become float32.
    """
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        raw = raw["state_dict"]
    if not isinstance(raw, dict):
        raise TypeError("Chinese-CLIP checkpoint is not a dict")
    state = {k.removeprefix("module."): v for k, v in raw.items() if isinstance(v, torch.Tensor)}
    if any(k.startswith(("bert.", "visual.")) for k in state):
        state = _from_cn_clip(state)
    return {
        k: v.float() if v.is_floating_point() else v
        for k, v in state.items()
        if ".pooler." not in k and not k.endswith(("position_ids", "token_type_ids"))
    }


def _builder(arch: str) -> Any:
    return lambda: build_cnclip(arch)


_SEARCHED = "searched: the code, pages and issues corpora (docs/weights.md)"
_COMMON_META = {
    "paper": "Yang et al., Chinese CLIP: Contrastive Vision-Language Pretraining in Chinese, "
    "arXiv 2211.01335",
    "package": "transformers ChineseCLIPModel; vocabulary in vbench_cn/data/vocab",
}
_TRANSFORMS = (
    "resize to 224x224 (bicubic, antialiased, aspect not kept), /255, CLIP mean/std; "
    "text: BERT-Chinese WordPiece, 52 tokens"
)

register_weights(
    Weights(
        name="cnclip_vitb16",
        build=_builder("ViT-B-16"),
        source="hf://OFA-Sys/chinese-clip-vit-base-patch16/model.safetensors"
        "@f4a64596bbcf9a2a94591b74b9dc39b2e4e77e3e",
        filename="chinese-clip-vit-base-patch16.safetensors",
        sha256="29cc0b2bcf6ff777f2e15742be92b110e4acbdb2068356e862c4637a4b15fe4f",
        size_bytes=None,
        license="MIT",
        transforms=_TRANSFORMS,
        meta={
            **_COMMON_META,
            "num_params": 188262913,
            "used_by": ["appearance_style (zh)"],
            "sha256_source": "docs/weights.md#cnclip_vitb16",
            "format": "safetensors, transformers' names; cn_clip's clip_cn_vit-b-16.pt loads too",
        },
        convert=convert_cnclip,
    )
)

register_weights(
    Weights(
        name="cnclip_vitl14",
        build=_builder("ViT-L-14"),
        source="hf://OFA-Sys/chinese-clip-vit-large-patch14/clip_cn_vit-l-14.pt",
        filename="clip_cn_vit-l-14.pt",
        sha256=None,
        unpinned_reason="no sha256 of clip_cn_vit-l-14.pt (or of the repository's "
        "transformers-format files) found; " + _SEARCHED,
        size_bytes=None,
        license="MIT",
        transforms=_TRANSFORMS,
        meta={
            **_COMMON_META,
            "num_params": 406233089,
            "used_by": ["overall_consistency (zh)", "temporal_style (zh)"],
            "format": "cn_clip training checkpoint: {'epoch', 'step', 'name', 'state_dict'} "
            "with 'module.' keys and fp16 tensors",
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


@lru_cache(maxsize=1)
def _wordpiece() -> Any:
    """The BERT-Chinese WordPiece tokenizer (``tokenizers``, the engine behind transformers')."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordPiece

    text = files("vbench_cn").joinpath("data/vocab/bert_chinese_vocab.txt").read_text("utf-8")
    # one token a line; split on "\n" only (the file holds tokens that str.splitlines breaks on)
    vocab = {token.strip(): i for i, token in enumerate(text.rstrip("\n").split("\n"))}
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=MAX_WORD_CHARS))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def tokenize_chinese(texts: Sequence[str], context_length: int = CONTEXT_LENGTH) -> torch.Tensor:
    """BERT-Chinese WordPiece ids ``(n, context_length)``: [CLS] text [SEP], zero padded."""
    out = torch.full((len(texts), context_length), PAD_ID, dtype=torch.long)
    for i, encoding in enumerate(_wordpiece().encode_batch(list(texts), add_special_tokens=False)):
        ids = [CLS_ID, *encoding.ids[: context_length - 2], SEP_ID]
        out[i, : len(ids)] = torch.tensor(ids)
    return out


def encode_image(model: nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    """Projected ``[CLS]`` state of the image tower (post-norm), ``(n, D)``, not normalised."""
    pooled = model.vision_model(pixel_values=pixels).pooler_output
    return model.visual_projection(pooled)


def encode_text(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Projected ``[CLS]`` state of the text tower, ``(n, D)``; padding (id 0) is masked."""
    mask = tokens.ne(PAD_ID).long()
    hidden = model.text_model(input_ids=tokens, attention_mask=mask).last_hidden_state
    return model.text_projection(hidden[:, 0])


class _CNClipBase(FeatureExtractor):
    """Chinese-CLIP image embeddings of every sampled frame, plus Chinese text embeddings."""

    batch_size = 32

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        self.model, self.weights_id = self.load()
        self.image_size = int(self.model.config.vision_config.image_size)

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        return cnclip_transform(frames, self.image_size)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return encode_image(self.model, batch)

    def encode_text(self, texts: Sequence[str], *, lang: str) -> torch.Tensor:
        """L2-normalised text embeddings ``(n, D)``; reads Chinese natively (English less well)."""
        tokens = tokenize_chinese(texts).to(self.device)
        with torch.inference_mode():
            return F.normalize(encode_text(self.model, tokens).float(), dim=-1)


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

    @classmethod
    def route(cls, lang: str | None) -> str:
        """The extractor for ``lang`` (unknown languages fall back to English); a class
        method, so the runner routes without building anything."""
        return cls.routes.get(lang or "en", cls.routes["en"])

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
