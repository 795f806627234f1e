"""Outputs of the packages vbench-cn no longer depends on, on seeded weights: the reference side
of ``test_backbone_parity.py``.

pyiqa's ``MUSIQ(num_class=1)`` (the class VBench's imaging quality runs) and ``cn_clip``'s
Chinese-CLIP (two-layer towers, 64-d projection: the real block structure at test size).
Runs in any venv that has the package, normally ``.venv-parity`` (pyiqa 0.1.10, cn_clip 1.6.0
installed with ``--no-deps``); pure torch otherwise, so the inputs and the seeded weights
(``seeded.py``) are bit-identical in both venvs:

    .venv-parity/bin/python tests/parity/backbone_reference.py musiq cnclip \\
        --out tests/parity/fixtures/backbones-seed0.json     # refreeze the fixture
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seeded import seeded_state_dict  # noqa: E402

SEED = 0
#: MUSIQ inputs (B, 3, H, W) in 0..1: landscape, portrait batch of two, native side > 384,
#: a side < 32 (a single patch row at native resolution).
MUSIQ_SHAPES = ((1, 3, 90, 120), (2, 3, 200, 150), (1, 3, 288, 512), (1, 3, 24, 64))
#: Chinese-CLIP test size: cn_clip keyword arguments over the ViT-B-16 + RoBERTa-base configs.
CNCLIP_SMALL = {"embed_dim": 64, "vision_layers": 2, "text_num_hidden_layers": 2}
CNCLIP_TEXTS = (
    "一只红色的狐狸在雪地里奔跑",
    "a red fox runs through the SNOW",
    "混合 English 和 中文，标点！café",
)


def musiq_inputs() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(SEED)
    return [torch.rand(shape, generator=gen) for shape in MUSIQ_SHAPES]


def cnclip_images() -> torch.Tensor:
    """Two normalised 224x224 images (what ``cnclip_transform`` hands the model)."""
    return torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(SEED + 1))


def fp16_exact(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Round float tensors through float16, as the released Chinese-CLIP files hold them."""
    return {k: v.half().float() if v.is_floating_point() else v for k, v in state.items()}


def musiq_reference() -> list[list[float]]:
    from pyiqa.archs.musiq_arch import MUSIQ

    model = MUSIQ(num_class=1, pretrained=False).eval()
    model.load_state_dict(seeded_state_dict(SEED, model.state_dict(), backbone="musiq_spaq"))
    with torch.inference_mode():
        return [model(x).reshape(-1).tolist() for x in musiq_inputs()]


def cnclip_seeded_state(keys: list[list[Any]]) -> dict[str, torch.Tensor]:
    """The seeded small Chinese-CLIP from a ``[name, shape]`` manifest of ``cn_clip``'s tensors."""
    template = {name: torch.empty(shape, device="meta") for name, shape in keys}
    return fp16_exact(seeded_state_dict(SEED, template, backbone="cnclip"))


def _cn_clip_model() -> torch.nn.Module:
    import cn_clip.clip
    from cn_clip.clip.model import CLIP

    root = Path(cn_clip.clip.__file__).parent / "model_configs"
    cfg = json.loads((root / "ViT-B-16.json").read_text())
    cfg.update(json.loads((root / "RoBERTa-wwm-ext-base-chinese.json").read_text()))
    return CLIP(**{**cfg, **CNCLIP_SMALL}).eval()


def cnclip_reference() -> dict[str, object]:
    from cn_clip.clip import tokenize

    model = _cn_clip_model()
    keys = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    model.load_state_dict(cnclip_seeded_state(keys))
    tokens = tokenize(list(CNCLIP_TEXTS), context_length=52)
    with torch.inference_mode():
        return {
            "keys": keys,
            "tokens": tokens.tolist(),
            "image": model.encode_image(cnclip_images()).tolist(),
            "text": model.encode_text(tokens).tolist(),
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kinds", nargs="+", choices=("musiq", "cnclip"))
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out: dict[str, object] = {"seed": SEED, "torch": torch.__version__}
    if "musiq" in args.kinds:
        import pyiqa

        out["musiq"] = {"pyiqa": pyiqa.__version__, "mos": musiq_reference()}
    if "cnclip" in args.kinds:
        from importlib.metadata import version

        out["cnclip"] = {"cn_clip": version("cn_clip"), **cnclip_reference()}
    args.out.write_text(json.dumps(out) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
