"""GRiT-B boxes with object names and dense captions, as VBench's semantic dimensions read them.

VBench scores object class, multiple objects, colour and spatial relationship with GRiT-B
(``vbench/third_party/grit_model.py`` and ``grit_src/``), on 16 middle-sampled frames. What
it does, reproduced here (``docs/grit.md`` has every constant with its VBench file):

* **Both heads on every frame, sharing boxes.** VBench's model runs its task head and the
  ObjectDet head on the same proposals (``grit_src/grit/modeling/meta_arch/grit.py``:
  ``det_obj``), so every box has an object name (ObjectDet) and a description (DenseCap).
  One forward here gives both: :class:`Detection` ``label`` and ``caption``.
* **No resize inside the model.** VBench's predictor computes detectron2's shortest-edge
  resize and then feeds the original frame (``grit_src/grit/predictor.py``), so frames go
  in at their own size; only the dimension files downscale frames whose short side is
  over 768 px to 720 px: torchvision bilinear (antialiased) on float frames for object
  class, multiple objects and spatial relationship (extractor ``grit_b``), OpenCV
  ``INTER_LINEAR`` on uint8 frames for colour (extractor ``grit_b_color``, ``vbench/
  color.py``). The two share one network in memory.
* Score threshold 0.5, beam size 1, soft-NMS off (``grit_src/image_dense_captions.py``).

Boxes are in the pixels of the frame the network saw (after that downscale), as VBench's
rules read them. The text decoder's tokens become words with BERT's uncased WordPiece
vocabulary (``bert-base-uncased``, the tokenizer VBench's GRiT loads), decoded as
transformers 4.33.2 (VBench's pin) does (:class:`~vbench_cn.features.wordpiece.WordPieceTokenizer`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.features.grit_arch import END_TOKEN, GRiT, GritConfig, GritOutput
from vbench_cn.features.outputs import Detection
from vbench_cn.features.wordpiece import BERT_VOCAB_SIZE, SPECIAL_IDS, VOCAB, WordPieceTokenizer
from vbench_cn.video import VideoInfo
from vbench_cn.weights import Weights, WeightsError, register_weights

#: Frames whose short side exceeds this are downscaled (``vbench/object_class.py``, ``color.py``).
DOWNSCALE_ABOVE = 768
#: ... so that the short side becomes this (new side = ``int(720 / short * side)``).
DOWNSCALE_TO = 720.0


def build_grit() -> nn.Module:
    """GRiT-B with VBench's settings, random init, eval mode."""
    return GRiT(GritConfig()).eval()


def realistic_random(model: nn.Module, gen: torch.Generator) -> None:
    """``--random-weights``: a few boxes a frame and short descriptions, as a trained GRiT gives.

    Random box classifiers put nearly every proposal near the 0.5 threshold, and a random
    decoder rarely emits [SEP], so each frame would carry dozens of 39-token descriptions:
    the classifiers are sharpened and [SEP] favoured by three logit standard deviations.
    """
    with torch.no_grad():
        for predictor in model.roi_heads.box_predictor:
            predictor.cls_score.weight.mul_(10.0)
            predictor.cls_score.bias[1] += 1.5
        head = model.roi_heads.text_decoder.textual
        sigma = head.embedding.words.weight.std() * math.sqrt(head.output.in_features)
        head.output.bias[END_TOKEN] += 3.0 * sigma


def convert_grit(raw: Any) -> dict[str, torch.Tensor]:
    """``grit_b_densecap_objectdet.pth`` -> :class:`GRiT` state dict, tensors as float32.

    detectron2 checkpoints keep the weights under ``"model"`` (a bare state dict is taken
    as is, as detectron2's loader does). ``roi_heads.text_decoder_det.*`` keys, if a file
    has them, are VBench's second name for the one shared decoder and are dropped.
    """
    if isinstance(raw, dict) and isinstance(raw.get("model"), dict):
        raw = raw["model"]
    if not isinstance(raw, dict):
        raise WeightsError("GRiT checkpoint is not a dict")
    return {
        k: (v.float() if v.is_floating_point() else v)
        for k, v in raw.items()
        if isinstance(v, torch.Tensor) and not k.startswith("roi_heads.text_decoder_det.")
    }


