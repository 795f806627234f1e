"""OCR extractor ``rapidocr``: PP-OCRv4 Chinese/English text detection and recognition.

The ONNX models ship inside the ``rapidocr-onnxruntime`` wheel, so the text dimensions run
with real weights everywhere, offline. onnxruntime runs them on the CPU, or on CUDA when the
run's device is CUDA and ``onnxruntime-gpu`` provides the CUDA execution provider.

OCR output is ragged (any number of boxes per frame, any number of characters per box) but
the runner batches and concatenates tensors. So ``forward`` encodes each frame's reading
into a fixed-size float tensor, ``(MAX_BOXES, ROW_WIDTH)``, and ``finalize`` decodes it back
into :class:`OcrBox` lists; the runner needs no change. Unicode code points (< 2**21) are
exact in float32. A frame keeps its ``MAX_BOXES`` most confident boxes (in reading order)
and each box its first ``MAX_CHARS`` characters; a sign prompt asks for a few words, so
neither limit is reached in practice.

The detector's input size is fixed: each frame is resized so that its longer side is
``det_side_px`` (rounded to a multiple of 32) before detection, whatever the video's
resolution, which keeps the cost per frame constant. Recognition crops come from the frame
at full resolution. ``bench/ocr_bench.py`` measured the trade-off that chose the default.
The direction classifier is not used: upside-down text is a rendering error, and reading
it anyway would reward it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from vbench_cn.features import ExtractorOptions, FeatureExtractor
from vbench_cn.video import VideoInfo

log = logging.getLogger(__name__)

#: Boxes kept per frame and characters kept per box in the encoded tensor.
MAX_BOXES = 16
MAX_CHARS = 32
#: Row layout: confidence, number of characters, 4 corner points (x, y), code points,
#: character confidences.
_CONF, _NCHARS, _BOX = 0, 1, slice(2, 10)
_CODES = slice(10, 10 + MAX_CHARS)
_CHAR_CONF = slice(10 + MAX_CHARS, 10 + 2 * MAX_CHARS)
ROW_WIDTH = 10 + 2 * MAX_CHARS

#: Model files the extractor loads, inside the wheel's ``models/`` folder.
MODEL_FILES: tuple[str, ...] = ("ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx")
#: sha256 of the model files of the wheel versions checked so far; other versions are
#: accepted with the digest they have (recorded in ``weights_id``), a known version whose
#: files differ is refused as a damaged install.
KNOWN_SHA256: dict[str, dict[str, str]] = {
    "1.4.4": {
        "ch_PP-OCRv4_det_infer.onnx": (
            "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
        ),
        "ch_PP-OCRv4_rec_infer.onnx": (
            "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"
        ),
    },
}


@dataclass(frozen=True)
class OcrBox:
    """One text line read in one frame.

    Attributes:
        text: the recognised characters, as the recogniser wrote them (not normalised).
        confidence: the recogniser's mean character probability, in [0, 1].
        char_confidences: the probability of each character of ``text`` (same length).
        box: the 4 corners ``(x1, y1, ..., x4, y4)`` in frame pixels, clockwise from top-left.
    """

    text: str
    confidence: float
    char_confidences: tuple[float, ...] = ()
    box: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        """Crafted boxes without per-character values get the box's confidence for each."""
        if len(self.char_confidences) != len(self.text):  # crafted boxes: one value for all
            object.__setattr__(self, "char_confidences", (float(self.confidence),) * len(self.text))


#: One frame's reading: its boxes in reading order (top to bottom, left to right).
OcrFrame = tuple[OcrBox, ...]


def encode_frame(boxes: Sequence[OcrBox]) -> torch.Tensor:
    """Pack a frame's boxes into a ``(MAX_BOXES, ROW_WIDTH)`` float32 tensor (empty rows: conf -1).

    Example:
        >>> decode_frame(encode_frame([OcrBox("北京", 0.9)]))[0].text
        '北京'
    """
    out = torch.zeros(MAX_BOXES, ROW_WIDTH, dtype=torch.float32)
    out[:, _CONF] = -1.0
    if len(boxes) > MAX_BOXES:  # keep the most confident, in their reading order
        keep = sorted(sorted(range(len(boxes)), key=lambda i: -boxes[i].confidence)[:MAX_BOXES])
        boxes = [boxes[i] for i in keep]
    for row, b in enumerate(boxes):
        text = b.text[:MAX_CHARS]
        out[row, _CONF] = float(b.confidence)
        out[row, _NCHARS] = len(text)
        if len(b.box) == 8:
            out[row, _BOX] = torch.tensor(b.box, dtype=torch.float32)
        if text:
            out[row, 10 : 10 + len(text)] = torch.tensor(
                [ord(c) for c in text], dtype=torch.float32
            )
            start = _CHAR_CONF.start
            out[row, start : start + len(text)] = torch.tensor(
                b.char_confidences[: len(text)], dtype=torch.float32
            )
    return out


