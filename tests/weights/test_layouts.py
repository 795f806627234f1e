"""Each real checkpoint layout, rebuilt in a small file, read safely through the registry.

The layouts are those the projects' own loading and saving code implies (docs/weights.md):
training dicts with an ``argparse.Namespace`` and numpy scalars beside the weights
(VideoMAE-v2, ViCLIP), ``OrderedDict(epoch, state_dict, optim)`` (AMT), fp16 tensors, and
state dicts nested under ``model``/``module``/``state_dict`` or prefixed ``module.``. Each
entry's real ``convert`` runs; the architecture is swapped for a small one of the same
key names. Objects outside an entry's allow-list are refused.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from vbench_cn import weights as W
from vbench_cn.features import ExtractorOptions


class _Tiny(nn.Module):
    """Two tensors under names the real checkpoints use (``blocks.0.*``, ``head.*``)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(4, 4)])
        self.head = nn.Linear(4, 2)


def _state(dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {k: v.to(dtype) for k, v in _Tiny().state_dict().items()}


def _load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, obj: object
) -> tuple[nn.Module, str]:
    """Save ``obj`` as ``name``'s file and load it with the entry's convert and allow-list."""
    entry = dataclasses.replace(W.get_weights(name), build=_Tiny)
    monkeypatch.setitem(W.WEIGHTS, name, entry)
    path = tmp_path / f"{name}.pth"
    torch.save(obj, path)
    return W.load_model(name, ExtractorOptions(weights_overrides={name: str(path)}))


def _training_dict(state: dict[str, torch.Tensor], key: str) -> dict[str, object]:
    """What VideoMAE-v2's ``save_model`` writes: weights, optimizer, epoch, scaler, args."""
    opt = torch.optim.AdamW(nn.Linear(2, 2).parameters())
    return {
        key: state,
        "optimizer": opt.state_dict(),
        "epoch": 39,
        "scaler": {"scale": 65536.0, "growth_factor": 2.0},
        "args": argparse.Namespace(model="vit_giant_patch14_224", nb_classes=174, lr=1e-3),
        "max_accuracy": np.float64(0.7112),
        "step": np.int64(123456),
    }


@pytest.mark.parametrize("key", ["model", "module"])
def test_videomae_training_dict_with_namespace_and_numpy_scalars(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str
) -> None:
    state = _state()
    model, wid = _load(monkeypatch, tmp_path, "videomaev2_vitg_ssv2", _training_dict(state, key))
    assert wid.startswith("videomaev2_vitg_ssv2@")
    assert torch.equal(model.state_dict()["head.weight"], state["head.weight"])


def test_viclip_fp16_model_dict_with_numpy_counters(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state = _state(torch.float16)
    obj = {"model": state, "epoch": np.int64(9), "global_step": np.int64(4000)}
    model, _ = _load(monkeypatch, tmp_path, "viclip_l14", obj)
    got = model.state_dict()["blocks.0.weight"]
    assert got.dtype == torch.float32 and torch.equal(got, state["blocks.0.weight"].float())


def test_amt_ordered_dict_with_optimizer_state(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state = _state()
    layer = nn.Linear(2, 2)
    opt = torch.optim.AdamW(layer.parameters())
    layer(torch.ones(1, 2)).sum().backward()
    opt.step()  # optimizer state now holds exp_avg tensors and a step counter
    obj = OrderedDict(epoch=299, state_dict=state, optim=opt.state_dict())
    model, _ = _load(monkeypatch, tmp_path, "amt_s", obj)
    assert torch.equal(model.state_dict()["head.bias"], state["head.bias"])


@pytest.mark.parametrize(
    ("name", "wrap"),
    [
        ("dino_vitb16", lambda sd: sd),  # torch.hub's flat state dict
        ("musiq_spaq", lambda sd: {f"module.{k}": v for k, v in sd.items()}),  # DataParallel
        ("musiq_spaq", lambda sd: {"params": sd}),  # basicsr-style nesting
        ("i3d_kinetics400", lambda sd: {"state_dict": sd}),
        ("inception_v3_fid", lambda sd: sd),  # pytorch-fid's release: flat, torchvision names
    ],
)
def test_plain_and_nested_state_dicts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, wrap: object
) -> None:
    state = _state()
    model, _ = _load(monkeypatch, tmp_path, name, wrap(state))  # type: ignore[operator]
    assert torch.equal(model.state_dict()["head.weight"], state["head.weight"])


def test_an_entry_without_the_allow_list_refuses_a_namespace(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """DINO's file is a plain state dict: a Namespace in it is not expected, so it is refused."""
    obj = {"model": _state(), "args": argparse.Namespace(lr=1.0)}
    with pytest.raises(
        W.WeightsError, match="pickles argparse.Namespace, which dino_vitb16 does not allow"
    ):
        _load(monkeypatch, tmp_path, "dino_vitb16", obj)


class _Payload:
    """Runs a shell command when unpickled (the attack ``weights_only`` exists to stop)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("echo pwned > /dev/null",))


def test_code_in_a_checkpoint_is_refused_even_with_an_allow_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    obj = {"model": _state(), "args": argparse.Namespace(lr=1.0), "hook": _Payload()}
    entry = dataclasses.replace(W.get_weights("videomaev2_vitg_ssv2"), build=_Tiny)
    monkeypatch.setitem(W.WEIGHTS, entry.name, entry)
    path = tmp_path / "evil.pth"
    torch.save(obj, path)
    with pytest.raises(W.WeightsError, match="pickles posix.system, which .* does not allow"):
        W.load_model(entry.name, ExtractorOptions(weights_overrides={entry.name: str(path)}))


def test_the_laion_head_layout_is_the_released_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """LAION's file (its git blob): an OrderedDict of fp32 ``weight (1, 768)`` and ``bias (1,)``."""
    head = nn.Linear(768, 1)
    path = tmp_path / "sa_0_4_vit_l_14_linear.pth"
    torch.save(OrderedDict(head.state_dict()), path)
    options = ExtractorOptions(weights_overrides={"laion_aesthetic_head": str(path)})
    model, _ = W.load_model("laion_aesthetic_head", options)
    assert torch.equal(model.state_dict()["weight"], head.weight.detach())
