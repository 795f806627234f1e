"""Every extractor and transform works on the device its input is on (checked on ``meta``).

This machine has no GPU, so the accelerator is stood in for by PyTorch's ``meta`` device:
tensors with a shape and no data. A CPU tensor meeting a meta one raises the same device
mismatch as one meeting a CUDA tensor, so an extractor whose ``prepare`` and ``forward``
run on meta frames would run on CUDA frames. On top of that, a dispatch mode records every
operation that touches a CPU tensor of one element or more while the extractor works on
meta inputs: a host-built constant or a host-to-device copy inside the path, which on a GPU
is a crash or a wait. (0-dim CPU tensors are PyTorch scalars and allowed on any device.)

The extractors are enumerated from the registry, so any new backbone is covered. They are
built on meta (architecture only, no random init); one whose constructor runs its model in a
way meta cannot (a value read inside the text tower) is built in the reduced configuration
of ``tests/semantic/_tiny.py`` on the CPU and moved to meta.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from tests.semantic._tiny import tiny_registry
from vbench_cn.features import EXTRACTORS as REGISTRY
from vbench_cn.features import (
    ExtractorOptions,
    FeatureExtractor,
    _transforms,
    build_extractor,
    list_extractors,
)
from vbench_cn.features.cnclip import LanguageRouter
from vbench_cn.video import VideoInfo
from vbench_cn.weights import get_weights

META = torch.device("meta")

#: Extractors whose forward or finalize stops on meta at a data-dependent step: why, and
#: whether host tensors may appear before it.
DATA_DEPENDENT: dict[str, tuple[str, bool]] = {
    "owlv2_coco": (
        "keeps boxes per image (nonzero, NMS) and finalize reads them into Detection objects",
        False,  # everything up to the box selection stays on the device
    ),
    "grit_b": (
        "keeps proposals and boxes per image (threshold, NMS) and decodes until every "
        "description has ended",
        False,  # backbone, pyramid and proposal head stay on the device
    ),
    "grit_b_color": ("as grit_b (only the downscale differs)", False),
    "tag2text_swin14m": (
        "tags pass through a host tokenizer and beam search reads every step's tokens",
        True,  # token ids are host lists by nature; one small upload per step
    ),
}

#: Messages of a device mismatch or of a copy of device data to the host.
MISMATCH = (
    "expected all tensors to be on the same device",
    "is not on the expected device",
    "found at least two devices",
    "cannot copy out of meta tensor",
    "can't convert meta device type tensor to numpy",
    "expected device",
)


def _is_meta_limit(exc: BaseException) -> bool:
    """A step meta cannot take because it needs values (``.item()``, data-dependent shapes)."""
    text = str(exc).lower()
    if any(m in text for m in MISMATCH):
        return False
    return (
        "cannot be called on meta tensors" in text
        or "data-dependent" in text
        or (isinstance(exc, NotImplementedError) and "meta" in text)
    )


class HostTensorWatch(TorchDispatchMode):
    """Records operations that read or make a CPU tensor with one element or more."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        flat, _ = tree_flatten((args, kwargs, out))
        if any(
            isinstance(t, torch.Tensor) and t.device.type == "cpu" and t.dim() > 0 for t in flat
        ):
            here = [f for f in traceback.extract_stack(limit=40) if "vbench_cn" in f.filename]
            where = f"{here[-1].filename.split('vbench_cn')[-1]}:{here[-1].lineno}" if here else "?"
            self.hits.append(f"{func} at vbench_cn{where}")
        return out


def _move(ext: FeatureExtractor, device: torch.device) -> FeatureExtractor:
    """Every module and tensor the extractor holds, moved to ``device``."""
    for key, value in list(vars(ext).items()):
        if isinstance(value, (torch.nn.Module, torch.Tensor)):
            setattr(ext, key, value.to(device))
    ext.device = device
    ext.options.device = device
    return ext


