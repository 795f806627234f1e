"""Dump the tensor names, shapes and dtypes of every checkpoint VBench loads, from its own models.

Runs INSIDE ``.venv-parity``. The output (``fixtures/checkpoint_keys.json``) lets the project
venv write seeded checkpoints in the official layouts without VBench installed:

    .venv-parity/bin/python tests/parity/reference_keys.py --dino-repo <dino checkout> \\
        --out tests/parity/fixtures/checkpoint_keys.json

Names are those of the official files: DINO's flat ``vision_transformer`` state dict, OpenAI
CLIP's (as ``clip.model.build_model`` reads it), princeton-vl RAFT's with the ``module.``
prefix (including the ``norm3`` aliases of ``downsample.1``), pyiqa MUSIQ's, the LAION
linear head's and AMT-S's.

GRiT (object class, multiple objects, colour, spatial relationship) needs detectron2 in the
parity venv (``tests/parity/README.md``) and goes to its own file:

    .venv-parity/bin/python tests/parity/reference_keys.py --grit \
        --out tests/parity/fixtures/checkpoint_keys_grit.json

Its names are those of VBench's model built from ``GRiT_B_DenseCap_ObjectDet.yaml`` without
``roi_heads.text_decoder_det.*``: VBench adds that second name for the one shared text
decoder, which the released file (saved by GRiT's own code) does not hold.
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


def grit_state() -> dict[str, torch.Tensor]:
    """VBench's GRiT-B as ``init_demo`` configures it, without VBench's decoder alias."""
    from detectron2.modeling import build_model
    from vbench.third_party.grit_src.image_dense_captions import get_parser, setup_cfg

    cfg = setup_cfg(get_parser(torch.device("cpu"), model_weight="unused.pth"))
    state = build_model(cfg).state_dict()
    return {k: v for k, v in state.items() if not k.startswith("roi_heads.text_decoder_det.")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dino-repo", type=Path, help="checkout of facebookresearch/dino")
    p.add_argument("--grit", action="store_true", help="dump GRiT only (needs detectron2)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    if args.grit:
        states = {"grit_b_densecap_objectdet": grit_state()}
    elif args.dino_repo is None:
        p.error("--dino-repo is required (or --grit)")
    else:
        states = models(args.dino_repo)
    manifest = {name: _manifest(state) for name, state in states.items()}
    args.out.write_text(json.dumps(manifest, separators=(",", ":")) + "\n", encoding="utf-8")
    print({k: len(v) for k, v in manifest.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
