"""What extractors hand to scorers, beyond plain tensors: the extractor -> scorer contract.

An extractor's ``finalize`` returns either a tensor (``(T, D)`` embeddings, ``(T,)`` scores
...) or one of these types; a scorer's first argument is typed with the same name. The types
live here, on the features side, so that scorers import features and never the reverse.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torchvision.ops import batched_nms


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


# --------------------------------------------------------------------------- open vocabulary
# One detector forward per frame serves every dimension that reads the detector: the COCO
# boxes of the semantic dimensions and, for motion control, query-agnostic proposals whose
# class embeddings are scored against each prompt's own object names afterwards
# (Proposals.detect). Queries differ per prompt, so they stay out of the batched image
# forward: a prompt's names are one small matrix product on the stored proposals, on
# whatever device they are. The grey thumbnails let a scorer estimate background motion
# (camera pans) without a second backbone.


@dataclass(frozen=True, eq=False)
class Proposals:
    """Query-agnostic box proposals of each sampled frame (OWLv2's highest-objectness patches).

    A proposal's score for a text query follows OWLv2's class head:
    ``sigmoid((cos(embed, query) + shift) * scale)``.

    Attributes:
        boxes: ``(F, K, 4)`` ``[x0, y0, x1, y1]`` as fractions of the frame's width and height.
        embeds: ``(F, K, D)`` unit-norm class embeddings.
        shift: ``(F, K)`` per-proposal logit shift.
        scale: ``(F, K)`` per-proposal logit scale (positive).
        valid: ``(F, K)`` False for padding (a model with fewer patches than ``K``).
    """

    boxes: torch.Tensor
    embeds: torch.Tensor
    shift: torch.Tensor
    scale: torch.Tensor
    valid: torch.Tensor

    def scores(self, queries: torch.Tensor) -> torch.Tensor:
        """``(F, K, Q)`` probability that each proposal shows each query ``(Q, D)``.

        Example:
            >>> p = Proposals(torch.zeros(1, 2, 4), torch.eye(2)[None], torch.zeros(1, 2),
            ...               torch.full((1, 2), 10.0), torch.ones(1, 2, dtype=torch.bool))
            >>> p.scores(torch.tensor([[1.0, 0.0]])).squeeze(-1).round(decimals=4).tolist()
            [[1.0, 0.5]]
        """
        q = queries.to(self.embeds) / (queries.to(self.embeds).norm(dim=-1, keepdim=True) + 1e-6)
        logits = (self.embeds @ q.T + self.shift[..., None]) * self.scale[..., None]
        return torch.sigmoid(logits) * self.valid[..., None]

    def detect(
        self,
        queries: torch.Tensor,
        *,
        min_score: float,
        max_dets: int,
        nms_iou: float = 0.5,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The best boxes of every query in every frame, after non-maximum suppression.

        Args:
            queries: ``(Q, D)`` text embeddings (the extractor's ``encode_text``).
            min_score: proposals scoring less are dropped.
            max_dets: boxes kept per frame and query, best first.
            nms_iou: overlap above which a lower-scoring box of the same query is dropped.

        Returns:
            ``boxes (F, Q, max_dets, 4)`` and ``scores (F, Q, max_dets)``; empty slots have
            score 0 (below any ``min_score`` > 0).
        """
        scores = self.scores(queries)
        frames, _, num_q = scores.shape
        out_boxes = self.boxes.new_zeros(frames, num_q, max_dets, 4)
        out_scores = self.boxes.new_zeros(frames, num_q, max_dets)
        f, k, q = torch.nonzero((scores >= min_score) & (scores > 0), as_tuple=True)
        if f.numel() == 0:
            return out_boxes, out_scores
        boxes, cand = self.boxes[f, k], scores[f, k, q]
        group = f * num_q + q
        keep = batched_nms(boxes.float(), cand.float(), group, nms_iou)  # by score, best first
        group, order = torch.sort(group[keep], stable=True)
        keep = keep[order]
        rank = torch.arange(len(keep), device=keep.device) - torch.searchsorted(group, group)
        top = rank < max_dets
        gf, gq, r = group[top] // num_q, group[top] % num_q, rank[top]
        out_boxes[gf, gq, r] = boxes[keep[top]].to(out_boxes)
        out_scores[gf, gq, r] = cand[keep[top]].to(out_scores)
        return out_boxes, out_scores


@dataclass(frozen=True, eq=False)
class DetectorFrames(Sequence[list[Detection]]):
    """Per sampled frame: the COCO detections, plus proposals and a grey thumbnail.

    As a sequence it is the list of per-frame :class:`Detection` lists the semantic scorers
    read; the motion-control scorers use ``proposals`` and ``thumbnails``.

    Attributes:
        frames: one list of COCO :class:`Detection` per sampled frame (frame pixels).
        proposals: the frames' :class:`Proposals`.
        thumbnails: ``(F, h, w)`` grey levels in [0, 1] of each frame, a few dozen pixels a
            side, the frame's aspect kept.
    """

    frames: tuple[list[Detection], ...]
    proposals: Proposals
    thumbnails: torch.Tensor

    def __getitem__(self, index):  # type: ignore[override]
        return self.frames[index]

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[list[Detection]]:
        return iter(self.frames)
