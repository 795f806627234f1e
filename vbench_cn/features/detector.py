"""Open-vocabulary object detection over the 80 COCO classes, with the dominant colour of every
box: the backbone of the alternatives ``object_class_owl``, ``multiple_objects_owl``,
``color_owl`` and ``spatial_relationship_owl``, and of the motion-control dimensions.

VBench uses GRiT-B (``vbench/third_party/grit_model.py``), which the default specs run
(``vbench_cn/features/grit.py``). The alternative is OWLv2 B/16 (Minderer et al., "Scaling
Open-Vocabulary Object Detection", NeurIPS 2023), ``Owlv2ForObjectDetection`` from
transformers, built from its config offline and queried with ``"a photo of a {coco name}"``
for the 80 COCO-80 names (the names prompts use).

Preprocessing follows ``Owlv2ImageProcessor``: pad to a square at the bottom/right with
grey 0.5 and resize to 960x960 (done here as resize-then-pad, bilinear, antialiased; the
processor's skimage-style resize differs slightly), CLIP mean/std. Text queries use CLIP's
BPE from open_clip (the same vocabulary as OWLv2's tokenizer; start/end tokens, zero ("!")
padding to 16 tokens).

Per frame, boxes scoring at least ``MIN_SCORE`` are kept after class-wise NMS (IoU 0.5),
at most ``MAX_BOXES``; scorers apply the spec's own ``min_score``. Each box also gets the
dominant colour name of its central half (:func:`dominant_color`), read from the same
pixels the detector saw, for the pixel-based colour dimension.

The same forward pass also keeps, for the motion-control dimensions, the ``PROPOSALS``
patches of highest objectness (OWLv2's query-agnostic objectness head) with their boxes and
class-head embeddings, so any prompt's object names can be scored on them later, and a
``THUMB``-pixel grey thumbnail of the frame for background motion
(:class:`~vbench_cn.features.outputs.DetectorFrames`). Keeping the top-objectness patches
instead of all 3,600 is an approximation of querying OWLv2 directly: a named object is
normally among them, and it keeps each frame's output at ~0.25 MB instead of ~7 MB.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torchvision.ops import batched_nms
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features._transforms import (
    CLIP_MEAN,
    CLIP_STD,
    in_frame_slices,
    normalize,
    to_float_nchw,
)
from vbench_cn.features.outputs import Detection, DetectorFrames, Proposals
from vbench_cn.video import VideoInfo
from vbench_cn.weights import Weights, register_weights

#: Lowest score a box needs to be kept at all (the specs set their own higher threshold).
MIN_SCORE = 0.1
#: Most boxes kept per frame.
MAX_BOXES = 32
#: Query-agnostic proposals kept per frame (highest objectness) for open-vocabulary queries.
PROPOSALS = 100
#: Side of the grey thumbnail of the padded square (the frame's part is cropped in finalize).
THUMB = 96
#: Query text for a COCO class name.
QUERY_TEMPLATE = "a photo of a {}"
#: Colour names :func:`dominant_color` can return (index = code in the feature tensor).
COLOR_NAMES: tuple[str, ...] = (
    "black",
    "white",
    "gray",
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "brown",
)
_FIELDS = 7  # label, score, x0, y0, x1, y1, colour
_PROPOSAL_FIELDS = (
    8  # x0, y0, x1, y1 (fractions of the padded square), valid, objectness, shift, scale
)


@lru_cache(maxsize=1)
def coco_labels() -> tuple[str, ...]:
    """The 80 COCO class names (``vbench_cn/data/labels/coco80.txt``)."""
    from importlib.resources import files

    text = files("vbench_cn").joinpath("data/labels/coco80.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def owlv2_config(**vision: Any) -> Any:
    """The ``google/owlv2-base-patch16-ensemble`` config, built offline (``vision`` overrides)."""
    from transformers import Owlv2Config

    vision_cfg = {"image_size": 960, "patch_size": 16, **vision}
    return Owlv2Config(
        text_config={"max_position_embeddings": 16}, vision_config=vision_cfg, projection_dim=512
    )


def build_owlv2(config: Any = None) -> Any:
    """``Owlv2ForObjectDetection`` (B/16 at 960 px by default), random init, eval mode."""
    from transformers import Owlv2ForObjectDetection

    return Owlv2ForObjectDetection(config or owlv2_config()).eval()


def _convert(raw: Any) -> dict[str, torch.Tensor]:
    """The hub ``model.safetensors`` -> state dict, less the buffers the architecture rebuilds."""
    if not isinstance(raw, dict):
        raise TypeError("OWLv2 checkpoint is not a dict")
    return {
        k: (v.float() if v.is_floating_point() else v)
        for k, v in raw.items()
        if not k.endswith(("position_ids", "box_bias"))
    }


register_weights(
    Weights(
        name="owlv2_b16",
        build=build_owlv2,
        source="hf://google/owlv2-base-patch16-ensemble/model.safetensors@7c77fc1316a353da3109f81d80ae118dd58fd55b",
        filename="owlv2-base-patch16-ensemble.safetensors",
        sha256=None,
        unpinned_reason="Hugging Face shows the LFS sha256 of google/owlv2-base-patch16-ensemble "
        "model.safetensors, but no copy of it was found (searched: the code, pages and "
        "issues corpora for the file name with sha256); the source is pinned to a commit, so "
        "the bytes cannot change; see docs/weights.md",
        size_bytes=None,  # ~620 MB
        license="Apache-2.0",
        transforms="pad to square (grey 0.5, bottom/right), resize 960x960 bilinear, "
        "CLIP mean/std; "
        "queries 'a photo of a {coco name}', CLIP BPE, 16 tokens",
        meta={
            "num_params": 154966792,
            "paper": "Minderer et al., Scaling Open-Vocabulary Object Detection, NeurIPS 2023",
            "vbench_file": "vbench/object_class.py (GRiT there; an alternative detector)",
            "used_by": [
                "object_class_owl",
                "multiple_objects_owl",
                "color_owl",
                "spatial_relationship_owl",
                "box_alignment",
                "motion_direction",
            ],
        },
        convert=_convert,
    )
)


def color_codes(rgb: torch.Tensor) -> torch.Tensor:
    """Name every pixel with one of :data:`COLOR_NAMES` by HSV rules.

    Args:
        rgb: ``(..., 3)`` RGB in [0, 1].

    Returns:
        ``(...)`` int64 indices into :data:`COLOR_NAMES`.

    Example:
        >>> COLOR_NAMES[int(color_codes(torch.tensor([0.9, 0.1, 0.1])))]
        'red'
    """
    r, g, b = rgb.float().unbind(-1)
    v = torch.maximum(torch.maximum(r, g), b)
    mn = torch.minimum(torch.minimum(r, g), b)
    delta = v - mn
    s = torch.where(v > 0, delta / v.clamp_min(1e-8), torch.zeros_like(v))
    safe = delta.clamp_min(1e-8)
    h = (
        torch.where(
            v == r,
            ((g - b) / safe) % 6,
            torch.where(v == g, (b - r) / safe + 2, (r - g) / safe + 4),
        )
        * 60.0
    )
    code = torch.full(v.shape, COLOR_NAMES.index("gray"), dtype=torch.int64, device=rgb.device)

    def put(mask: torch.Tensor, name: str) -> None:
        # torch.where, not code[mask] = ...: a boolean index waits for the device to count it
        nonlocal code
        code = torch.where(mask, COLOR_NAMES.index(name), code)

    chromatic = s >= 0.25
    put(chromatic & ((h < 15) | (h >= 345)), "red")
    put(chromatic & (h >= 15) & (h < 40), "orange")
    put(chromatic & (h >= 15) & (h < 45) & (v < 0.6), "brown")
    put(chromatic & (h >= 40) & (h < 70) & (v >= 0.6), "yellow")
    put(chromatic & (h >= 40) & (h < 70) & (v < 0.6), "brown")
    put(chromatic & (h >= 70) & (h < 165), "green")
    put(chromatic & (h >= 165) & (h < 255), "blue")
    put(chromatic & (h >= 255) & (h < 290), "purple")
    put(chromatic & (h >= 290) & (h < 345), "pink")
    put(
        chromatic & ((h < 15) | (h >= 345)) & (s < 0.5) & (v > 0.7), "pink"
    )  # light red reads as pink
    put(~chromatic & (v > 0.8), "white")
    put(v < 0.2, "black")
    return code


def dominant_color(codes: torch.Tensor, box: Sequence[float]) -> int:
    """Most frequent colour code in the central half of ``box``.

    The central half (half the width and height, same centre) keeps most of the object and
    little of the background.

    Args:
        codes: ``(H, W)`` colour codes of the image (:func:`color_codes`).
        box: ``(x0, y0, x1, y1)`` in the image's pixels.

    Returns:
        An index into :data:`COLOR_NAMES`, or -1 for an empty crop.

    Example:
        >>> img = torch.zeros(8, 8, 3); img[2:6, 2:6] = torch.tensor([0.1, 0.2, 0.9])
        >>> COLOR_NAMES[dominant_color(color_codes(img), (1, 1, 7, 7))]
        'blue'
    """
    x0, y0, x1, y1 = (float(c) for c in box)
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 4, (y1 - y0) / 4
    h, w = codes.shape
    xa, xb = max(0, int(cx - hw)), min(w, round(cx + hw) + 1)
    ya, yb = max(0, int(cy - hh)), min(h, round(cy + hh) + 1)
    if xb <= xa or yb <= ya:
        return -1
    counts = torch.bincount(codes[ya:yb, xa:xb].reshape(-1), minlength=len(COLOR_NAMES))
    return int(counts.argmax())


def dominant_colors(codes: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """:func:`dominant_color` of many boxes at once, on the device of ``codes``.

    Per-colour counts come from an integral image (4 lookups per box), and the crop bounds
    are computed in float64 with Python's rounding rules (``int`` truncates, ``round`` goes
    half to even), so every box gets exactly :func:`dominant_color`'s answer without a
    device-to-host read per box.

    Args:
        codes: ``(H, W)`` colour codes (:func:`color_codes`).
        boxes: ``(K, 4)`` boxes ``(x0, y0, x1, y1)`` in the image's pixels.

    Returns:
        ``(K,)`` int64 indices into :data:`COLOR_NAMES`, -1 for an empty crop.
    """
    h, w = codes.shape
    b = boxes.to(torch.float64).reshape(-1, 4)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    hw, hh = (b[:, 2] - b[:, 0]) / 4, (b[:, 3] - b[:, 1]) / 4
    xa = torch.trunc(cx - hw).clamp_min(0)
    xb = (torch.round(cx + hw) + 1).clamp_max(w)
    ya = torch.trunc(cy - hh).clamp_min(0)
    yb = (torch.round(cy + hh) + 1).clamp_max(h)
    empty = (xb <= xa) | (yb <= ya)
    xa, xb = xa.clamp(0, w).long(), xb.clamp(0, w).long()
    ya, yb = ya.clamp(0, h).long(), yb.clamp(0, h).long()
    colours = torch.arange(len(COLOR_NAMES), device=codes.device)
    table = torch.zeros(h + 1, w + 1, len(COLOR_NAMES), dtype=torch.int32, device=codes.device)
    table[1:, 1:] = (codes[..., None] == colours).to(torch.int32).cumsum(0).cumsum(1)
    counts = table[yb, xb] - table[ya, xb] - table[yb, xa] + table[ya, xa]  # (K, colours)
    return torch.where(empty, -1, counts.argmax(dim=1))


def tokenize_queries(
    texts: Sequence[str], context_length: int = 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """CLIP BPE ids ``(n, context_length)`` (zero padded) and the attention mask."""
    from open_clip.tokenizer import SimpleTokenizer

    ids = SimpleTokenizer(context_length=context_length)(list(texts))
    return ids, (ids != 0).long()


@in_frame_slices
def owlv2_resize_pad(frames: torch.Tensor, size: int) -> torch.Tensor:
    """``(n, H, W, 3)`` uint8 -> ``(n, 3, size, size)`` float in [0, 1], on the frames' device.

    The long side goes to ``size`` (bilinear, antialiased, on 0-1 floats, clamped), the
    short side ``round(short·size/long)``; the rest is grey 0.5 at the bottom/right: the
    geometry of ``Owlv2ImageProcessor``'s pad-then-resize. A few frames at a time
    (:func:`in_frame_slices`): every step is per image.
    """
    n, h, w = frames.shape[:3]
    scale = size / max(h, w)
    nh, nw = max(1, min(size, round(h * scale))), max(1, min(size, round(w * scale)))
    x = to_float_nchw(frames) / 255.0
    x = TF.resize(x, [nh, nw], interpolation=InterpolationMode.BILINEAR, antialias=True)
    out = torch.full((n, 3, size, size), 0.5, dtype=torch.float32, device=frames.device)
    out[:, :, :nh, :nw] = x.clamp(0, 1)
    return out


class Owlv2Coco(FeatureExtractor):
    """Per-frame COCO detections with colours, open-vocabulary proposals and a thumbnail.

    ``forward`` returns one flat row per frame: ``MAX_BOXES`` COCO rows
    ``[label, score, x0, y0, x1, y1, colour]`` in the 960x960 padded frame (label -1 = empty
    row), then ``PROPOSALS`` proposal rows ``[x0, y0, x1, y1, valid, objectness, shift,
    scale, embedding...]``, then the ``THUMB`` x ``THUMB`` grey thumbnail; ``finalize``
    maps the boxes back to the frame and returns a
    :class:`~vbench_cn.features.outputs.DetectorFrames` (a list of per-frame
    :class:`Detection` lists for the semantic scorers). ``encode_text`` embeds object names
    as OWLv2 queries; it reads English only, so the runner gives it the English name of a
    Chinese prompt's object (both are in the prompt's metadata).
    """

    name = "owlv2_coco"
    batch_size = 8
    weights: ClassVar[tuple[str, ...]] = ("owlv2_b16",)
    text_langs: ClassVar[tuple[str, ...] | None] = ("en",)

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        self.model, self.weights_id = self.load()
        cfg = self.model.config
        self.image_size = int(cfg.vision_config.image_size)
        self.embed_dim = int(cfg.text_config.hidden_size)  # the class head's output size
        self.labels = coco_labels()
        with torch.inference_mode():
            self.query_embeds = self.encode_text(self.labels, lang="en").clone()  # (80, D)

    def encode_text(self, texts: Sequence[str], *, lang: str) -> torch.Tensor:
        """OWLv2 query embeddings ``(n, D)`` of ``"a photo of a {text}"`` (English only)."""
        if lang not in ("en",):
            raise ValueError(f"OWLv2 reads English queries only, got lang={lang!r}")
        ids, mask = tokenize_queries(
            [QUERY_TEMPLATE.format(t) for t in texts],
            int(self.model.config.text_config.max_position_embeddings),
        )
        out = self.model.owlv2.get_text_features(
            input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
        )
        feats = out if isinstance(out, torch.Tensor) else out.pooler_output
        return feats.detach().float()

    @property
    def thumb_size(self) -> int:
        """Side of the thumbnail of the padded square (``THUMB``, or less for a small model)."""
        return min(THUMB, self.image_size)

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        """Resize the long side to the model's size, pad to a square with grey; [0, 1].

        Normalised later, in ``forward``. Runs on the frames' device.
        """
        if frames.shape[0] == 0:
            return None
        return owlv2_resize_pad(frames, self.image_size)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        model = self.model
        pixels = normalize(batch, CLIP_MEAN, CLIP_STD)
        feature_map = model.image_embedder(pixel_values=pixels)[0]  # (B, gh, gw, D)
        b, gh, gw, d = feature_map.shape
        image_feats = feature_map.reshape(b, gh * gw, d)
        queries = self.query_embeds.to(feature_map.dtype).unsqueeze(0).expand(b, -1, -1)
        logits = model.class_predictor(image_feats, queries)[0]  # (B, P, 80)
        boxes = model.box_predictor(image_feats, feature_map)  # (B, P, 4) cx, cy, w, h in [0, 1]
        cxcy, wh = boxes[..., :2].float(), boxes[..., 2:].float()
        xyxy = torch.cat([cxcy - wh / 2, cxcy + wh / 2], dim=-1) * self.image_size
        # proposals and thumbnail before the COCO rows' data-dependent NMS: all on the device
        proposals = self._proposal_rows(image_feats, xyxy / self.image_size)
        gray = batch.float().mean(1, keepdim=True)
        thumbs = F.adaptive_avg_pool2d(gray, self.thumb_size).flatten(1)
        coco = self._coco_rows(batch, torch.sigmoid(logits.float()), xyxy)
        return torch.cat([coco.flatten(1), proposals.flatten(1), thumbs], dim=1)

    def _coco_rows(
        self, batch: torch.Tensor, probs: torch.Tensor, xyxy: torch.Tensor
    ) -> torch.Tensor:
        """``(B, MAX_BOXES, 7)`` COCO boxes after class-wise NMS, with their colours."""
        scores, labels = probs.max(-1)
        out = torch.full((batch.shape[0], MAX_BOXES, _FIELDS), -1.0, device=batch.device)
        for i in range(batch.shape[0]):
            keep = torch.nonzero(scores[i] >= MIN_SCORE).flatten()
            if keep.numel() == 0:
                continue
            keep = keep[batched_nms(xyxy[i, keep], scores[i, keep], labels[i, keep], 0.5)][
                :MAX_BOXES
            ]
            colors = dominant_colors(color_codes(batch[i].permute(1, 2, 0)), xyxy[i, keep])
            rows = torch.cat(
                [
                    labels[i, keep, None].float(),
                    scores[i, keep, None],
                    xyxy[i, keep],
                    colors[:, None].float(),
                ],
                dim=1,
            )
            out[i, : rows.shape[0]] = rows
        return out

    def _proposal_rows(self, image_feats: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """``(B, PROPOSALS, 8 + D)`` rows of the highest-objectness patches (zero padded)."""
        model, head = self.model, self.model.class_head
        objectness = model.objectness_predictor(image_feats).float()  # (B, P)
        k = min(PROPOSALS, objectness.shape[1])
        top = objectness.topk(k, dim=1).indices
        feats = image_feats.gather(1, top[..., None].expand(-1, -1, image_feats.shape[-1]))
        embeds = head.dense0(feats).float()
        embeds = embeds / (embeds.norm(dim=-1, keepdim=True) + 1e-6)
        shift = head.logit_shift(feats).float()
        scale = (head.elu(head.logit_scale(feats)) + 1).float()
        rows = torch.cat(
            [
                boxes.gather(1, top[..., None].expand(-1, -1, 4)),
                torch.ones_like(shift),
                objectness.gather(1, top)[..., None],
                shift,
                scale,
                embeds,
            ],
            dim=-1,
        )
        out = rows.new_zeros(rows.shape[0], PROPOSALS, rows.shape[-1])
        out[:, :k] = rows
        return out

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> DetectorFrames:
        n_coco = MAX_BOXES * _FIELDS
        width = _PROPOSAL_FIELDS + self.embed_dim
        n_prop = PROPOSALS * width
        side = self.thumb_size
        rows = outputs.reshape(-1, n_coco + n_prop + side * side)
        frames = self._coco_detections(rows[:, :n_coco], info)
        props = rows[:, n_coco : n_coco + n_prop].reshape(-1, PROPOSALS, width)
        # fraction of the padded square the frame fills, per axis
        fw, fh = (
            info.width / max(info.width, info.height),
            info.height / max(info.width, info.height),
        )
        boxes = (props[..., :4] / props.new_tensor([fw, fh, fw, fh])).clamp(0.0, 1.0)
        thumbs = rows[:, n_coco + n_prop :].reshape(-1, side, side)
        thumbs = thumbs[:, : max(1, round(side * fh)), : max(1, round(side * fw))]
        proposals = Proposals(
            boxes=boxes,
            embeds=props[..., _PROPOSAL_FIELDS:],
            shift=props[..., 6],
            scale=props[..., 7],
            valid=props[..., 4] > 0.5,
        )
        return DetectorFrames(tuple(frames), proposals, thumbs.contiguous())

    def _coco_detections(self, rows: torch.Tensor, info: VideoInfo) -> list[list[Detection]]:
        scale = max(info.width, info.height) / self.image_size
        frames: list[list[Detection]] = []
        for frame_rows in rows.reshape(-1, MAX_BOXES, _FIELDS).tolist():
            dets = []
            for label, score, x0, y0, x1, y1, color in frame_rows:
                if label < 0:
                    continue
                box = (
                    x0 * scale,
                    y0 * scale,
                    min(x1 * scale, info.width),
                    min(y1 * scale, info.height),
                )
                dets.append(
                    Detection(
                        self.labels[int(label)],
                        float(score),
                        (max(0.0, box[0]), max(0.0, box[1]), box[2], box[3]),
                        color=COLOR_NAMES[int(color)] if color >= 0 else None,
                    )
                )
            frames.append(dets)
        return frames