register_weights(
    Weights(
        name="grit_b_densecap_objectdet",
        build=build_grit,
        source="hf://OpenGVLab/VBench_Used_Models/grit_b_densecap_objectdet.pth",
        filename="grit_b_densecap_objectdet.pth",
        # Hugging Face LFS digest of the file VBench downloads (vbench/utils.py init_submodules)
        sha256="53b6e9b3fd948eac55b574c9b6f94ad0743dff46ba449df7ac2d33009ee92ef1",
        size_bytes=417_381_733,
        license="MIT (GRiT, JialianW/GRiT)",
        transforms="RGB float 0-255 at the frame's own size (VBench's >768 px downscale first), "
        "ImageNet mean/std x255, zero-padded to a multiple of 32",
        meta={
            "num_params": 208627543,
            "paper": "Wu et al., GRiT: A Generative Region-to-text Transformer for Object "
            "Understanding, arXiv 2212.00280",
            "vbench_file": "vbench/third_party/grit_model.py",
            "vbench_cache_path": "grit_model/grit_b_densecap_objectdet.pth",
            "used_by": ["object_class", "multiple_objects", "color", "spatial_relationship"],
        },
        convert=convert_grit,
        randomize=realistic_random,
    )
)


# --------------------------------------------------------------------------- vocabulary


def placeholder_vocabulary() -> list[str]:
    """BERT's special tokens at their ids, ``tok<i>`` elsewhere (random weights, no vocab file)."""
    special = {i: token for token, i in SPECIAL_IDS.items()}
    return [special.get(i, f"tok{i}") for i in range(BERT_VOCAB_SIZE)]


def _tokens_before_end(row: Sequence[float]) -> list[int]:
    out = []
    for value in row:
        token = int(value)
        if token == END_TOKEN:
            break
        out.append(token)
    return out


# --------------------------------------------------------------------------- preprocessing


def downscaled_size(height: int, width: int) -> tuple[int, int] | None:
    """VBench's target size for a frame whose short side is over 768 px, else None.

    Example:
        >>> downscaled_size(1080, 1920), downscaled_size(720, 1280)
        ((720, 1280), None)
    """
    if min(height, width) <= DOWNSCALE_ABOVE:
        return None
    scale = DOWNSCALE_TO / min(height, width)
    return int(scale * height), int(scale * width)


def downscale_torchvision(frames: torch.Tensor) -> torch.Tensor:
    """``(n, H, W, 3)`` uint8 -> ``(n, 3, h, w)``: float frames, downscaled as object class does.

    ``transforms.Resize((h, w))`` on VBench's float32 frames: bilinear, antialiased
    (torchvision's default), not rounded. Frames at most 768 px on the short side stay uint8.
    """
    x = frames.permute(0, 3, 1, 2)
    size = downscaled_size(*frames.shape[1:3])
    if size is None:
        return x.contiguous()
    return torch.cat(
        [
            TF.resize(
                x[i : i + 4].float(),
                list(size),
                interpolation=InterpolationMode.BILINEAR,
                antialias=True,
            )
            for i in range(0, x.shape[0], 4)
        ]
    )


def downscale_cv2(frames: torch.Tensor) -> torch.Tensor:
    """``(n, H, W, 3)`` uint8 -> ``(n, 3, h, w)`` uint8, downscaled as colour does.

    ``cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)`` on VBench's uint8 frames.
    """
    size = downscaled_size(*frames.shape[1:3])
    if size is None:
        return frames.permute(0, 3, 1, 2).contiguous()
    import cv2

    h, w = size
    out = np.stack(
        [
            cv2.resize(np.ascontiguousarray(f), (w, h), interpolation=cv2.INTER_LINEAR)
            for f in frames.numpy()
        ]
    )
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


# --------------------------------------------------------------------------- extractor

_FIXED = 8  # valid, box score, x0, y0, x1, y1, ObjectDet log-prob, DenseCap log-prob
_SHARED: dict[tuple[Any, ...], tuple[nn.Module, str]] = {}


def _options_key(options: ExtractorOptions) -> tuple[Any, ...]:
    return (
        str(options.device),
        options.random_weights,
        options.seed,
        options.weights_dir,
        tuple(sorted(options.weights_overrides.items())),
    )


def shared_grit(options: ExtractorOptions) -> tuple[nn.Module, str]:
    """The GRiT network for these options, built once and shared by both extractors.

    Only the latest options' network is kept, so a process that changes options does not
    accumulate models.
    """
    from vbench_cn.weights import load_model

    key = _options_key(options)
    if key not in _SHARED:
        _SHARED.clear()
        _SHARED[key] = load_model("grit_b_densecap_objectdet", options)
    return _SHARED[key]


