"""Feature extractors ("backbones"): turn sampled frames into what scorers read.

An extractor declares how it prepares frames (``prepare``: decoded frames into model-ready
items), how a batch of items goes through its model (``forward``, in batches that mix
videos unless the extractor says otherwise), and how one video's outputs are assembled
(``finalize``, returning a tensor or a type of :mod:`vbench_cn.features.outputs`). The
runner owns decoding, batching, out-of-memory back-off and caching; an extractor never
opens a file.

The device contract (one code path on CPU and on an accelerator):

* ``prepare`` receives ``(n, H, W, 3)`` uint8 RGB frames **on the CPU or already on the
  extractor's device** (the runner may upload each decoded chunk once and share it between
  the video's extractors) and returns its items **on the device of those frames**. Float
  conversion, resizing, cropping, normalisation, pairs, triplets, clips and padding all run
  there, with constants made on that device (never a CPU tensor meeting a device one, never
  ``.numpy()`` of the input). Full-resolution float copies stay bounded by converting a few
  frames at a time (:func:`vbench_cn.features._transforms.in_frame_slices`).
* ``host_prepare = True`` marks the few extractors whose preparation is host code (OpenCV,
  NumPy, onnxruntime): the runner hands them CPU frames and they return CPU items; each says
  in a comment why its step stays on the CPU.
* ``forward`` receives a batch already on the device (:meth:`FeatureExtractor.to_device`
  moves host items, and leaves items that are there alone) and makes every tensor it needs
  on ``batch.device``: no host-built constant, no pageable host copy inside a forward.
  Values are read back only where the algorithm decides on them (OWLv2's box selection,
  Tag2Text's beam search).
* ``finalize`` and the scorers accept tensors on any device.
* ``batch_per_video = True`` asks the runner never to put items of two videos in one
  ``forward`` call, for models whose numbers depend on the batch (AMT's padded passes): a
  video's outputs then depend on its own items only, whatever the batch schedule.

``tests/pipeline/test_device_contract.py`` holds every registered extractor to this on the
``meta`` device (no GPU needed): a device mismatch or a host tensor inside the path fails.

Adding a backbone: one file, ``vbench_cn/features/<backbone>.py``, and one line here.

* The file holds the architecture (or builds it from a library, importing the library inside
  the builder), a :class:`~vbench_cn.weights.Weights` entry per checkpoint passed to
  :func:`~vbench_cn.weights.register_weights` at module level (builder, converter and
  random-init adjustment given directly), and the extractor class: ``name``, ``weights``
  (the checkpoint names, first one default), ``prepare`` / ``forward`` / ``finalize``, and
  ``self.model, self.weights_id = self.load()`` in ``__init__``.
* The line maps the extractor's name to its class in :data:`BUILTIN_EXTRACTORS`
  (``"name": "vbench_cn.features.<backbone>:<Class>"``), so that specs can name it and
  ``vbench-cn dimensions list`` imports no model code. That key and the class's ``name``
  are the two places the name is written; a test checks that they agree.

Scorers import from here; nothing here imports a scorer. Third-party extractors register
with :func:`register_extractor` or through the ``vbench_cn.extractors`` entry-point group
(``name = "package.module:Class"``); their checkpoints through ``vbench_cn.weights``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from vbench_cn.registry import Registry
from vbench_cn.video import VideoInfo
from vbench_cn.weights import WEIGHTS, load_model, weights_identity

if TYPE_CHECKING:
    from torch import nn


@dataclass
class ExtractorOptions:
    """How extractors are built: device, precision, where weights come from."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    random_weights: bool = False
    weights_dir: str | None = None
    weights_overrides: dict[str, str] = field(default_factory=dict)
    amp: bool = True  # autocast on CUDA only
    precision: str = "parity"  # vbench_cn.device_setup.PRECISIONS; the flags are process-wide
    seed: int = 0


