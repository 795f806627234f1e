"""Semantic backbones: full-size parameter counts, checkpoint layouts, tokenizers, transforms."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from semantic._tiny import TINY, tiny_registry
from vbench_cn import weights
from vbench_cn.features import ExtractorOptions, build_extractor
from vbench_cn.video import VideoInfo

SEMANTIC_WEIGHTS = ("viclip_l14", "umt_l16_k400", "owlv2_b16", "cnclip_vitb16", "cnclip_vitl14")


def _info(num_frames: int = 16, width: int = 64, height: int = 48) -> VideoInfo:
    return VideoInfo(
        path="clip.mp4",
        num_frames=num_frames,
        fps=8.0,
        duration_seconds=num_frames / 8,
        width=width,
        height=height,
        codec=None,
        variable_frame_rate=False,
        backend="pyav",
    )


@pytest.mark.parametrize("name", SEMANTIC_WEIGHTS)
def test_registry_entry_and_full_size_parameter_count(name: str) -> None:
    w = weights.get_weights(name)
    assert w.license and w.transforms and w.meta.get("paper") and w.meta.get("used_by")
    assert w.source.startswith(("hf://", "https://"))
    with torch.device("meta"):  # the real architecture, without allocating it
        model = w.build()
    assert sum(p.numel() for p in model.parameters()) == w.meta["num_params"]


def test_vbench_checkpoints_are_pinned_to_the_reference_digests() -> None:
    assert (
        weights.get_weights("viclip_l14").sha256
        == "7a4d6ad6eac6632db3693f4b97f9f8f6445b65b1e139a6fc6686150522238c56"
    )
    assert (
        weights.get_weights("umt_l16_k400").sha256
        == "bfee78a03bf806fbc0c216309e8f92792011b7db6556fa860e9d869c1e69fecd"
    )


def test_viclip_key_names_and_shapes_match_the_released_checkpoint() -> None:
    with torch.device("meta"):
        sd = weights.get_weights("viclip_l14").build().state_dict()
    assert sd["vision_encoder.conv1.weight"].shape == (1024, 3, 1, 14, 14)
    assert sd["vision_encoder.positional_embedding"].shape == (257, 1024)
    assert sd["vision_encoder.temporal_positional_embedding"].shape == (1, 8, 1024)
    assert sd["vision_encoder.proj"].shape == (1024, 768)
    assert sd["text_encoder.positional_embedding"].shape == (32, 768)
    assert sd["text_encoder.text_projection"].shape == (768, 768)
    assert "text_encoder.transformer.resblocks.11.attn.in_proj_weight" in sd and "temp" in sd
    assert "vision_encoder.transformer.resblocks.23.mlp.c_fc.weight" in sd


def test_umt_key_names_and_interpolated_position_table() -> None:
    from vbench_cn.features.umt_arch import UMTConfig, sinusoid_table, video_position_table

    with torch.device("meta"):
        sd = weights.get_weights("umt_l16_k400").build().state_dict()
    assert sd["patch_embed.proj.weight"].shape == (1024, 3, 1, 16, 16)
    assert {"blocks.0.attn.q_bias", "blocks.0.attn.v_bias", "fc_norm.weight", "head.weight"} <= set(
        sd
    )
    assert "blocks.0.attn.qkv.bias" not in sd and sd["head.weight"].shape == (400, 1024)
    table = video_position_table(UMTConfig(dim=8))
    assert table.shape == (1, 16 * 14 * 14, 8)
    base = sinusoid_table(8 * 196, 8).reshape(8, 196, 8)
    t = table.reshape(16, 196, 8)
    # Linear interpolation 8 -> 16 (align_corners False): the first output frame is the first
    # input.
    assert torch.allclose(t[0], base[0]) and torch.allclose(t[-1], base[-1])
    assert torch.allclose(t[1], 0.75 * base[0] + 0.25 * base[1], atol=1e-6)


def _save_and_load(tmp_path, name: str, payload, suffix: str = ".pth"):
    path = tmp_path / f"{name}{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(payload, str(path))
    else:
        torch.save(payload, path)
    opts = ExtractorOptions(weights_overrides={name: str(path)})
    return weights.load_model(name, opts)


def test_official_checkpoint_layouts_load_strictly(tmp_path) -> None:
    """Each entry's ``convert`` maps the upstream file layout onto the architecture."""
    with tiny_registry():
        ref = {
            name: TINY[name]()
            for name in ("viclip_l14", "umt_l16_k400", "cnclip_vitb16", "owlv2_b16")
        }
        sd = {
            k: v.half() if v.is_floating_point() else v
            for k, v in ref["viclip_l14"].state_dict().items()
        }
        model, wid = _save_and_load(tmp_path, "viclip_l14", {"model": sd})
        assert wid.startswith("viclip_l14@")
        assert torch.equal(model.state_dict()["temp"], sd["temp"].float())

        sd = {
            k: v for k, v in ref["umt_l16_k400"].state_dict().items() if k != "pos_embed"
        }  # pos_embed absent
        model, _ = _save_and_load(tmp_path, "umt_l16_k400", sd)
        assert torch.equal(model.state_dict()["head.weight"], sd["head.weight"])

        sd = {f"module.{k}": v for k, v in ref["cnclip_vitb16"].state_dict().items()}
        sd["module.bert.pooler.dense.weight"] = torch.zeros(2, 2)  # dropped, as cn_clip does
        model, _ = _save_and_load(tmp_path, "cnclip_vitb16", {"epoch": 3, "state_dict": sd})
        assert torch.equal(model.state_dict()["logit_scale"], sd["module.logit_scale"])

        sd = dict(ref["owlv2_b16"].state_dict())
        model, _ = _save_and_load(tmp_path, "owlv2_b16", sd, ".safetensors")
        key = "owlv2.text_projection.weight"
        assert torch.equal(model.state_dict()[key], sd[key])

        broken = {
            k: v
            for k, v in ref["viclip_l14"].state_dict().items()
            if not k.startswith("text_encoder.ln_final")
        }
        with pytest.raises(weights.WeightsError, match="does not fit"):
            _save_and_load(tmp_path, "viclip_l14", {"model": broken})


