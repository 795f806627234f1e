"""Zero-shot Places365 scene classification with CLIP ViT-B/32 (substitute for Tag2Text).

VBench captions 16 frames with Tag2Text (``vbench/scene.py``) and looks for the words of
the scene label in each caption. Tag2Text needs the recognize-anything stack (fairscale,
a pinned transformers 4.x BERT, a 4.5 GB checkpoint) that does not install cleanly, so
each sampled frame is instead ranked over the 365 Places365 categories by CLIP ViT-B/32
(the checkpoint VBench already uses, ``clip_vitb32``), prompt ``"a photo of a {label}."``,
softmax of ``100 · cos``. Frames get VBench's ``clip_transform(224)``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

import torch
import torch.nn.functional as F

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features._transforms import SHORT_SIDE_MAX_ASPECT, clip_transform
from vbench_cn.features.outputs import ClassProbabilities
from vbench_cn.video import VideoInfo

#: Text prompt of a Places365 label for zero-shot classification.
SCENE_TEMPLATE = "a photo of a {}."


@lru_cache(maxsize=1)
def places365_labels() -> tuple[str, ...]:
    """The 365 Places365 category names (``vbench_cn/data/labels/places365.txt``)."""
    from importlib.resources import files

    text = files("vbench_cn").joinpath("data/labels/places365.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


class ClipPlaces365(FeatureExtractor):
    """Per-frame probabilities over the Places365 labels, ``(T, 365)`` ClassProbabilities."""

    name = "clip_places365"
    max_aspect_ratio = SHORT_SIDE_MAX_ASPECT  # resizes the short side
    batch_size = 64
    weights: ClassVar[tuple[str, ...]] = ("clip_vitb32",)

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        import open_clip

        self.model, self.weights_id = self.load()
        self.labels = places365_labels()
        tokenizer = open_clip.get_tokenizer("ViT-B-32-quickgelu")
        tokens = tokenizer(
            [
                SCENE_TEMPLATE.format(label.replace("/", " ").replace("_", " "))
                for label in self.labels
            ]
        )
        with torch.inference_mode():
            text = self.model.encode_text(tokens.to(self.device))
        self.label_embeds = F.normalize(text.float(), dim=-1).detach().clone()  # (365, D)

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        if frames.shape[0] == 0:
            return None
        return clip_transform(frames)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        image = F.normalize(self.model.encode_image(batch).float(), dim=-1)
        return torch.softmax(100.0 * image @ self.label_embeds.to(image.device).T, dim=-1)

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> ClassProbabilities:
        return ClassProbabilities(outputs.float().reshape(-1, len(self.labels)), self.labels)
