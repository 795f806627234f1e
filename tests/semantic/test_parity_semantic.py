"""Parity of ViCLIP and UMT with VBench's own modules (``vbench==0.1.5`` in ``.venv-parity``).

VBench's classes take their sizes as arguments, so reduced configurations of both sides are
built, our seeded random state dict is loaded into VBench's module (strictly), the same
inputs go through both, and outputs are compared in float32. The preprocessing is compared
too: VBench's ``clip_transform`` on a uint8 clip (ViCLIP) and the umt ``video_transforms``
(human action) against ours on the same frames. Marker ``parity``; skipped (with the
reason) when the parity venv is absent. Build it as tests/parity/README.md says.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from semantic._tiny import tiny_umt, tiny_viclip
from vbench_cn.weights import randomize_

PARITY_PY = Path(__file__).resolve().parents[2] / ".venv-parity" / "bin" / "python"

REFERENCE = textwrap.dedent("""
    import sys, torch, numpy as np
    from functools import partial
    from torch import nn
    torch.set_num_threads(1)
    d = torch.load(sys.argv[1], weights_only=True)
    out = {}
    from vbench.third_party.ViCLIP.viclip_vision import VisionTransformer as VV
    from vbench.third_party.ViCLIP.viclip_text import CLIP_TEXT
    vis = VV(input_resolution=224, patch_size=14, width=32, layers=1, heads=2, output_dim=32,
             kernel_size=1, num_frames=8).eval()
    txt = CLIP_TEXT(embed_dim=32, context_length=32, vocab_size=49408, transformer_width=32,
                    transformer_heads=2, transformer_layers=1, checkpoint_num=0).eval()
    sd = d["viclip"]
    def part(prefix):
        return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    vis.load_state_dict(part("vision_encoder."))
    txt.load_state_dict(part("text_encoder."))
    with torch.no_grad():
        out["viclip_video"] = vis(d["clip"].permute(0, 2, 1, 3, 4))
        out["viclip_text"] = txt(txt.tokenize(d["texts"], context_length=32))
    from vbench.third_party.umt.models.modeling_finetune import VisionTransformer as UV
    umt = UV(img_size=224, patch_size=16, embed_dim=32, depth=1, num_heads=2, mlp_ratio=4,
             qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6), num_classes=400,
             all_frames=16, tubelet_size=1, use_mean_pooling=True, init_scale=0.001).eval()
    missing, unexpected = umt.load_state_dict(d["umt"], strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    with torch.no_grad():
        out["umt_logits"] = umt(d["umt_clip"])
    from vbench.utils import clip_transform
    # uint8 (T, C, H, W)
    out["clip_transform"] = clip_transform(224)(d["frames"].permute(0, 3, 1, 2))
    from vbench.third_party.umt.datasets.video_transforms import (
        Compose, Resize, CenterCrop, Normalize)
    from vbench.third_party.umt.datasets.volume_transforms import ClipToTensor
    tf = Compose([Resize(256, interpolation="bilinear"), CenterCrop(size=(224, 224)),
                  ClipToTensor(),
                  Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    out["umt_transform"] = tf(d["frames"].numpy())  # (C, T, H, W)
    torch.save(out, sys.argv[2])
""")


@pytest.mark.parity
def test_viclip_and_umt_match_vbench_modules(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if "parity" not in (request.config.getoption("-m") or ""):
        pytest.skip("live VBench comparison (~2 min): run `pytest -m parity tests/semantic`")
    if not PARITY_PY.exists():
        pytest.skip(f"parity venv not found at {PARITY_PY} (see tests/parity/README.md)")
    from vbench_cn.features.umt import umt_transform
    from vbench_cn.features.viclip import clip_transform_uint8

    torch.manual_seed(0)
    viclip, umt = randomize_(tiny_viclip(), 1).eval(), randomize_(tiny_umt(), 2).eval()
    with torch.no_grad():  # a non-zero temporal embedding, so its placement is tested too
        viclip.vision_encoder.temporal_positional_embedding.normal_(0, 0.5)
    rng = np.random.default_rng(0)
    frames = torch.from_numpy(rng.integers(0, 256, (16, 180, 320, 3), dtype=np.uint8))
    texts = ["a red fox trots across a frost-covered meadow at dawn", "a cat"]
    clip = clip_transform_uint8(frames[:8])[None]
    umt_clip = umt_transform(frames)[None].permute(0, 2, 1, 3, 4)
    payload = {
        "viclip": viclip.state_dict(),
        "umt": umt.state_dict(),
        "clip": clip,
        "umt_clip": umt_clip,
        "frames": frames,
        "texts": texts,
    }
    torch.save(payload, tmp_path / "in.pt")
    script = tmp_path / "ref.py"
    script.write_text(REFERENCE)
    # VBench's tokenizer reads the CLIP BPE file from its cache dir (else wgets it): give it
    # open_clip's copy of the same file, offline.
    import os
    import shutil

    import open_clip.tokenizer

    cache = tmp_path / "vbench_cache"
    (cache / "ViCLIP").mkdir(parents=True)
    shutil.copy(
        open_clip.tokenizer.default_bpe(), cache / "ViCLIP" / "bpe_simple_vocab_16e6.txt.gz"
    )
    env = {**os.environ, "VBENCH_CACHE_DIR": str(cache)}
    proc = subprocess.run(
        [str(PARITY_PY), str(script), str(tmp_path / "in.pt"), str(tmp_path / "out.pt")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    ref = torch.load(tmp_path / "out.pt", weights_only=True)
    with torch.no_grad():
        ours_video = viclip.encode_video(clip)
        from open_clip.tokenizer import SimpleTokenizer

        ours_text = viclip.encode_text(SimpleTokenizer(context_length=32)(texts))
        ours_logits = umt(umt_clip)
    torch.testing.assert_close(ours_video, ref["viclip_video"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours_text, ref["viclip_text"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours_logits, ref["umt_logits"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        clip_transform_uint8(frames), ref["clip_transform"].float(), rtol=0, atol=1e-5
    )
    ours_umt_tf = umt_transform(frames).permute(1, 0, 2, 3)
    torch.testing.assert_close(ours_umt_tf, ref["umt_transform"].float(), rtol=0, atol=1e-5)
