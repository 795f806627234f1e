"""Our MUSIQ and Chinese-CLIP (transformers) against the packages they replace: pyiqa, cn_clip.

Same seeded weights and inputs on both sides (``backbone_reference.py``). By default ours are
compared with the frozen reference outputs in ``fixtures/backbones-seed0.json`` (pyiqa 0.1.10,
cn_clip 1.6.0), so CI checks parity without either package; ``pytest -m parity`` runs the
reference live in ``.venv-parity``. Tolerances: ``tolerances.toml`` (``backbone:*``).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import backbone_reference as ref
import pytest
import torch
from harness import load_tolerances

from vbench_cn import weights
from vbench_cn.features import ExtractorOptions
from vbench_cn.features.cnclip import build_cnclip, encode_image, encode_text, tokenize_chinese
from vbench_cn.features.musiq_arch import build_musiq

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "backbones-seed0.json"
PARITY_PYTHON = HERE.parents[1] / ".venv-parity" / "bin" / "python"


def _atol(entry: str) -> float:
    return float(load_tolerances()[f"backbone:{entry}"]["atol"])


def _ours_musiq() -> list[list[float]]:
    model = build_musiq().eval()
    model.load_state_dict(
        ref.seeded_state_dict(ref.SEED, model.state_dict(), backbone="musiq_spaq"), strict=True
    )
    with torch.inference_mode():
        return [model(x).reshape(-1).tolist() for x in ref.musiq_inputs()]


def _small_cnclip() -> torch.nn.Module:
    return build_cnclip(
        "ViT-B-16",
        text={"num_hidden_layers": 2},
        vision={"num_hidden_layers": 2},
        projection_dim=64,
    )


def _ours_cnclip(
    keys: list[list[Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """Read the seeded weights from a file in cn_clip's release layout, through the registry."""
    state = ref.cnclip_seeded_state(keys)
    path = tmp_path / "clip_cn_vit-b-16.pt"
    torch.save(
        {
            "epoch": 7,
            "step": 1000,
            "name": "train",
            "state_dict": {f"module.{k}": v.half() for k, v in state.items()},
        },
        path,
    )
    small = dataclasses.replace(weights.get_weights("cnclip_vitb16"), build=_small_cnclip)
    monkeypatch.setitem(weights.WEIGHTS, "cnclip_vitb16", small)
    options = ExtractorOptions(weights_overrides={"cnclip_vitb16": str(path)})
    model, _ = weights.load_model("cnclip_vitb16", options)
    tokens = tokenize_chinese(list(ref.CNCLIP_TEXTS))
    with torch.inference_mode():
        return {
            "tokens": tokens.tolist(),
            "image": encode_image(model, ref.cnclip_images()).tolist(),
            "text": encode_text(model, tokens).tolist(),
        }


def _max_diff(a: Any, b: Any) -> float:
    return float((torch.tensor(a) - torch.tensor(b)).abs().max())


def _check_musiq(reference: dict[str, Any]) -> None:
    ours = _ours_musiq()
    assert [len(x) for x in ours] == [len(x) for x in reference["mos"]]
    for got, want in zip(ours, reference["mos"], strict=True):
        assert _max_diff(got, want) <= _atol("musiq_spaq"), (got, want)


def _check_cnclip(reference: dict[str, Any], ours: dict[str, Any]) -> None:
    assert ours["tokens"] == reference["tokens"]
    assert _max_diff(ours["image"], reference["image"]) <= _atol("cnclip")
    assert _max_diff(ours["text"], reference["text"]) <= _atol("cnclip")


def test_musiq_matches_frozen_pyiqa() -> None:
    torch.set_num_threads(1)
    _check_musiq(json.loads(FIXTURE.read_text(encoding="utf-8"))["musiq"])


def test_cnclip_matches_frozen_cn_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = json.loads(FIXTURE.read_text(encoding="utf-8"))["cnclip"]
    _check_cnclip(reference, _ours_cnclip(reference["keys"], tmp_path, monkeypatch))


def test_frozen_outputs_are_not_degenerate() -> None:
    """Scores spread and embeddings differ per input, so a parity match means something."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    mos = [v for batch in data["musiq"]["mos"] for v in batch]
    assert max(mos) - min(mos) > 1.0
    image = torch.tensor(data["cnclip"]["image"])
    assert (image[0] - image[1]).abs().max() > 0.1


def _live(kind: str, tmp_path: Path) -> dict[str, Any]:
    python = PARITY_PYTHON if PARITY_PYTHON.exists() else Path(sys.executable)
    out = tmp_path / f"{kind}.json"
    proc = subprocess.run(
        [str(python), str(HERE / "backbone_reference.py"), kind, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.skip(f"reference for {kind} unavailable: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.read_text(encoding="utf-8"))[kind]


@pytest.mark.parity
def test_musiq_matches_live_pyiqa(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    _check_musiq(_live("musiq", tmp_path))


@pytest.mark.parity
def test_cnclip_matches_live_cn_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _live("cnclip", tmp_path)
    _check_cnclip(reference, _ours_cnclip(reference["keys"], tmp_path, monkeypatch))
