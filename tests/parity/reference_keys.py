"""Dump the tensor names, shapes and dtypes of every checkpoint VBench loads, from its own models.

Runs INSIDE ``.venv-parity``. The output (``fixtures/checkpoint_keys.json``) lets the project
venv write seeded checkpoints in the official layouts without VBench installed:

    .venv-parity/bin/python tests/parity/reference_keys.py --dino-repo <dino checkout> \\
        --out tests/parity/fixtures/checkpoint_keys.json

Names are those of the official files: DINO's flat ``vision_transformer`` state dict, OpenAI
CLIP's (as ``clip.model.build_model`` reads it), princeton-vl RAFT's with the ``module.``
prefix (including the ``norm3`` aliases of ``downsample.1``), pyiqa MUSIQ's, the LAION
linear head's and AMT-S's.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import torch
from torch import nn

#: clip.model.CLIP(embed_dim, image_resolution, vision_layers, vision_width, vision_patch_size,
#: context_length, vocab_size, transformer_width, transformer_heads, transformer_layers)
CLIP_CONFIGS = {
    "clip_vitb32": (512, 224, 12, 768, 32, 77, 49408, 512, 8, 12),
    "clip_vitl14": (768, 224, 24, 1024, 14, 77, 49408, 768, 12, 12),
}


def _manifest(state: dict[str, torch.Tensor]) -> list[list[object]]:
    return [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in state.items()]


def models(dino_repo: Path) -> dict[str, dict[str, torch.Tensor]]:
    from clip.model import CLIP

    sys.path.insert(0, str(dino_repo))
    import vision_transformer as dino_vits
    from easydict import EasyDict
    from pyiqa.archs.musiq_arch import MUSIQ
    from vbench.third_party.RAFT.core.raft import RAFT

    amt = importlib.import_module("vbench.third_party.amt.networks.AMT-S").Model(
        corr_radius=3, corr_lvls=4, num_flows=3
    )
    raft = nn.DataParallel(RAFT(EasyDict(small=False, mixed_precision=False, alternate_corr=False)))
    out = {
        "dino_vitb16": dino_vits.vit_base(patch_size=16, num_classes=0).state_dict(),
        "laion_aesthetic_head": nn.Linear(768, 1).state_dict(),
        "raft_things": raft.state_dict(),
        "musiq_spaq": MUSIQ(num_class=1, pretrained=False).state_dict(),
        "amt_s": amt.state_dict(),
    }
    for name, cfg in CLIP_CONFIGS.items():
        out[name] = CLIP(*cfg).state_dict()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--dino-repo", type=Path, required=True, help="checkout of facebookresearch/dino"
    )
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    manifest = {name: _manifest(state) for name, state in models(args.dino_repo).items()}
    args.out.write_text(json.dumps(manifest, separators=(",", ":")) + "\n", encoding="utf-8")
    print({k: len(v) for k, v in manifest.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