def decode_frame(rows: torch.Tensor) -> OcrFrame:
    """Inverse of :func:`encode_frame` (characters past ``MAX_CHARS`` are gone)."""
    boxes = []
    for row in rows.tolist():
        if row[_CONF] < 0:
            continue
        n = int(round(row[_NCHARS]))
        text = "".join(chr(int(round(c))) for c in row[_CODES][:n])
        boxes.append(
            OcrBox(
                text,
                float(row[_CONF]),
                tuple(float(c) for c in row[_CHAR_CONF][:n]),
                tuple(float(v) for v in row[_BOX]),
            )
        )
    return tuple(boxes)


@cache
def model_digests() -> tuple[str, dict[str, str]]:
    """The installed rapidocr-onnxruntime version and the sha256 of its model files (hashed once).

    Raises:
        RuntimeError: a model file is missing, or differs from the digest known for this version.
    """
    import rapidocr_onnxruntime

    version = importlib.metadata.version("rapidocr-onnxruntime")
    folder = Path(rapidocr_onnxruntime.__file__).parent / "models"
    digests = {}
    for name in MODEL_FILES:
        path = folder / name
        if not path.is_file():
            raise RuntimeError(
                f"{path}: missing from rapidocr-onnxruntime {version}; reinstall it "
                f"(pip install --force-reinstall rapidocr-onnxruntime)"
            )
        digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        expected = KNOWN_SHA256.get(version, {}).get(name)
        if expected is not None and digests[name] != expected:
            raise RuntimeError(
                f"{path}: sha256 {digests[name][:12]} is not that of rapidocr-onnxruntime "
                f"{version} ({expected[:12]}); the install is damaged, reinstall it"
            )
    return version, digests


def weights_id() -> str:
    """``rapidocr-onnxruntime-<version>@<sha256[:12]>`` of the model files (det then rec)."""
    version, digests = model_digests()
    combined = hashlib.sha256(
        "".join(f"{n}:{digests[n]}\n" for n in MODEL_FILES).encode()
    ).hexdigest()
    return f"rapidocr-onnxruntime-{version}@{combined[:12]}"


def _det_preprocess(side_px: int) -> Any:
    """Rapidocr's detector preprocessing with a fixed longer side (up- or down-scaling)."""
    import cv2
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    class LongSidePreProcess(DetPreProcess):
        def resize(self, img: np.ndarray) -> np.ndarray:
            h, w = img.shape[:2]
            ratio = side_px / max(h, w)
            new_h = max(32, int(round(h * ratio / 32)) * 32)
            new_w = max(32, int(round(w * ratio / 32)) * 32)
            return cv2.resize(img, (new_w, new_h))

    return LongSidePreProcess(side_px, "max", [0.5, 0.5, 0.5], [0.5, 0.5, 0.5])


