"""Crafted detector outputs and a test-only detector, for the control scorers' semantics.

:func:`crafted_frames` turns known boxes into the features an open-vocabulary detector
hands the scorers (each object's proposal scores ~1 for its own name and ~0 for others);
:class:`BlobDetector` is a real extractor (prepare / forward / finalize of the OWLv2 layout)
that "detects" each named object by its colour, so end-to-end runs on synthetic clips have
answers that do not depend on any weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, ClassVar

import torch

from vbench_cn.features import ExtractorOptions
from vbench_cn.features.detector import MAX_BOXES, PROPOSALS, Owlv2Coco
from vbench_cn.features.outputs import DetectorFrames, Proposals
from vbench_cn.motion_targets import interpolate_box

#: Logit scale and shift that make a proposal score ~1 for its name and ~0 for another.
SCALE, SHIFT = 20.0, -0.5


def crafted_frames(
    tracks: Sequence[Sequence[Sequence[float] | None]],
    *,
    scores: Sequence[Sequence[float]] | None = None,
    thumbnails: torch.Tensor | None = None,
) -> DetectorFrames:
    """Features whose proposals are exactly the given boxes.

    Args:
        tracks: per object, one box per frame (``None``: not visible in that frame).
        scores: per object and frame, the score its proposal gets for its own name.
        thumbnails: ``(F, h, w)`` grey frames (default: flat grey, no background motion).
    """
    num_q, frames = len(tracks), len(tracks[0])
    boxes = torch.zeros(frames, num_q, 4)
    valid = torch.zeros(frames, num_q, dtype=torch.bool)
    shift = torch.full((frames, num_q), SHIFT)
    for q, track in enumerate(tracks):
        for f, box in enumerate(track):
            if box is not None:
                boxes[f, q] = torch.tensor(box, dtype=torch.float32)
                valid[f, q] = True
            if scores is not None:  # sigmoid((1 + shift) * SCALE) = score
                p = min(max(scores[q][f], 1e-6), 1 - 1e-6)
                shift[f, q] = float(torch.logit(torch.tensor(p))) / SCALE - 1.0
    proposals = Proposals(
        boxes=boxes,
        embeds=torch.eye(num_q).expand(frames, -1, -1).clone(),
        shift=shift,
        scale=torch.full((frames, num_q), SCALE),
        valid=valid,
    )
    thumbs = thumbnails if thumbnails is not None else torch.full((frames, 18, 32), 0.5)
    return DetectorFrames(tuple([] for _ in range(frames)), proposals, thumbs)


def queries(num_q: int) -> torch.Tensor:
    """The text features that go with :func:`crafted_frames` (one name per object)."""
    return torch.eye(num_q)


def prompt(kind: str, camera: str, *paths: Sequence[tuple[float, Sequence[float]]]) -> Any:
    """A prompt whose ``meta.motion`` has one object per path of ``(t, box)`` keys."""
    objects = [
        {"en": f"thing {i}", "zh": f"物{i}", "boxes": [{"t": t, "box": list(b)} for t, b in path]}
        for i, path in enumerate(paths)
    ]
    return SimpleNamespace(meta={"motion": {"kind": kind, "camera": camera, "objects": objects}})


def along(path: Sequence[tuple[float, Sequence[float]]], times: Sequence[float]) -> list:
    """The boxes of ``path`` at each clip fraction of ``times``."""
    return [list(interpolate_box(path, t)) for t in times]


def backwards(path: Sequence[tuple[float, Sequence[float]]]) -> list:
    """The same path run from its end to its start."""
    return [(1.0 - t, box) for t, box in reversed(path)]


class BlobDetector(Owlv2Coco):
    """A test-only detector: each named object is the blob of its colour (no model, no weights).

    Same packed output and ``finalize`` as OWLv2, so the runner, the features and the
    scorers run exactly as in production. ``COLORS`` maps object names to RGB; a proposal
    per colour is the bounding box of the pixels within ``TOLERANCE`` of it.
    """

    name = "owlv2_coco"
    COLORS: ClassVar[dict[str, tuple[int, int, int]]] = {}
    TOLERANCE = 0.12

    def __init__(self, options: ExtractorOptions) -> None:  # noqa: D107 - no model to load
        self.options, self.device = options, options.device
        self.weights_id = "random" if options.random_weights else "blob-test-detector"
        self.image_size = 128  # the test clips' width: no resampling
        self.labels = ("person",)
        self.palette = list(self.COLORS.items())
        self.embed_dim = len(self.palette)

    def encode_text(self, texts: Sequence[str], *, lang: str) -> torch.Tensor:
        assert lang == "en", "the runner must give the English names"
        names = [n for n, _ in self.palette]
        return torch.stack([torch.eye(self.embed_dim)[names.index(t)] for t in texts])

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        b, _, s, _ = batch.shape
        coco = torch.full((b, MAX_BOXES * 7), -1.0)
        props = torch.zeros(b, PROPOSALS, 8 + self.embed_dim)
        grid = (torch.arange(s, dtype=torch.float32) + 0.5) / s
        brightness = batch.amax(1)
        pixel_chroma = batch / brightness[:, None].clamp(min=1e-6)
        # shade down to 0.7 of the colour is still the object (synthetic checker pattern)
        for c, (_, rgb) in enumerate(self.palette):
            colour = torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1) / 255.0
            chroma = colour / colour.amax().clamp(min=1e-6)
            bright = brightness >= 0.6 * colour.amax()
            mask = ((pixel_chroma - chroma).abs().amax(1) < self.TOLERANCE) & bright
            rows, cols = mask.any(2), mask.any(1)
            for i in range(b):
                if int(mask[i].sum()) < 4:
                    continue
                ys, xs = grid[rows[i]], grid[cols[i]]
                half = 0.5 / s
                props[i, c, :4] = torch.tensor(
                    [xs.min() - half, ys.min() - half, xs.max() + half, ys.max() + half]
                )
                props[i, c, 4] = 1.0  # valid
                props[i, c, 6], props[i, c, 7] = SHIFT, SCALE
                props[i, c, 8 + c] = 1.0
        gray = batch.float().mean(1, keepdim=True)
        thumbs = torch.nn.functional.adaptive_avg_pool2d(gray, self.thumb_size).flatten(1)
        return torch.cat([coco, props.flatten(1), thumbs], dim=1)
