"""Feature extractors ("backbones"): turn sampled frames into what scorers read.

An extractor declares how it prepares frames (CPU transform into model-ready items), how
a batch of items goes through its model (``forward``, run on the device in batches that mix
videos), and how one video's outputs are assembled (``finalize``). The runner owns
decoding, batching, out-of-memory back-off and caching; an extractor never opens a file.

Extractors are registered by name with :func:`register_extractor`; modules are imported
lazily so that ``vbench-cn dimensions list`` does not build any model.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from vbench_cn._text import did_you_mean
from vbench_cn.video import VideoInfo


@dataclass
class ExtractorOptions:
    """How extractors are built: device, precision, where weights come from."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    random_weights: bool = False
    weights_dir: str | None = None
    weights_overrides: dict[str, str] = field(default_factory=dict)
    amp: bool = True  # autocast on CUDA only
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
        weights: weights-registry names this extractor loads (for ``weights list``).
    """

    name: ClassVar[str]
    overlap: ClassVar[int] = 0
    batch_size: ClassVar[int] = 32
    cpu_batch_size: ClassVar[int] = 8
    weights: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: ExtractorOptions) -> None:
        self.options = options
        self.device = options.device
        #: ``"name@sha256[:12]"`` of the loaded weights, ``"random"``, or None (no model).
        self.weights_id: str | None = None

    @abstractmethod
    def prepare(
        self, frames: torch.Tensor, *, position: int, info: VideoInfo
    ) -> torch.Tensor | None:
        """CPU preprocessing of decoded frames into model-ready items.

        Args:
            frames: ``(n, H, W, 3)`` uint8 RGB frames of one video (a chunk of the sampled
                frames, preceded by ``overlap`` frames of the previous chunk).
            position: index, within this video's sampled frames, of ``frames[0]``.
            info: the video's probe.

        Returns:
            ``(items, ...)`` tensor, or None when the chunk yields no item.
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
        """Move a CPU batch to the device (pinned, non-blocking on CUDA)."""
        if self.device.type == "cuda":
            return batch.pin_memory().to(self.device, non_blocking=True)
        return batch


_REGISTRY: dict[str, Callable[[ExtractorOptions], FeatureExtractor]] = {}

#: Modules that register built-in extractors when imported (lazy).
_BUILTIN_MODULES: dict[str, str] = {
    "frame_difference": "vbench_cn.features.pixels",
    "video_metadata": "vbench_cn.features.pixels",
}


def register_extractor(name: str, *, module: str | None = None) -> Callable[[type], type]:
    """Class decorator registering an extractor under ``name``."""

    def deco(cls: type) -> type:
        _REGISTRY[name] = cls  # type: ignore[assignment]
        return cls

    return deco


def add_builtin(name: str, module: str) -> None:
    """Declare that importing ``module`` registers extractor ``name`` (lazy import)."""
    _BUILTIN_MODULES[name] = module


def list_extractors() -> list[str]:
    """Names of every known extractor (without importing model code)."""
    return sorted(set(_BUILTIN_MODULES) | set(_REGISTRY))


def build_extractor(name: str, options: ExtractorOptions) -> FeatureExtractor:
    """Instantiate an extractor by name (imports its module on first use)."""
    if name not in _REGISTRY:
        if name not in _BUILTIN_MODULES:
            raise KeyError(
                f"unknown feature extractor {name!r}{did_you_mean(name, list_extractors())}"
            )
        importlib.import_module(_BUILTIN_MODULES[name])
    return _REGISTRY[name](options)


# Built-in extractors of other modules; each line maps a name to the module that registers it.
from vbench_cn.features import _builtins  # noqa: E402,F401  (declares the lazy names)
