"""Seeded random checkpoints that both venvs (ours and the VBench reference) recreate bit for bit.

Every tensor of a checkpoint is drawn from its own generator, seeded from the run seed and
the tensor's *name in the official checkpoint* (CRC32), so the values depend neither on the
order modules are built in nor on which implementation builds them. Both sides run torch
2.14.1, whose CPU normal generator is deterministic. Pure torch and stdlib: this file is
imported by ``reference_runner.py`` inside ``.venv-parity`` too.

Every constant of the real initialisation (norm weights and biases, zero biases, PReLU
slopes) gets seeded noise as well, so an implementation that drops a bias or a norm cannot
match by accident (``docs/vbench-offline.md``).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping

import torch

#: Per-backbone multipliers on the default draw, by key prefix (longest prefix wins). They keep
#: random networks in a realistic regime so the parity comparison stays sensitive: a saturated
#: output (all 0 or 255 after AMT's clamp) would hide differences.
SCALES: dict[str, dict[str, float]] = {
    "amt_s": {
        # last layers of the multi-field decoder (flow deltas, masks, RGB residuals) and the
        # combination block: small, so the prediction is a blend of warped inputs near the
        # real frames instead of a clamped random image.
        "decoder1.convblock.2.": 0.05,
        "comb_block.2.": 0.05,
        "decoder4.convblock.2.": 0.2,
        "decoder3.convblock.2.": 0.2,
        "decoder2.convblock.2.": 0.2,
        "update4.flow_head.2.": 0.1,
        "update3.flow_head.2.": 0.1,
        "update2.flow_head.2.": 0.1,
    },
    # RAFT: with these draws random flow is ~100 px everywhere and every clip would be "dynamic";
    # x0.025 on the last flow layer puts the top-5% magnitudes near the 3 px threshold of 128 px
    # clips, so some harness clips are dynamic and some are not (dynamic degree is a boolean).
    "raft_things": {"module.update_block.flow_head.conv2.": 0.025},
    # heads on normalised features: spread the outputs so score differences are not hidden
    "musiq_spaq": {"head.": 20.0},
    "laion_aesthetic_head": {"": 30.0},
    # Tag2Text's per-class tag head: logits ~ N(-2, 1.5²) on LayerNorm'd features, so a few
    # percent of the 3429 tags pass sigmoid > 0.7 (the default draw gives ~0: no tag at all)
    # and its LM head (tied to the decoder's word embeddings): x3 spreads the logits by ~3, so the
    # favoured words (harness_scene.py) compete and captions vary with the frame
    "tag2text_swin_14m": {"fc.W": 88.0, "text_decoder.cls.predictions.decoder.weight": 3.0},
    # GRiT (more in grit_seeded.py): CenterNet's box distances spread over a few cells, and the
    # cascade's box classifiers decisive, so a few proposals a frame pass 0.5 and most do not
    "grit_b_densecap_objectdet": {
        "proposal_generator.centernet_head.bbox_pred.": 10.0,
        "roi_heads.box_predictor.0.cls_score.": 4.0,
        "roi_heads.box_predictor.1.cls_score.": 4.0,
        "roi_heads.box_predictor.2.cls_score.": 4.0,
        # word embeddings (= the tied output projection): a token's likeness to itself dominates,
        # so the no-repeat rule decides what follows it (grit_seeded.END_LINK)
        "roi_heads.text_decoder.textual.embedding.words.": 4.0,
        # small residual branches: the token and its position carry through the six layers
        "roi_heads.text_decoder.textual.transformer.encoder.layer.0.attention.output.dense.": 0.3,
        "roi_heads.text_decoder.textual.transformer.encoder.layer.0.output.dense.": 0.3,
        "roi_heads.text_decoder.textual.transformer.encoder.layer.1.attention.output.dense.": 0.3,
        "roi_heads.text_decoder.textual.transformer.encoder.layer.1.output.dense.": 0.3,
        "roi_heads.text_decoder.textual.transformer.encoder.layer.2.attention.output.dense.": 0.3,
        "roi_heads.text_decoder.textual.transformer.encoder.layer.2.output.dense.": 0.3,
        "roi_heads.text_decoder.textual.transformer.encoder.layer.3.attention.output.dense.": 0.3,
        "roi_heads.text_decoder.textual.transformer.encoder.layer.3.output.dense.": 0.3,
        "roi_heads.text_decoder.textual.transformer.encoder.layer.4.attention.output.dense.": 0.3,
        "roi_heads.text_decoder.textual.transformer.encoder.layer.4.output.dense.": 0.3,
        "roi_heads.text_decoder.textual.transformer.encoder.layer.5.attention.output.dense.": 0.3,
        "roi_heads.text_decoder.textual.transformer.encoder.layer.5.output.dense.": 0.3,
    },
}

#: Constants added after scaling, by exact tensor name: realistic output levels (a MUSIQ MOS
#: near 50 of 100, a LAION aesthetic score near 5 of 10, i.e. 0.5 after VBench's /10).
OFFSETS: dict[str, dict[str, float]] = {
    "musiq_spaq": {"head.bias": 50.0},
    "laion_aesthetic_head": {"bias": 5.0},
    "tag2text_swin_14m": {"fc.b": -2.0},
    # CenterNet distances of a few cells (its real initial bias is 8), a confident heat map
    "grit_b_densecap_objectdet": {
        "proposal_generator.centernet_head.bbox_pred.bias": 5.0,
        "proposal_generator.centernet_head.agn_hm.bias": 0.5,
    },
}


def _seed_for(seed: int, name: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(name.encode("utf-8"))) % (2**63 - 1)


def _scale_for(backbone: str, name: str) -> float:
    best, factor = -1, 1.0
    for prefix, value in SCALES.get(backbone, {}).items():
        if name.startswith(prefix) and len(prefix) > best:
            best, factor = len(prefix), value
    return factor


def seeded_tensor(
    seed: int,
    name: str,
    shape: Iterable[int],
    dtype: torch.dtype = torch.float32,
    *,
    backbone: str = "",
) -> torch.Tensor:
    """The tensor ``name`` of a seeded random checkpoint.

    Weights of rank >= 2 are ``N(0, 1/fan_in)``; vectors are ``N(0, 0.1²)`` except slopes
    and norm scales (names ending in ``.weight`` with rank 1), drawn around 1 (norms) or
    0.25 (PReLU, detected by the caller's name containing ``prelu`` or a known PReLU path).

    Args:
        seed: run seed.
        name: the tensor's key in the official checkpoint.
        shape: its shape.
        dtype: its dtype (integers, e.g. BatchNorm's ``num_batches_tracked``, get zeros).
        backbone: key of :data:`SCALES` to apply.
    """
    shape = tuple(int(s) for s in shape)
    if not dtype.is_floating_point:
        return torch.zeros(shape, dtype=dtype)
    gen = torch.Generator().manual_seed(_seed_for(seed, name))
    noise = torch.randn(shape, generator=gen, dtype=torch.float32)
    if len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        value = noise / math.sqrt(max(1, fan_in))
    elif name.endswith("running_var"):
        value = 1.0 + 0.1 * noise.abs()
    elif name.endswith(".weight") and _is_slope(name):
        value = 0.25 + 0.05 * noise
    elif name.endswith(".weight"):
        value = 1.0 + 0.1 * noise
    else:
        value = 0.1 * noise
    value = value * _scale_for(backbone, name) + OFFSETS.get(backbone, {}).get(name, 0.0)
    return value.to(dtype)


def _is_slope(name: str) -> bool:
    """PReLU slopes in AMT.

    ``...<n>.1.weight`` of conv+PReLU pairs, ``prelu.weight`` and ``comb_block.1.weight``.
    """
    parts = name.split(".")
    return (
        "prelu" in parts
        or name.startswith("comb_block.1.")
        or (len(parts) >= 2 and parts[-2] == "1" and name.startswith(("encoder.", "decoder")))
    )


def seeded_state_dict(
    seed: int, template: Mapping[str, torch.Tensor], *, backbone: str = ""
) -> dict[str, torch.Tensor]:
    """A seeded checkpoint with the keys, shapes and dtypes of ``template``."""
    return {
        k: seeded_tensor(seed, k, v.shape, v.dtype, backbone=backbone) for k, v in template.items()
    }