def test_chinese_and_english_reach_the_right_tokenizers() -> None:
    from vbench_cn.features.cnclip import tokenize_chinese

    zh = tokenize_chinese(["一只红色的狐狸在雪地里奔跑"])[0]
    en = tokenize_chinese(["a red fox runs through the snow"])[0]
    body = zh[(zh != 0) & (zh != 101) & (zh != 102)]
    assert zh.shape == (52,) and zh[0] == 101  # [CLS]
    assert body.numel() == 13 and not bool(
        (body == 100).any()
    )  # one WordPiece per Han character, none [UNK]
    assert not torch.equal(zh, en)
    with tiny_registry():
        viclip = build_extractor("viclip_l14", ExtractorOptions(random_weights=True))
    ids = viclip.tokenize(["a red fox runs through the snow " * 10])
    assert (
        ids.shape == (1, 32) and ids[0, 0] == 49406 and ids[0, -1] == 49407
    )  # truncated, end token kept


def test_clip_assembler_forms_one_clip_whatever_the_chunking() -> None:
    from vbench_cn.features.viclip import ClipAssembler

    frames = torch.arange(8.0).reshape(8, 1)
    info = _info(8)
    asm = ClipAssembler(8)
    assert asm.add(frames[:3], position=0, info=info) is None
    assert asm.add(frames[3:5], position=3, info=info) is None
    clip = asm.add(frames[5:], position=5, info=info)
    assert clip.shape == (1, 8, 1) and torch.equal(clip[0, :, 0], torch.arange(8.0))
    two = ClipAssembler(4).add(frames, position=0, info=info)
    assert two.shape == (2, 4, 1)


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((220, 30, 30), "red"),
        ((240, 140, 20), "orange"),
        ((235, 220, 40), "yellow"),
        ((40, 170, 60), "green"),
        ((30, 60, 200), "blue"),
        ((120, 40, 170), "purple"),
        ((240, 120, 200), "pink"),
        ((10, 10, 12), "black"),
        ((245, 245, 245), "white"),
        ((128, 128, 128), "gray"),
        ((120, 70, 20), "brown"),
    ],
)
def test_dominant_colour_of_a_crop_of_known_colour(rgb, name) -> None:
    from vbench_cn.features.detector import COLOR_NAMES, color_codes, dominant_color

    image = torch.full((40, 40, 3), 0.5)
    image[10:30, 10:30] = torch.tensor(rgb) / 255.0  # the object; the rest is grey background
    assert COLOR_NAMES[dominant_color(color_codes(image), (8, 8, 32, 32))] == name