class FeatureExtractor(ABC):
    """Base class of every backbone.

    Class attributes:
        name: registry key used by specs (``backbone = "..."``).
        overlap: frames of the previous chunk passed again with the next one (1 for
            extractors of consecutive pairs), so chunked decoding gives the same result.
        batch_size: items per forward pass on a GPU (scaled by free memory, halved on
            out-of-memory).
        cpu_batch_size: items per forward pass on CPU, where batching buys nothing and
            costs activation memory (measured: DINO, CLIP as fast at 8 as at 32).
        weights: weights-registry names this extractor loads; :meth:`load` defaults to the
            first.
        amp_ok: whether fp16 autocast may run ``forward`` on CUDA; False where the reference
            implementation runs the model in float32 and the scores move under fp16.
        decode_size: ``(width, height)`` the decoder scales frames to before ``prepare``
            (VBench reads some dimensions' frames through a resizing decoder), or None for
            frames at their native size.
        host_prepare: ``prepare`` is host code (OpenCV, NumPy, onnxruntime): it gets CPU
            frames and returns CPU items. False: it runs on the device its frames are on.
        batch_per_video: a ``forward`` call holds the items of one video only.
        text_langs: languages :meth:`encode_text` reads; None = the prompt's own language.
            For a Chinese prompt an English-only text tower is given the English twin of a
            bilingual metadata text (object names), never the Chinese text.
        max_aspect_ratio: the longest frame side it takes, in multiples of the shortest.
            An extractor that resizes the short side to a fixed size lets the long side,
            and with it memory and attention tokens, grow with the ratio: a 4000x16 video
            becomes 224x56,000 for DINO. None: any ratio (fixed-size or long-side resizes).
        min_side: the shortest frame side its architecture takes (downsampling stages).
    """

    name: ClassVar[str]
    overlap: ClassVar[int] = 0
    batch_size: ClassVar[int] = 32
    cpu_batch_size: ClassVar[int] = 8
    weights: ClassVar[tuple[str, ...]] = ()
    amp_ok: ClassVar[bool] = True
    decode_size: ClassVar[tuple[int, int] | None] = None
    host_prepare: ClassVar[bool] = False
    batch_per_video: ClassVar[bool] = False
    text_langs: ClassVar[tuple[str, ...] | None] = None
    max_aspect_ratio: ClassVar[float | None] = None
    min_side: ClassVar[int] = 1

    def __init__(self, options: ExtractorOptions) -> None:
        self.options = options
        self.device = options.device
        #: ``"name@sha256[:12]"`` of the loaded weights, ``"random"``, or None (no model).
        self.weights_id: str | None = None

    @classmethod
    def weights_identity(cls, options: ExtractorOptions) -> str | None:
        """What ``weights_id`` will be once built, without building: ``"random"``,
        ``"a@sha"`` (``"+"``-joined when it loads several), or None for a model-free
        extractor. Raises :class:`~vbench_cn.weights.WeightsError` when a checkpoint is
        missing or does not verify.
        """
        if not cls.weights:
            return None
        ids = [weights_identity(name, options) for name in cls.weights]
        return "random" if all(i == "random" for i in ids) else "+".join(ids)

    def load(self, name: str | None = None) -> tuple[nn.Module, str]:
        """Checkpoint ``name`` (default ``weights[0]``) built, verified and loaded, or seeded
        random under ``--random-weights``: ``(module in eval mode on the device, weights_id)``.
        """
        return load_model(name or self.weights[0], self.options)

    def input_problem(self, info: VideoInfo) -> str | None:
        """Why this extractor does not take this video's frames (a one-line reason), or None.

        The runner records the reason as "not applicable" for the dimensions it serves,
        instead of spending unbounded time and memory or failing inside the model.
        """
        width, height = self.decode_size or (info.width, info.height)  # what prepare gets
        short, long = sorted((width, height))
        if short < self.min_side:
            return (
                f"{self.name} needs frames of at least {self.min_side} px a side; "
                f"this video is {width}x{height}"
            )
        if self.max_aspect_ratio is not None and long > self.max_aspect_ratio * short:
            return (
                f"{self.name} takes frames up to {self.max_aspect_ratio:g}:1; this video is "
                f"{width}x{height} ({long / short:.0f}:1), resized it would explode"
            )
        return None

    @abstractmethod
    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        """Preprocessing of decoded frames into model-ready items, on the frames' device.

        Args:
            frames: ``(n, H, W, 3)`` uint8 RGB frames of one video (a chunk of the sampled
                frames, preceded by ``overlap`` frames of the previous chunk), on the CPU or
                on the extractor's device (on the CPU when ``host_prepare``).
            position: index, within this video's sampled frames, of ``frames[0]``.
            info: the video's probe.

        Returns:
            ``(items, ...)`` tensor on the device of ``frames``, or None when the chunk
            yields no item.
        """

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Run the model on a batch of items (already on the device); default: identity."""
        return batch

    def finalize(self, outputs: torch.Tensor, *, info: VideoInfo) -> Any:
        """Assemble one video's outputs ``(items, ...)`` into the scorer's input."""
        return outputs

    def encode_text(self, texts: Sequence[str], *, lang: str) -> torch.Tensor:
        """Embed texts (semantic dimensions); extractors without a text tower refuse."""
        raise NotImplementedError(f"extractor {self.name} has no text encoder")

    def to_device(self, batch: torch.Tensor) -> torch.Tensor:
        """The batch on the extractor's device: host items are copied (pinned and
        non-blocking to CUDA), items prepared on the device are returned as they are."""
        if batch.device == self.device:
            return batch
        if self.device.type == "cuda" and batch.device.type == "cpu":
            return batch.pin_memory().to(self.device, non_blocking=True)
        return batch.to(self.device)


#: Built-in extractors: name -> ``"module:Class"``, imported on first use.
BUILTIN_EXTRACTORS: dict[str, str] = {
    "frame_difference": "vbench_cn.features.pixels:FrameDifference",
    "video_metadata": "vbench_cn.features.pixels:VideoMetadata",
    "tiny_pixels": "vbench_cn.features.windows:TinyPixels",
    "tiny_pixel_changes": "vbench_cn.features.windows:ThumbnailChanges",
    "sharpness_noise": "vbench_cn.features.windows:SharpnessNoise",
    "dino_vitb16": "vbench_cn.features.dino:DinoExtractor",
    "clip_vitb32": "vbench_cn.features.clip:ClipViTB32",
    "clip_vitl14_aesthetic": "vbench_cn.features.clip:ClipViTL14Aesthetic",
    "raft_things": "vbench_cn.features.raft:RaftThings",
    "musiq_spaq": "vbench_cn.features.musiq:MusiqSpaq",
    "amt_s": "vbench_cn.features.amt:AMTInterpolationError",
    "rapidocr": "vbench_cn.features.ocr:RapidOcr",
    "owlv2_coco": "vbench_cn.features.detector:Owlv2Coco",
    "grit_b": "vbench_cn.features.grit:GritDetections",
    "grit_b_color": "vbench_cn.features.grit:GritDetectionsColor",
    "umt_l16_k400": "vbench_cn.features.umt:UMTK400",
    "clip_places365": "vbench_cn.features.scene:ClipPlaces365",
    "tag2text_swin14m": "vbench_cn.features.tag2text:Tag2TextCaptions",
    "viclip_l14": "vbench_cn.features.viclip:ViCLIPL14",
    "cnclip_vitb16": "vbench_cn.features.cnclip:CNClipViTB16",
    "cnclip_vitl14": "vbench_cn.features.cnclip:CNClipViTL14",
    "style_clip": "vbench_cn.features.cnclip:StyleClipRouter",
    "video_text": "vbench_cn.features.cnclip:VideoTextRouter",
    "i3d_fvd": "vbench_cn.features.i3d:I3DFeatures",
    "videomae_fvd": "vbench_cn.features.videomae:VideoMAEFeatures",
    "inception_fid": "vbench_cn.features.inception:InceptionFeatures",
}

#: Every extractor: a class (or factory) called with :class:`ExtractorOptions`.
EXTRACTORS: Registry[Callable[[ExtractorOptions], FeatureExtractor]] = Registry(
    "feature extractor", group="vbench_cn.extractors"
)
EXTRACTORS.lazy(BUILTIN_EXTRACTORS)
# Checkpoints are declared beside their architecture: a weights lookup imports these modules.
WEIGHTS.add_modules(sorted({target.partition(":")[0] for target in BUILTIN_EXTRACTORS.values()}))


def register_extractor(name: str) -> Callable[[type], type]:
    """Class decorator registering an extractor under ``name`` (plugins, tests)."""

    def deco(cls: type) -> type:
        EXTRACTORS.register(name, cls)
        return cls

    return deco


def list_extractors() -> list[str]:
    """Names of every known extractor (without importing model code)."""
    return EXTRACTORS.names()


def extractor_class(name: str) -> Callable[[ExtractorOptions], FeatureExtractor]:
    """The class registered as ``name`` (imports its module, builds nothing)."""
    return EXTRACTORS[name]


def build_extractor(name: str, options: ExtractorOptions) -> FeatureExtractor:
    """Instantiate an extractor by name (imports its module on first use)."""
    return EXTRACTORS[name](options)
