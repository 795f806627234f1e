"""Before the first video: the device, every checkpoint, and what a record scored now holds.

A wrong ``--device`` or a missing checkpoint used to surface inside the run, as one error
record per video that a corrected re-run then kept. Here they fail once, before any work,
as a :class:`SetupError` whose one line says what to do; nothing is recorded.

:class:`Expectations` also says what each record scored by this run would hold (spec,
weights identity without loading the weights, random or real, precision, the decoder of
the frames, the prompt for dimensions that read it), which is what a resumed run compares
its records against (:func:`vbench_cn.inputs.changes`).
"""

from __future__ import annotations

import os
from typing import Any

import torch

from vbench_cn.features import ExtractorOptions, extractor_class
from vbench_cn.inputs import digest
from vbench_cn.manifest import VideoItem
from vbench_cn.scorers import get_scorer
from vbench_cn.specs import DimensionSpec
from vbench_cn.video_torchcodec import DEFAULT_DECODER
from vbench_cn.weights import WeightsError

#: Scorer arguments through which a dimension reads the prompt.
_PROMPT_CONTEXT = {"prompt", "text_features"}


class SetupError(RuntimeError):
    """The run cannot start (device, checkpoints, backbones); one line saying what to do."""


def resolve_device(name: str) -> torch.device:
    """The device ``--device`` names, checked: ``auto`` picks CUDA (this rank's GPU under
    torchrun) when present, else CPU.

    Raises:
        SetupError: an unknown device name, CUDA without a GPU, or a GPU index out of range.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device(
                "cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count()
            )
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise SetupError(
            f"--device {name}: not a device name; use auto, cpu, cuda or cuda:N"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SetupError(
                f"--device {name}: no CUDA device is available here; use --device cpu "
                "(or auto), or run where torch sees a GPU"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise SetupError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here "
                f"(cuda:0..cuda:{torch.cuda.device_count() - 1})"
            )
    elif device.type not in ("cpu", "mps"):
        raise SetupError(f"--device {name}: vbench-cn runs on cpu or cuda")
    return device


class Expectations:
    """What a record scored by this run would hold, per (spec, video, backbone).

    Weights identities are computed once per backbone, from the checkpoint files (sha256,
    cached by size and mtime), without building a model.
    """

    def __init__(self, options: ExtractorOptions, decoder: str = DEFAULT_DECODER) -> None:
        """``decoder``: what decodes the native-size frames (:func:`decoder_identity`)."""
        self.options = options
        self.decoder = decoder
        self._weights: dict[str, str | None] = {}

    def weights(self, backbone: str | None) -> str | None:
        """The ``weights`` a record of ``backbone`` will carry (None without a model).

        Raises:
            SetupError: the backbone is unknown, or a checkpoint is missing or does not verify.
        """
        if not backbone or backbone == "none":
            return None
        if backbone not in self._weights:
            try:
                factory = extractor_class(backbone)
                identify = getattr(factory, "weights_identity", None)
                self._weights[backbone] = identify(self.options) if identify else None
            except (KeyError, ImportError, WeightsError, RuntimeError, OSError) as exc:
                message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
                raise SetupError(f"backbone {backbone}: {message}") from None
        return self._weights[backbone]

    def precision(self, backbone: str | None) -> str:
        """``"fp16"`` where the backbone runs under CUDA autocast (``amp``), else ``"fp32"``;
        ``"+tf32"`` added on CUDA under ``--precision fast`` (TF32 matmuls, cudnn.benchmark)."""
        if self.options.device.type != "cuda" or not backbone:
            return "fp32"
        factory = extractor_class(backbone) if backbone != "none" else None
        half = self.options.amp and getattr(factory, "amp_ok", True)
        return ("fp16" if half else "fp32") + ("+tf32" if self.options.precision == "fast" else "")

    def expected(
        self, spec: DimensionSpec, item: VideoItem | None, backbone: str | None
    ) -> dict[str, Any]:
        """The fields of a record scored now that decide whether a stored one still holds."""
        inputs: dict[str, Any] = {"precision": self.precision(backbone)}
        if reads_native_frames(spec, backbone):
            inputs["decoder"] = self.decoder
        if item is not None and reads_prompt(spec):
            p = item.prompt
            inputs["prompt"] = digest(None if p is None else [p.id, p.text, p.lang, dict(p.meta)])
        expected: dict[str, Any] = {
            "spec_sha256": spec.sha256,
            "weights": self.weights(backbone),
            "random_weights": self.options.random_weights,
            "inputs": inputs,
        }
        if item is not None:
            expected.update(
                prompt_id=item.prompt_id,
                prompt_lang=item.prompt.lang if item.prompt else None,
                sample=item.sample,
            )
        return expected


def reads_native_frames(spec: DimensionSpec, backbone: str | None) -> bool:
    """Whether a dimension's score depends on the decoder's native-size pixels: it samples
    frames, and its backbone reads them unscaled (a decoder-scaled view comes from PyAV
    whatever ``--decoder`` says, :mod:`vbench_cn.video_torchcodec`)."""
    if spec.sampling.kind == "none" or not backbone or backbone == "none":
        return False
    try:
        return getattr(extractor_class(backbone), "decode_size", None) is None
    except (KeyError, ImportError):  # an unknown backbone: reported when it is built
        return True


def reads_prompt(spec: DimensionSpec) -> bool:
    """Whether a dimension's score depends on the prompt text or its metadata."""
    return bool(spec.text) or bool(_PROMPT_CONTEXT & set(get_scorer(spec.scorer).context))