@contextmanager
def _architecture_on_meta(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def load(self: FeatureExtractor, name: str | None = None) -> tuple[Any, str]:
        with torch.device("meta"):
            module = get_weights(name or self.weights[0]).build()
        return module.eval(), "random"

    with monkeypatch.context() as mp:
        mp.setattr(FeatureExtractor, "load", load)
        yield


def meta_extractor(name: str, monkeypatch: pytest.MonkeyPatch) -> FeatureExtractor:
    """Extractor ``name`` with its model (and every tensor it holds) on the meta device."""
    options = ExtractorOptions(device=META, random_weights=True)
    try:
        with _architecture_on_meta(monkeypatch):
            return build_extractor(name, options)
    except Exception as exc:
        if not _is_meta_limit(exc):
            raise
    with tiny_registry():  # the constructor ran its model on values: build small, then move
        ext = build_extractor(name, ExtractorOptions(random_weights=True))
    return _move(ext, META)


def _info(frames: torch.Tensor) -> VideoInfo:
    n, h, w, _ = frames.shape
    return VideoInfo("meta.mp4", n, 8.0, n / 8.0, w, h, None, False, "decord")


def _check(step: str, name: str, run: Callable[[], Any], watch: bool) -> Any:
    """Run one step; fail on a device mismatch or a host tensor; None at a meta limit."""
    mode = HostTensorWatch()
    try:
        if watch:
            with mode:
                out = run()
        else:
            out = run()
    except Exception as exc:
        if not (_is_meta_limit(exc) and name in DATA_DEPENDENT):
            raise AssertionError(f"{name}.{step} on meta: {type(exc).__name__}: {exc}") from exc
        out = None
    host_ok = out is None and name in DATA_DEPENDENT and DATA_DEPENDENT[name][1]
    assert host_ok or not mode.hits, f"{name}.{step} touches host tensors: {sorted(set(mode.hits))}"
    return out


def _skip_reason(name: str) -> str | None:
    """Why ``name`` is not run here: a language router, or a toy another test registered."""
    factory = REGISTRY[name]
    if isinstance(factory, type) and issubclass(factory, LanguageRouter):
        return "a language router names another extractor and never runs itself"
    if getattr(factory, "__module__", "").startswith("tests."):
        return "a toy extractor registered by another test module"
    return None


#: Every registered name (built-in, entry points, and whatever the session registered).
EXTRACTORS = list_extractors()


@pytest.mark.parametrize("name", EXTRACTORS)
def test_prepare_and_forward_run_on_the_device_of_their_input(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = _skip_reason(name)
    if reason:
        pytest.skip(reason)
    ext = meta_extractor(name, monkeypatch)
    # 17 frames (UMT and I3D clips need 16), odd sizes (padding to 8 and 16), RAFT >= 128 px
    host = type(ext).host_prepare
    width, height = type(ext).decode_size or (250, 136)  # the size its decoder delivers
    frames = torch.zeros(17, height, width, 3, dtype=torch.uint8, device="cpu" if host else META)
    info = _info(frames)
    with torch.inference_mode():
        items = _check(
            "prepare", name, lambda: ext.prepare(frames, position=0, info=info), not host
        )
        if items is None:
            assert name in ("video_metadata",), f"{name} yields no item from 17 frames"
            return
        assert items.device == frames.device, f"{name}.prepare moved its items to {items.device}"
        batch = ext.to_device(items)
        on_host = batch.device.type == "cpu"  # extractors whose model runs on the host (OCR)
        assert on_host or batch.device == META
        out = _check("forward", name, lambda: ext.forward(batch), not on_host)
    if out is None:
        return
    assert out.device == batch.device, f"{name}.forward returned {out.device} for {batch.device}"
    _check("finalize", name, lambda: ext.finalize(out, info=info), not on_host)


def test_host_prepare_is_declared_only_where_prepare_is_host_code() -> None:
    declared = {
        n
        for n in EXTRACTORS
        if _skip_reason(n) is None and getattr(REGISTRY[n], "host_prepare", False)
    }
    assert declared == {
        "umt_l16_k400",
        "rapidocr",
        "tiny_pixels",
        "tiny_pixel_changes",
        "sharpness_noise",
    }


# --------------------------------------------------------------------------- transforms


TRANSFORMS = {
    "clip_transform": lambda f: _transforms.clip_transform(f),
    "dino_transform": lambda f: _transforms.dino_transform(f),
    "musiq_longer_transform": lambda f: _transforms.musiq_longer_transform(f),
    "pad_to_multiple": lambda f: _transforms.pad_to_multiple(_transforms.to_float_nchw(f), 8),
    "normalize": lambda f: _transforms.normalize(
        _transforms.to_float_nchw(f), _transforms.CLIP_MEAN, _transforms.CLIP_STD
    ),
}


def _extractor_transforms() -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    from vbench_cn.features.cnclip import cnclip_transform
    from vbench_cn.features.detector import owlv2_resize_pad
    from vbench_cn.features.i3d import resize_frames
    from vbench_cn.features.viclip import clip_transform_uint8

    return {
        "cnclip_transform": lambda f: cnclip_transform(f),
        "owlv2_resize_pad": lambda f: owlv2_resize_pad(f, 960),
        "resize_frames": lambda f: resize_frames(f, 224),
        "clip_transform_uint8": lambda f: clip_transform_uint8(f),
    }


@pytest.mark.parametrize("name", [*TRANSFORMS, *_extractor_transforms()])
def test_every_transform_runs_on_the_device_of_its_input(name: str) -> None:
    fn = {**TRANSFORMS, **_extractor_transforms()}[name]
    frames = torch.zeros(3, 300, 533, 3, dtype=torch.uint8, device=META)
    out = _check("transform", name, lambda: fn(frames), True)
    assert out.device == META


def test_the_check_fails_on_a_normalize_that_builds_its_constants_on_the_cpu() -> None:
    def cpu_constants(x: torch.Tensor, mean: Any, std: Any) -> torch.Tensor:
        m = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
        s = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
        return (x - m) / s

    x = torch.zeros(2, 3, 4, 4, device=META)
    with pytest.raises(AssertionError, match="is not on the expected device"):
        _check("normalize", "old", lambda: cpu_constants(x, (0.5,) * 3, (0.2,) * 3), True)


def test_the_check_fails_on_a_host_built_constant_copied_to_the_device() -> None:
    x = torch.zeros(2, 4, device=META)
    with pytest.raises(AssertionError, match="touches host tensors"):
        _check("grid", "old", lambda: x + torch.linspace(-1, 1, 4).to(x), True)


def test_to_device_leaves_device_items_alone_and_moves_host_items() -> None:
    ext = build_extractor("frame_difference", ExtractorOptions(device=META))
    on_meta = torch.zeros(3, 2, device=META)
    assert ext.to_device(on_meta) is on_meta
    assert ext.to_device(torch.zeros(3, 2)).device == META
    cpu = build_extractor("frame_difference", ExtractorOptions())
    host = torch.zeros(3, 2)
    assert cpu.to_device(host) is host
