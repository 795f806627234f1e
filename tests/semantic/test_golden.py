"""Golden outputs of the seeded random-weight (reduced) semantic backbones.

Without real checkpoints these catch a changed architecture, transform or tokenizer.
Regenerate on purpose only: ``VBENCH_CN_ACCEPT=1 pytest tests/semantic/test_golden.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from semantic._tiny import tiny_registry
from vbench_cn.features import ExtractorOptions, build_extractor
from vbench_cn.video import VideoInfo

EXPECT = Path(__file__).parent / "expect" / "semantic_tiny.json"
TEXTS = {
    "en": "A red fox trots across a frost-covered meadow at dawn.",
    "zh": "黎明时分，一只赤狐小跑着穿过结满白霜的草地。",
}


def _outputs() -> dict[str, list[float]]:
    rng = np.random.default_rng(0)
    frames = torch.from_numpy(rng.integers(0, 256, (16, 60, 80, 3), dtype=np.uint8))
    info = VideoInfo(
        path="golden.mp4",
        num_frames=16,
        fps=8.0,
        duration_seconds=2.0,
        width=80,
        height=60,
        codec=None,
        variable_frame_rate=False,
        backend="pyav",
    )
    out: dict[str, list[float]] = {}
    with tiny_registry(), torch.inference_mode():
        opts = ExtractorOptions(random_weights=True)
        for name, n, lang in (
            ("viclip_l14", 8, "en"),
            ("cnclip_vitl14", 8, "zh"),
            ("umt_l16_k400", 16, None),
        ):
            ext = build_extractor(name, opts)
            feats = ext.forward(ext.prepare(frames[:n], position=0, info=info))
            out[name] = [round(float(v), 6) for v in feats.reshape(-1)[:64]]
            if lang:
                out[f"{name}.text"] = [
                    round(float(v), 6)
                    for v in ext.encode_text([TEXTS[lang]], lang=lang).reshape(-1)
                ]
    return out


def test_seeded_random_backbones_match_their_golden_outputs() -> None:
    got = _outputs()
    if os.environ.get("VBENCH_CN_ACCEPT") == "1":
        EXPECT.parent.mkdir(exist_ok=True)
        EXPECT.write_text(json.dumps(got, indent=0) + "\n", encoding="utf-8")
    expect = json.loads(EXPECT.read_text(encoding="utf-8"))
    assert set(got) == set(expect)
    for key, values in expect.items():
        np.testing.assert_allclose(got[key], values, atol=2e-4, rtol=1e-3, err_msg=key)
