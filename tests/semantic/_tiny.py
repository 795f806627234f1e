"""Reduced configurations of the semantic backbones' real classes, for fast CPU tests.

Each builder keeps what the pipeline depends on (input size and frame count, vocabularies,
number of classes) and shrinks width and depth. :func:`tiny_registry` swaps them into the
weights registry for the duration of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import pytest
from torch import nn


def tiny_viclip() -> nn.Module:
    from vbench_cn.features.viclip_arch import ViCLIP, ViCLIPConfig

    return ViCLIP(
        ViCLIPConfig(
            vision_width=32,
            vision_layers=1,
            vision_heads=2,
            embed_dim=32,
            text_width=32,
            text_layers=1,
            text_heads=2,
        )
    )


def tiny_umt() -> nn.Module:
    from vbench_cn.features.umt_arch import UMTClassifier, UMTConfig

    return UMTClassifier(UMTConfig(dim=32, depth=1, heads=2))


def tiny_owlv2() -> nn.Module:
    from transformers import Owlv2Config

    from vbench_cn.features.detector import build_owlv2

    small = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
    }
    cfg = Owlv2Config(
        text_config={**small, "max_position_embeddings": 16},
        vision_config={**small, "image_size": 96, "patch_size": 16},
        projection_dim=32,
    )
    return build_owlv2(cfg)


def tiny_cnclip() -> nn.Module:
    from vbench_cn.features.cnclip import build_cnclip

    return build_cnclip(
        "ViT-B-16",
        text={
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
        },
        vision={
            "hidden_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 128,
        },
        projection_dim=32,
    )


def tiny_openai_clip() -> nn.Module:
    import open_clip

    return open_clip.model.CLIP(
        embed_dim=32,
        vision_cfg={
            "image_size": 224,
            "layers": 1,
            "width": 64,
            "patch_size": 32,
            "head_width": 32,
        },
        text_cfg={"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
        quick_gelu=True,
    )


def tiny_tag2text() -> nn.Module:
    from vbench_cn.features.tag2text_arch import Tag2Text, Tag2TextConfig

    return Tag2Text(
        Tag2TextConfig(
            embed_dim=8,
            depths=(2, 2, 2, 2),
            num_heads=(1, 1, 2, 2),
            hidden_size=48,
            text_layers=1,
            intermediate_size=64,
            tag_layers=1,
        )
    )


def tiny_grit() -> nn.Module:
    """GRiT with every module of the real one, narrow and shallow, and a 128-token vocabulary
    (BERT's special ids 0-103 included; random runs decode with placeholder words)."""
    from vbench_cn.features.grit_arch import GRiT, GritConfig

    return GRiT(
        GritConfig(
            embed_dim=32,
            depth=2,
            num_heads=2,
            global_blocks=(1,),
            fpn_channels=64,
            box_fc_dim=64,
            text_hidden=32,
            text_layers=1,
            text_heads=2,
            text_ffn=64,
            vocab_size=128,
        )
    ).eval()


TINY = {
    "viclip_l14": tiny_viclip,
    "umt_l16_k400": tiny_umt,
    "owlv2_b16": tiny_owlv2,
    "grit_b_densecap_objectdet": tiny_grit,
    "cnclip_vitb16": tiny_cnclip,
    "cnclip_vitl14": tiny_cnclip,
    "clip_vitb32": tiny_openai_clip,
    "tag2text_swin_14m": tiny_tag2text,
}


@contextlib.contextmanager
def tiny_registry() -> Iterator[None]:
    """Within the block, every semantic backbone's registry entry builds its reduced config."""
    from vbench_cn import weights

    for name in TINY:
        weights.get_weights(name)  # import the modules that register them
    with pytest.MonkeyPatch.context() as mp:
        for name, build in TINY.items():
            mp.setitem(
                weights.WEIGHTS, name, dataclasses.replace(weights.WEIGHTS[name], build=build)
            )
        yield
