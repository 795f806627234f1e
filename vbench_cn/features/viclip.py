"""ViCLIP video-text embeddings (VBench temporal style and overall consistency).

Source: ``vbench/overall_consistency.py`` / ``vbench/temporal_style.py``: 8 middle-sampled
frames read by decord as **uint8**, ``clip_transform(224)`` applied to the uint8 tensor (so
the bicubic resize is rounded and clamped to 0..255 before ``/255``), one clip
``(1, 8, 3, 224, 224)`` per video; the text is the full prompt, CLIP BPE with a 32-token
context (truncated, last token end-of-text). Both embeddings are L2-normalised and the
score is their dot product (the scorer ``semantic.text_similarity``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features._transforms import (
    CLIP_MEAN,
    CLIP_STD,
    SHORT_SIDE_MAX_ASPECT,
    in_frame_slices,
    normalize,
)
from vbench_cn.features.outputs import TaggedEmbeddings
from vbench_cn.video import VideoInfo
from vbench_cn.weights import Weights, register_weights

VICLIP_SHA256 = "7a4d6ad6eac6632db3693f4b97f9f8f6445b65b1e139a6fc6686150522238c56"


@in_frame_slices
def clip_transform_uint8(frames: torch.Tensor, size: int = 224) -> torch.Tensor:
    """VBench ``clip_transform(224)`` on a **uint8** clip (``read_frames_decord_by_fps`` feeds it).

    torchvision resizes a uint8 tensor in float and rounds/clamps the result back to uint8;
    then center crop, ``/255`` and CLIP mean/std.

    Args:
        frames: ``(n, H, W, 3)`` uint8 RGB.

    Returns:
        ``(n, 3, size, size)`` float32.
    """
    x = frames.permute(0, 3, 1, 2).contiguous()
    x = TF.resize(x, [size], interpolation=InterpolationMode.BICUBIC, antialias=False)
    x = TF.center_crop(x, [size, size])
    return normalize(x.float() / 255.0, CLIP_MEAN, CLIP_STD)


class ClipAssembler:
    """Collects one video's sampled frames, which may arrive in several chunks, into clips.

    ``add`` returns a ``(k, num_frames, ...)`` stack of the complete clips formed so far
    (k is 0 or 1 for a spec sampling exactly ``num_frames`` frames), or None.
    """

    def __init__(self, num_frames: int) -> None:
        self.num_frames = num_frames
        self._buffers: dict[str, list[torch.Tensor]] = {}

    def add(self, items: torch.Tensor, *, position: int, info: VideoInfo) -> torch.Tensor | None:
        """Append prepared per-frame items; emit every complete clip."""
        if position == 0:
            self._buffers[info.path] = []
        buf = self._buffers.setdefault(info.path, [])
        buf.append(items)
        frames = torch.cat(buf)
        n_full = frames.shape[0] // self.num_frames
        if n_full == 0:
            self._buffers[info.path] = [frames]
            return None
        cut = n_full * self.num_frames
        rest = frames[cut:]
        self._buffers[info.path] = [rest] if rest.shape[0] else []
        return frames[:cut].reshape(n_full, self.num_frames, *frames.shape[1:])


def _build() -> Any:
    from vbench_cn.features.viclip_arch import build_viclip_l14

    return build_viclip_l14()


def _convert(raw: Any) -> dict[str, torch.Tensor]:
    """The checkpoint's ``"model"`` dict (VBench: ``torch.load(...)['model']``), float32."""
    if isinstance(raw, dict) and isinstance(raw.get("model"), dict):
        raw = raw["model"]
    if not isinstance(raw, dict):
        raise TypeError("ViCLIP checkpoint is not a dict")
    return {
        k.removeprefix("module."): (v.float() if v.is_floating_point() else v)
        for k, v in raw.items()
        if isinstance(v, torch.Tensor)
    }


register_weights(
    Weights(
        name="viclip_l14",
        build=_build,
        source="hf://OpenGVLab/VBench_Used_Models/ViClip-InternVid-10M-FLT.pth",
        filename="ViClip-InternVid-10M-FLT.pth",
        sha256=VICLIP_SHA256,  # HF LFS digest, docs/vbench-reference.md §17
        size_bytes=None,  # ~1.71 GB
        license="MIT (OpenGVLab InternVid / ViCLIP model card)",
        transforms="8 middle frames, uint8 short side 224 (bicubic, antialias=False, rounded), "
        "center crop 224, /255, CLIP mean/std; text: CLIP BPE, 32 tokens",
        meta={
            "num_params": 427590145,
            "paper": "Wang et al., InternVid: A Large-scale Video-Text Dataset for Multimodal "
            "Understanding and Generation, ICLR 2024",
            "vbench_file": "vbench/overall_consistency.py",
            "vbench_cache_path": "ViCLIP/ViClip-InternVid-10M-FLT.pth",
            "used_by": ["overall_consistency", "temporal_style"],
        },
        convert=_convert,
        pickled=("argparse", "numpy_scalars"),  # training state saved beside 'model'
    )
)


class ViCLIPL14(FeatureExtractor):
    """One L2-normalised ViCLIP video embedding per video, ``(1, 768)``, tagged with the model.

    Frames arrive per chunk; :class:`ClipAssembler` forms the 8-frame clip. With more than
    8 sampled frames, consecutive 8-frame clips are embedded and their mean is used.
    """

    name = "viclip_l14"
    max_aspect_ratio = SHORT_SIDE_MAX_ASPECT  # resizes the short side
    batch_size = 8  # clips per forward pass
    weights: ClassVar[tuple[str, ...]] = ("viclip_l14",)
    amp_ok = False  # VBench runs ViCLIP in float32

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        from open_clip.tokenizer import SimpleTokenizer

        self.model, self.weights_id = self.load()
        cfg = self.model.cfg
        self.image_size = cfg.image_size
        self.assembler = ClipAssembler(cfg.num_frames)
        self.tokenizer = SimpleTokenizer(context_length=cfg.context_length)

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        return self.assembler.add(
            clip_transform_uint8(frames, self.image_size), position=position, info=info
        )

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.encode_video(batch)

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> TaggedEmbeddings:
        if outputs.numel() == 0:
            raise ValueError(f"fewer than {self.assembler.num_frames} frames reached ViCLIP")
        clips = F.normalize(outputs.float(), dim=-1)
        return TaggedEmbeddings(F.normalize(clips.mean(0, keepdim=True), dim=-1), model=self.name)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """CLIP BPE ids ``(n, 32)``: start token, text, end token, truncated as VBench does."""
        return self.tokenizer(list(texts))

    def encode_text(self, texts: Sequence[str], *, lang: str) -> torch.Tensor:
        """L2-normalised ViCLIP text embeddings ``(n, 768)`` (English; VBench's tokenizer)."""
        tokens = self.tokenize(texts).to(self.device)
        with torch.inference_mode():
            return F.normalize(self.model.encode_text(tokens).float(), dim=-1)