def test_detector_boxes_map_back_to_frame_pixels_with_colours() -> None:
    from vbench_cn.features.detector import MAX_BOXES, PROPOSALS, THUMB, Owlv2Coco

    ext = object.__new__(Owlv2Coco)  # finalize only: no model needed
    ext.image_size, ext.labels, ext.embed_dim = 960, ("person", "car"), 4
    rows = torch.full((1, MAX_BOXES, 7), -1.0)
    rows[0, 0] = torch.tensor(
        [1, 0.8, 0, 0, 480, 270, 3]
    )  # car, red, top-left quarter of a 16:9 frame
    proposals = torch.zeros(1, PROPOSALS, 8 + ext.embed_dim)
    proposals[0, 0, :5] = torch.tensor([0, 0, 0.5, 0.28125, 1])  # the same quarter, valid
    thumb = torch.zeros(1, THUMB * THUMB)
    packed = torch.cat([rows.flatten(1), proposals.flatten(1), thumb], dim=1)
    (frame,) = out = ext.finalize(packed, info=_info(width=1920, height=1080))
    assert out.proposals.boxes[0, 0].tolist() == pytest.approx([0, 0, 0.5, 0.5])
    assert out.thumbnails.shape == (1, 54, 96) and out.proposals.valid[0].sum() == 1
    assert len(frame) == 1
    det = frame[0]
    assert (det.label, det.color) == ("car", "red")
    assert det.box == pytest.approx((0, 0, 960, 540))


def test_routers_name_the_extractor_of_each_language() -> None:
    opts = ExtractorOptions()
    style, video = build_extractor("style_clip", opts), build_extractor("video_text", opts)
    assert (style.route("en"), style.route("zh"), style.route(None)) == (
        "clip_vitb32",
        "cnclip_vitb16",
        "clip_vitb32",
    )
    assert (video.route("en"), video.route("zh")) == ("viclip_l14", "cnclip_vitl14")
    with pytest.raises(RuntimeError, match="routes by language"):
        video.prepare(torch.zeros(1, 8, 8, 3, dtype=torch.uint8), position=0, info=_info(1))


def test_random_weights_are_seeded() -> None:
    with tiny_registry():
        a = build_extractor("umt_l16_k400", ExtractorOptions(random_weights=True))
        b = build_extractor("umt_l16_k400", ExtractorOptions(random_weights=True))
    assert torch.equal(a.model.head.weight, b.model.head.weight)
    assert dataclasses.is_dataclass(a.model.cfg)


def test_detector_input_keeps_aspect_and_pads_with_grey() -> None:
    from vbench_cn.features.detector import Owlv2Coco

    ext = object.__new__(Owlv2Coco)
    ext.image_size = 96
    frames = torch.zeros(2, 48, 64, 3, dtype=torch.uint8)
    frames[..., 0] = 255  # pure red frames, 4:3
    x = ext.prepare(frames, position=0, info=_info(2))
    assert x.shape == (2, 3, 96, 96)
    assert torch.allclose(
        x[:, :, :72, :], torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1).expand(2, 3, 72, 96)
    )
    assert torch.allclose(x[:, :, 72:, :], torch.full((2, 3, 24, 96), 0.5))
