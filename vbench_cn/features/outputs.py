"""What extractors hand to scorers, beyond plain tensors: the extractor -> scorer contract.

An extractor's ``finalize`` returns either a tensor (``(T, D)`` embeddings, ``(T,)`` scores
...) or one of these types; a scorer's first argument is typed with the same name. The types
live here, on the features side, so that scorers import features and never the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Detection:
    """One detected box in one frame.

    Attributes:
        label: COCO-80 class name (``"dining table"``), as the detector named it.
        score: detector confidence in [0, 1].
        box: ``(x0, y0, x1, y1)`` in pixels, y growing downwards.
        color: dominant colour name of the box's central pixels, or None.
        caption: a dense caption of the box (captioning detectors such as GRiT), or None.
    """

    label: str
    score: float
    box: tuple[float, float, float, float]
    color: str | None = None
    caption: str | None = None


@dataclass(frozen=True)
class ClassProbabilities:
    """Class probabilities with the class names they index.

    Attributes:
        probs: ``(C,)`` for one video or ``(T, C)`` for one row per frame.
        labels: the ``C`` class names, in the model's output order.
    """

    probs: torch.Tensor
    labels: Sequence[str]


@dataclass(frozen=True)
class TaggedEmbeddings:
    """Embeddings plus the name of the model that produced them (kept in the record).

    Language routers (``style_clip``, ``video_text``) send a prompt to a model by its
    language; the tag says which one scored the video.
    """

    embeddings: torch.Tensor
    model: str


@dataclass(frozen=True)
class FrameCaptions:
    """Captions of one video's sampled frames (``vbench_cn.features.tag2text``).

    Attributes:
        captions: VBench's caption of each frame (frame ``f`` written from frame ``f // 3``,
            VBench's batch quirk, docs/tag2text.md).
        frame_captions: each frame's own caption.
        tags: each frame's tags, joined by ``" | "``, as the tag encoder read them.
    """

    captions: tuple[str, ...]
    frame_captions: tuple[str, ...]
    tags: tuple[str, ...]