class RapidOcr(FeatureExtractor):
    """PP-OCRv4 (rapidocr-onnxruntime) text detection + recognition of each sampled frame.

    Items are the frames themselves, ``(n, H, W, 3)`` uint8 RGB; ``forward`` returns
    ``(n, MAX_BOXES, ROW_WIDTH)`` encoded readings; ``finalize`` returns one
    :data:`OcrFrame` per sampled frame.

    Args:
        options: device and weights options (``random_weights`` is ignored: OCR with random
            weights reads nothing, and the real ones ship in the wheel; ``weights_id`` says
            which were used).
        det_side_px: the detector's input longer side, in pixels.
        box_threshold: the detector's minimum mean text probability inside a box.
    """

    name = "rapidocr"
    batch_size = 8
    host_prepare = True  # onnxruntime reads NumPy arrays and moves them itself
    #: Chosen with bench/ocr_bench.py (measurements in its docstring): 320 px misses text
    #: 10 px high in a 320-px frame; 480 to 1280 px read the bench's blurred signs equally
    #: well (mean frame score 0.977-0.992) at 0.16, 0.22, 0.38, 0.63 CPU s per frame. 640 px
    #: keeps a 2x margin over the size that fails, at 0.22 CPU s per frame.
    DEFAULT_DET_SIDE_PX: ClassVar[int] = 640

    @classmethod
    def weights_identity(cls, options: ExtractorOptions) -> str | None:
        """The wheel's models, whatever ``--random-weights`` says (see ``__init__``)."""
        return weights_id()

    def __init__(
        self,
        options: ExtractorOptions,
        *,
        det_side_px: int | None = None,
        box_threshold: float = 0.5,
    ) -> None:
        """Load the wheel's models (hashed, checked) into onnxruntime sessions."""
        super().__init__(options)
        # OCR with random weights reads nothing, and the real weights need no download.
        if options.random_weights:
            log.info(
                "rapidocr: --random-weights ignored, the real PP-OCRv4 weights ship in the wheel"
            )
        import onnxruntime
        from rapidocr_onnxruntime import RapidOCR

        self.weights_id = weights_id()
        self.det_side_px = int(det_side_px or self.DEFAULT_DET_SIDE_PX)
        self.use_cuda = (
            options.device.type == "cuda"
            and "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        )
        if options.device.type == "cuda" and not self.use_cuda:
            log.warning(
                "rapidocr: onnxruntime has no CUDA provider (install onnxruntime-gpu); "
                "OCR runs on the CPU"
            )
        self.engine = RapidOCR(
            use_cls=False,
            print_verbose=False,
            det_use_cuda=self.use_cuda,
            rec_use_cuda=self.use_cuda,
            cls_use_cuda=self.use_cuda,
            det_box_thresh=box_threshold,
        )
        for attr in ("text_det", "text_rec", "get_crop_img_list", "sorted_boxes"):
            if not hasattr(self.engine, attr):
                raise RuntimeError(
                    f"rapidocr-onnxruntime {model_digests()[0]}: RapidOCR.{attr} not found; "
                    f"vbench-cn needs rapidocr-onnxruntime 1.3 or 1.4"
                )
        self._det_pre = _det_preprocess(self.det_side_px)

    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        """The frames themselves, on the host (OCR resizes per stage inside ``forward``)."""
        return frames.cpu().contiguous() if frames.shape[0] else None

    def to_device(self, batch: torch.Tensor) -> torch.Tensor:
        """Frames stay in host memory: onnxruntime takes numpy arrays and moves them itself."""
        return batch

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Read every frame of ``batch`` ``(B, H, W, 3)`` uint8 into ``(B, MAX_BOXES, ROW_WIDTH)``.

        Detection runs frame by frame; the text lines of all frames go through the
        recogniser together, in its batches.
        """
        frames = batch.cpu().numpy()
        per_frame_boxes: list[list[np.ndarray]] = []
        crops: list[np.ndarray] = []
        for frame in frames:
            bgr = np.ascontiguousarray(frame[:, :, ::-1])  # rapidocr's models take BGR like cv2
            boxes = self._detect(bgr)
            per_frame_boxes.append(boxes)
            if boxes:
                crops.extend(self.engine.get_crop_img_list(bgr, boxes))
        readings = self.engine.text_rec(crops, True)[0] if crops else []
        out = torch.empty(len(frames), MAX_BOXES, ROW_WIDTH, dtype=torch.float32)
        k = 0
        for i, boxes in enumerate(per_frame_boxes):
            frame_boxes = []
            for box in boxes:
                frame_boxes.append(_to_box(readings[k], box))
                k += 1
            out[i] = encode_frame([b for b in frame_boxes if b.text.strip()])
        return out

    def _detect(self, bgr: np.ndarray) -> list[np.ndarray]:
        """Text boxes of one BGR frame, in reading order, in frame coordinates."""
        det = self.engine.text_det
        h, w = bgr.shape[:2]
        preds = det.infer(self._det_pre(bgr))[0]
        boxes, _ = det.postprocess_op(preds, (h, w))
        boxes = det.filter_tag_det_res(boxes, (h, w))
        if boxes is None or len(boxes) == 0:
            return []
        return [np.asarray(b, dtype=np.float32) for b in self.engine.sorted_boxes(boxes)]

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> list[OcrFrame]:
        """One :data:`OcrFrame` per sampled frame, in frame order."""
        if outputs.numel() == 0:
            return []
        return [decode_frame(rows) for rows in outputs.reshape(-1, MAX_BOXES, ROW_WIDTH)]


def _to_box(reading: Any, box: np.ndarray) -> OcrBox:
    """An :class:`OcrBox` from rapidocr's ``(text, conf, [.., conf_list])`` and a detector box."""
    text, conf = str(reading[0]), float(reading[1])
    char_conf: tuple[float, ...] = ()
    if len(reading) > 2 and isinstance(reading[2], (list, tuple)) and reading[2]:
        values = reading[2][-1]
        if isinstance(values, (list, tuple)) and len(values) == len(text):
            char_conf = tuple(float(v) for v in values)
    return OcrBox(text, conf, char_conf, tuple(float(v) for v in np.asarray(box).reshape(-1)[:8]))