def load_tokenizer(options: ExtractorOptions) -> tuple[WordPieceTokenizer, str | None]:
    """The BERT vocabulary as a tokenizer, and its id; with random weights a placeholder
    vocabulary (the file is not read, so the record's weights say just ``"random"``).

    Returns:
        ``(tokenizer, "bert_base_uncased_vocab@<sha12>")``, or ``(placeholder, None)``.
    """
    from vbench_cn.weights import check_file, ensure

    if options.random_weights:
        return WordPieceTokenizer(placeholder_vocabulary()), None
    path = ensure(VOCAB, options)
    sha = check_file(VOCAB, path, pinned=VOCAB not in options.weights_overrides)
    return WordPieceTokenizer.from_file(path), f"{VOCAB}@{sha[:12]}"


class GritDetections(FeatureExtractor):
    """Per sampled frame, GRiT's boxes with object names and captions: ``list[list[Detection]]``.

    ``forward`` returns ``(B, 256, 86)`` rows ``[valid, box score, x0, y0, x1, y1, ObjectDet
    log-prob, DenseCap log-prob, 39 ObjectDet tokens, 39 DenseCap tokens]`` (GRiT keeps at
    most 256 boxes a frame); ``finalize`` turns tokens into words.
    """

    name = "grit_b"
    batch_size = 16
    cpu_batch_size = 4
    weights: ClassVar[tuple[str, ...]] = ("grit_b_densecap_objectdet", VOCAB)
    amp_ok = False  # VBench runs GRiT in float32; half precision moves scores across 0.5
    downscale = staticmethod(downscale_torchvision)

    def __init__(self, options: ExtractorOptions) -> None:
        super().__init__(options)
        self.model, model_id = shared_grit(options)
        cfg: GritConfig = self.model.cfg
        self.max_boxes = cfg.max_detections
        self.text_len = cfg.max_steps - 1
        self.tokenizer, vocab_id = load_tokenizer(options)
        self.weights_id = model_id if vocab_id is None else f"{model_id}+{vocab_id}"

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        """VBench's downscale of large frames; ``(n, 3, h, w)`` RGB on the 0-255 scale."""
        if frames.shape[0] == 0:
            return None
        return self.downscale(frames)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        out: GritOutput = self.model(batch)
        return pack(out, batch.shape[0], self.max_boxes, self.text_len)

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> list[list[Detection]]:
        frames: list[list[Detection]] = []
        t = self.text_len
        for rows in outputs.reshape(-1, self.max_boxes, _FIXED + 2 * t).tolist():
            dets = []
            for row in rows:
                if row[0] <= 0:
                    break
                dets.append(
                    Detection(
                        label=self.tokenizer.decode(_tokens_before_end(row[_FIXED : _FIXED + t])),
                        score=float(row[1]),
                        box=(row[2], row[3], row[4], row[5]),
                        caption=self.tokenizer.decode(_tokens_before_end(row[_FIXED + t :])),
                    )
                )
            frames.append(dets)
        return frames


class GritDetectionsColor(GritDetections):
    """As ``grit_b``, with colour's OpenCV downscale of frames over 768 px (``vbench/color.py``)."""

    name = "grit_b_color"
    downscale = staticmethod(downscale_cv2)


def pack(out: GritOutput, batch: int, max_boxes: int, text_len: int) -> torch.Tensor:
    """GRiT's detections as one ``(batch, max_boxes, 8 + 2 * text_len)`` float tensor.

    Rows keep GRiT's order within each image; unused rows are zero (``valid = 0``). Token
    ids (< 2**24) are exact in float32.
    """
    device = out.boxes.device
    table = torch.zeros((batch, max_boxes, _FIXED + 2 * text_len), device=device)
    n = out.image.numel()
    if n == 0:
        return table
    counts = torch.bincount(out.image, minlength=batch)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(n, device=device) - starts[out.image]
    rows = torch.cat(
        [
            torch.ones((n, 1), device=device),
            out.scores[:, None].float(),
            out.boxes.float(),
            out.objectdet_logprob[:, None].float(),
            out.densecap_logprob[:, None].float(),
            out.objectdet_tokens.float(),
            out.densecap_tokens.float(),
        ],
        dim=1,
    )
    table[out.image, slot] = rows
    return table
