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

import contextlib
from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar, cast

import torch
import torch.nn.functional as F
from torch import nn

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features._transforms import SHORT_SIDE_MAX_ASPECT, clip_transform
from vbench_cn.video import VideoInfo
from vbench_cn.weights import Weights, register_weights

_OPEN_CLIP_NAMES = {"ViT-B-32": "ViT-B-32-quickgelu", "ViT-L-14": "ViT-L-14-quickgelu"}


def build_openai_clip(arch: str) -> nn.Module:
    """open_clip model of OpenAI's ``arch`` (``ViT-B-32`` or ``ViT-L-14``), random init."""
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


def build_laion_head() -> nn.Module:
    """LAION's aesthetic head: one linear layer on the 768-d ViT-L/14 embedding."""
    return nn.Linear(768, 1)


def _randomize_laion_head(module: nn.Module, gen: torch.Generator) -> None:
    # A random head outputs ~0; a bias near 5 puts head/10 in VBench's usual 0.4-0.6 range.
    with torch.no_grad():
        cast(Any, module).bias.fill_(5.0)


_CLIP_PAPER = (
    "Radford et al., Learning Transferable Visual Models From Natural Language Supervision, "
    "ICML 2021"
)
_CLIP_TRANSFORMS = (
    "short side to 224 (bicubic, antialias=False, float 0-255), center crop 224, /255, "
    "CLIP mean/std"
)
_TORCHSCRIPT = "TorchScript archive (fp16); read with the restricted tensor reader"

CLIP_VITB32 = register_weights(
    Weights(
        name="clip_vitb32",
        build=partial(build_openai_clip, "ViT-B-32"),
        source="https://openaipublic.azureedge.net/clip/models/"
        "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
        filename="ViT-B-32.pt",
        # in the URL; openai-clip checks it
        sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
        size_bytes=None,
        license="MIT",
        transforms=_CLIP_TRANSFORMS,
        meta={
            "num_params": 151277313,
            "paper": _CLIP_PAPER,
            "vbench_file": "vbench/background_consistency.py",
            "vbench_cache_path": "clip_model/ViT-B-32.pt",
            "used_by": ["background_consistency", "appearance_style"],
            "format": _TORCHSCRIPT,
        },
        convert=convert_openai_clip,
    )
)

CLIP_VITL14 = register_weights(
    Weights(
        name="clip_vitl14",
        build=partial(build_openai_clip, "ViT-L-14"),
        source="https://openaipublic.azureedge.net/clip/models/"
        "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",
        filename="ViT-L-14.pt",
        sha256="b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
        size_bytes=None,
        license="MIT",
        transforms=_CLIP_TRANSFORMS,
        meta={
            "num_params": 427616513,
            "paper": _CLIP_PAPER,
            "vbench_file": "vbench/aesthetic_quality.py",
            "vbench_cache_path": "clip_model/ViT-L-14.pt",
            "used_by": ["aesthetic_quality"],
            "format": _TORCHSCRIPT,
        },
        convert=convert_openai_clip,
    )
)

LAION_AESTHETIC_HEAD = register_weights(
    Weights(
        name="laion_aesthetic_head",
        build=build_laion_head,
        source="https://raw.githubusercontent.com/LAION-AI/aesthetic-predictor/main/"
        "sa_0_4_vit_l_14_linear.pth",
        filename="sa_0_4_vit_l_14_linear.pth",
        # computed from the git blob at LAION-AI/aesthetic-predictor@6d122ada (docs/weights.md)
        sha256="2cd4e60f4f24ae3bcd57b847b13c1f3ba27edc28cc1a7f9ce74ee9f421243cba",
        size_bytes=4071,
        license="MIT",
        transforms="L2-normalised float32 CLIP ViT-L/14 image embedding (768)",
        meta={
            "num_params": 769,
            "paper": "LAION aesthetic predictor v1 (github.com/LAION-AI/aesthetic-predictor)",
            "vbench_file": "vbench/aesthetic_quality.py",
            "vbench_cache_path": "aesthetic_model/emb_reader/sa_0_4_vit_l_14_linear.pth",
            "used_by": ["aesthetic_quality"],
        },
        randomize=_randomize_laion_head,
    )
)


class ClipViTB32(FeatureExtractor):
    """Per-frame OpenAI CLIP ViT-B/32 image embeddings, L2-normalised: ``(T, 512)``.

    Used by background consistency (``vbench/background_consistency.py``) and, through
    :meth:`encode_text`, by appearance style.
    """

    name = "clip_vitb32"
    max_aspect_ratio = SHORT_SIDE_MAX_ASPECT  # resizes the short side
    batch_size = 64
    weights: ClassVar[tuple[str, ...]] = (CLIP_VITB32.name,)

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
        device = feats.device.type
        no_autocast = (
            torch.autocast(device_type=device, enabled=False)
            if torch.amp.is_autocast_available(device)
            else contextlib.nullcontext()  # a device type without autocast (meta)
        )
        with no_autocast:
            feats = F.normalize(feats, dim=-1, p=2)
            return self.head(feats).squeeze(-1)


class ClipViTL14Aesthetic(FeatureExtractor):
    """Per-frame LAION aesthetic score (head output, ~0-10) of all frames: ``(T,)``.

    Source: ``vbench/aesthetic_quality.py`` (``encode_image`` -> float32 -> L2 normalise ->
    ``nn.Linear(768, 1)``); the /10 and the mean over frames are the scorer's.
    """

    name = "clip_vitl14_aesthetic"
    max_aspect_ratio = SHORT_SIDE_MAX_ASPECT  # resizes the short side
    batch_size = 32
    weights: ClassVar[tuple[str, ...]] = (CLIP_VITL14.name, LAION_AESTHETIC_HEAD.name)

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        clip_model: Any
        clip_model, clip_id = self.load(CLIP_VITL14.name)
        head, head_id = self.load(LAION_AESTHETIC_HEAD.name)
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
