"""The five quality backbones: VBench's transforms, architecture details, key mapping, goldens.

Goldens (``expect/<name>.json``) hold the outputs of each extractor built with seeded random
weights (``--random-weights``, seed 0) on a seeded synthetic input. Without real weights they
are what catches a changed architecture, transform or random-init recipe. Regenerate them
only on purpose: ``VBENCH_CN_ACCEPT=1 pytest tests/backbones/test_quality_backbones.py``.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vbench_cn import synthetic
from vbench_cn import weights as W
from vbench_cn.features import ExtractorOptions, build_extractor
from vbench_cn.features import _transforms as T
from vbench_cn.features.raft import (
    RaftPairScorer,
    convert_princeton_raft,
    princeton_to_torchvision_key,
    top_fraction_mean,
    torchvision_to_princeton,
)
from vbench_cn.video import VideoInfo

EXPECT = Path(__file__).parent / "expect"
RANDOM = ExtractorOptions(random_weights=True, seed=0)


def info_for(frames: torch.Tensor) -> VideoInfo:
    n, h, w, _ = frames.shape
    return VideoInfo("seeded.mp4", n, 8.0, n / 8.0, w, h, None, False, "decord")


def seeded_frames(num_frames: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """Smooth textures sliding 3 px per frame: ``(n, H, W, 3)`` uint8, deterministic."""
    clip = synthetic.translating_clip(num_frames, height, width, pixels_per_frame=3, seed=seed)
    return torch.from_numpy(np.ascontiguousarray(clip))


def run(ext, frames: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    info = info_for(frames)
    items = ext.prepare(frames, position=0, info=info)
    with torch.inference_mode():
        out = ext.forward(items)
    return ext.finalize(out, info=info)


def check_golden(name: str, arrays: dict[str, torch.Tensor], *, atol: float = 1e-4) -> None:
    """Compare with ``expect/<name>.json`` (write it when VBENCH_CN_ACCEPT=1)."""
    path = EXPECT / f"{name}.json"
    data = {
        k: {"shape": list(v.shape), "values": [round(float(x), 6) for x in v.flatten()]}
        for k, v in arrays.items()
    }
    if os.environ.get("VBENCH_CN_ACCEPT") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"seed": 0, "note": "seeded random weights; see test docstring", **data})
        )
    if not path.exists():
        pytest.fail(f"{path} missing; run with VBENCH_CN_ACCEPT=1 to create it")
    assert path.stat().st_size < 50_000
    expect = json.loads(path.read_text())
    for key, got in data.items():
        assert expect[key]["shape"] == got["shape"], key
        np.testing.assert_allclose(
            got["values"], expect[key]["values"], atol=atol, rtol=1e-4, err_msg=f"{name}.{key}"
        )


# --------------------------------------------------------------------------- transforms


def test_dino_transform_keeps_aspect_short_side_224() -> None:
    x = T.dino_transform(seeded_frames(1, 40, 56))
    assert x.shape == (1, 3, 224, 313)  # int(224 * 56 / 40)
    x = T.dino_transform(seeded_frames(1, 45, 37))
    assert x.shape == (1, 3, 272, 224)


def test_clip_transform_crops_and_does_not_clamp() -> None:
    frames = torch.zeros(1, 40, 56, 3, dtype=torch.uint8)
    frames[:, :, 28:] = 255  # a sharp edge: bicubic overshoots 0..255 and VBench does not clamp
    x = T.clip_transform(frames)
    assert x.shape == (1, 3, 224, 224)
    raw = x * torch.tensor(T.CLIP_STD).view(1, 3, 1, 1) + torch.tensor(T.CLIP_MEAN).view(1, 3, 1, 1)
    assert raw.max() > 1.0 and raw.min() < 0.0


def test_musiq_longer_rule() -> None:
    assert T.musiq_longer_transform(seeded_frames(1, 300, 600)).shape == (1, 3, 256, 512)
    assert T.musiq_longer_transform(seeded_frames(1, 513, 301)).shape == (
        1,
        3,
        512,
        int(512 / 513 * 301),
    )
    small = seeded_frames(1, 300, 500)
    x = T.musiq_longer_transform(small)
    assert x.shape == (1, 3, 300, 500) and torch.equal(x, small.permute(0, 3, 1, 2).float() / 255.0)


def test_pad_to_multiple_of_8_sintel_mode() -> None:
    x = torch.arange(33 * 45, dtype=torch.float32).reshape(1, 1, 33, 45)
    y = T.pad_to_multiple(x, 8)
    assert y.shape == (1, 1, 40, 48)
    # 7 rows: 3 above, 4 below; 3 columns: 1 left, 2 right; replicated edges
    assert torch.equal(y[0, 0, 3:36, 1:46], x[0, 0])
    assert torch.equal(y[0, 0, 0, 1:46], x[0, 0, 0]) and torch.equal(y[0, 0, 39, 1:46], x[0, 0, -1])
    assert torch.equal(y[0, 0, 3:36, 0], x[0, 0, :, 0]) and torch.equal(
        y[0, 0, 3:36, 47], x[0, 0, :, -1]
    )
    assert T.pad_to_multiple(torch.zeros(1, 1, 16, 24)).shape == (1, 1, 16, 24)


# --------------------------------------------------------------------------- DINO


@pytest.fixture(scope="module")
def dino():  # noqa: ANN201
    return build_extractor("dino_vitb16", RANDOM)


def test_dino_matches_timm_vit_on_square_input(dino) -> None:  # noqa: ANN001
    from timm.models.vision_transformer import VisionTransformer

    vit = VisionTransformer(
        img_size=224,
        patch_size=16,
        embed_dim=768,
        depth=12,
        num_heads=12,
        qkv_bias=True,
        num_classes=0,
    ).eval()
    vit.load_state_dict(dino.model.state_dict(), strict=True)  # same names as DINO's checkpoint
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        torch.testing.assert_close(
            dino.model(x), vit.forward_features(x)[:, 0], atol=1e-5, rtol=1e-5
        )


def test_dino_position_interpolation_rule(dino) -> None:  # noqa: ANN001
    model = dino.model
    pos = model.pos_embed.detach()
    grid = pos[:, 1:].reshape(1, 14, 14, 768).permute(0, 3, 1, 2)
    with torch.no_grad():
        assert model.interpolate_pos_encoding(196, 224, 224) is model.pos_embed
        got = model.interpolate_pos_encoding(14 * 21, 224, 336)
        want = F.interpolate(grid, scale_factor=(14.1 / 14, 21.1 / 14), mode="bicubic")
        torch.testing.assert_close(
            got[:, 1:], want.permute(0, 2, 3, 1).reshape(1, -1, 768), atol=0, rtol=0
        )
        by_size = (
            F.interpolate(grid, size=(14, 21), mode="bicubic")
            .permute(0, 2, 3, 1)
            .reshape(1, -1, 768)
        )
        assert not torch.allclose(got[:, 1:], by_size)  # the +0.1 scale factor, not the target size
        # DINO's quirk: 196 patches but a non-square input (224x239) is still resampled
        quirk = model.interpolate_pos_encoding(196, 224, 239)
        assert quirk.shape == pos.shape and not torch.equal(quirk, pos)


def test_dino_golden_and_normalised(dino) -> None:  # noqa: ANN001
    out = run(dino, seeded_frames(2, 40, 56))
    assert out.shape == (2, 768)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(2))
    check_golden("dino_vitb16", {"embeddings": out})


# --------------------------------------------------------------------------- CLIP


@pytest.fixture(scope="module")
def clip_b32():  # noqa: ANN201
    return build_extractor("clip_vitb32", RANDOM)


def test_clip_b32_golden(clip_b32) -> None:  # noqa: ANN001
    out = run(clip_b32, seeded_frames(2, 40, 56))
    text = clip_b32.encode_text(["a panda eating bamboo", "熊猫吃竹子"], lang="en")
    assert out.shape == (2, 512) and text.shape == (2, 512)
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(2))
    check_golden("clip_vitb32", {"embeddings": out, "text": text})


def _torchscript_like_openai(state: dict[str, torch.Tensor], path: Path) -> None:
    """Save ``state`` as OpenAI does: a TorchScript module tree, fp16, and non-weight attributes."""
    root = nn.Module()
    for key, value in state.items():
        *parents, leaf = key.split(".")
        mod = root
        for p in parents:
            if not hasattr(mod, p):
                mod.add_module(p, nn.Module())
            mod = getattr(mod, p)
        mod.register_parameter(leaf, nn.Parameter(value.half(), requires_grad=False))
    root.input_resolution = 224
    first_block = root.get_submodule("transformer.resblocks").get_submodule("0")
    first_block.attn_mask = torch.full(
        (77, 77), float("-inf")
    )  # a plain tensor attribute, as in OpenAI's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(root).save(str(path))


def test_openai_style_torchscript_loads_through_the_clip_converter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fast: a tiny module saved like OpenAI's archives goes through the reader and converter."""
    from vbench_cn.features.clip import convert_openai_clip

    torch.manual_seed(0)
    arch = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    state = {f"transformer.resblocks.{k}": v for k, v in arch.state_dict().items()}
    path = tmp_path / "tiny-openai.pt"
    _torchscript_like_openai(state, path)

    class Wrapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = nn.Module()
            self.transformer.resblocks = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))

    entry = W.Weights(
        name="tiny_openai_test",
        build=Wrapped,
        source="https://example.invalid/x.pt",
        filename="x.pt",
        sha256=None,
        size_bytes=None,
        license="MIT",
        transforms="",
        meta={"num_params": 21, "used_by": []},
        convert=convert_openai_clip,
    )
    monkeypatch.setitem(W.WEIGHTS, entry.name, entry)
    model, _ = W.load_model(entry.name, ExtractorOptions(weights_overrides={entry.name: str(path)}))
    for key, value in state.items():
        got = model.state_dict()[key]
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, value.half().float(), atol=0, rtol=0)


@pytest.mark.slow
def test_openai_torchscript_vitb32_loads_without_running_code(clip_b32, tmp_path: Path) -> None:  # noqa: ANN001
    state = {k: v for k, v in clip_b32.model.state_dict().items()}
    path = tmp_path / "ViT-B-32.pt"
    _torchscript_like_openai(state, path)
    options = ExtractorOptions(weights_overrides={"clip_vitb32": str(path)})
    model, weights_id = W.load_model("clip_vitb32", options)
    assert weights_id == f"clip_vitb32@{W.file_sha256(path)[:12]}"
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert loaded[key].dtype == torch.float32
        torch.testing.assert_close(loaded[key], value.half().float(), atol=0, rtol=0)


def test_torchscript_reader_refuses_foreign_globals(tmp_path: Path) -> None:
    import pickle
    import zipfile

    from vbench_cn._torchscript import TorchScriptError, read_torchscript_tensors

    marker = tmp_path / "pwned"
    payload = (
        b"\x80\x02cos\nsystem\nq\x00X"
        + len(f"touch {marker}").to_bytes(4, "little")
        + f"touch {marker}".encode()
        + b"q\x01\x85q\x02Rq\x03."
    )
    assert pickle.loads.__name__  # payload is a plain protocol-2 pickle calling os.system
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("evil/data.pkl", payload)
        zf.writestr("evil/constants.pkl", pickle.dumps((), protocol=2))
        zf.writestr("evil/code/__torch__/m.py", "")
    with pytest.raises(TorchScriptError, match="os.system is not allowed"):
        read_torchscript_tensors(str(path))
    assert not marker.exists()


def test_aesthetic_golden_and_head_on_normalised_float_features() -> None:
    ext = build_extractor("clip_vitl14_aesthetic", RANDOM)
    frames = seeded_frames(1, 40, 56)
    captured: list[torch.Tensor] = []
    hook = ext.model.visual.register_forward_hook(lambda mod, inp, out: captured.append(out))
    try:
        scores = run(ext, frames)
    finally:
        hook.remove()
    with torch.inference_mode():
        emb = F.normalize(captured[0].float(), dim=-1)
        manual = emb @ ext.model.head.weight.T + ext.model.head.bias
    assert scores.shape == (1,)
    torch.testing.assert_close(scores, manual.reshape(-1), atol=1e-5, rtol=1e-5)
    assert 4.0 < float(scores[0]) < 6.0  # random head with VBench-like bias 5
    check_golden("clip_vitl14_aesthetic", {"scores": scores, "embedding": emb[0, :128]})


# --------------------------------------------------------------------------- RAFT


def test_raft_key_mapping_round_trips_and_uses_every_key() -> None:
    tv = W.build_random("raft_things").state_dict()
    original = torchvision_to_princeton(tv)
    # names and shapes of princeton-vl RAFT (core/extractor.py, core/update.py),
    # DataParallel-prefixed
    expected_shapes = {
        "module.fnet.conv1.weight": (64, 3, 7, 7),
        "module.fnet.layer3.1.conv2.bias": (128,),
        "module.cnet.norm1.running_var": (64,),
        "module.cnet.layer2.0.norm3.weight": (96,),
        "module.cnet.layer2.0.downsample.1.weight": (96,),
        "module.cnet.conv2.weight": (256, 128, 1, 1),
        "module.update_block.encoder.convc1.weight": (256, 324, 1, 1),
        "module.update_block.encoder.conv.weight": (126, 256, 3, 3),
        "module.update_block.gru.convz1.weight": (128, 384, 1, 5),
        "module.update_block.gru.convq2.weight": (128, 384, 5, 1),
        "module.update_block.flow_head.conv2.weight": (2, 256, 3, 3),
        "module.update_block.mask.2.bias": (576,),
    }
    for key, shape in expected_shapes.items():
        assert tuple(original[key].shape) == shape, key
    assert not any(
        ".norm" in k for k in original if k.startswith("module.fnet.")
    )  # instance norm: no params
    aliases = [k for k in original if ".norm3." in k]
    assert len(aliases) == 10 and len(original) == len(tv) + len(aliases)
    back = convert_princeton_raft(original)
    assert set(back) == set(tv) and all(torch.equal(back[k], tv[k]) for k in tv)
    mapped = {princeton_to_torchvision_key(k) for k in original} - {None}
    assert mapped == set(tv)  # every original key lands on a distinct torchvision name


def test_raft_alias_must_equal_its_twin() -> None:
    original = torchvision_to_princeton(W.build_random("raft_things").state_dict())
    original["module.cnet.layer3.0.norm3.bias"] = original["module.cnet.layer3.0.norm3.bias"] + 1
    with pytest.raises(ValueError, match="norm3.bias differs"):
        convert_princeton_raft(original)


def test_raft_checkpoint_in_original_layout_loads(tmp_path: Path) -> None:
    tv = W.build_random("raft_things", seed=4).state_dict()
    path = tmp_path / "raft-things.pth"
    torch.save(torchvision_to_princeton(tv), path)
    model, weights_id = W.load_model(
        "raft_things", ExtractorOptions(weights_overrides={"raft_things": str(path)})
    )
    assert weights_id.startswith("raft_things@")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in tv.items())


def test_raft_forward_equals_torchvision_forward() -> None:
    raft = W.build_random("raft_things").eval()
    g = torch.Generator().manual_seed(1)
    a, b = (
        torch.rand(1, 3, 128, 136, generator=g) * 2 - 1,
        torch.rand(1, 3, 128, 136, generator=g) * 2 - 1,
    )
    with torch.inference_mode():  # 4 updates exercise the same loop as VBench's 20, 5x faster
        ours = RaftPairScorer(raft, num_flow_updates=4).flow(a, b)
        ref = raft(a, b, num_flow_updates=4)[-1]
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_top_fraction_mean_uses_int_of_5_percent() -> None:
    mag = torch.arange(40, dtype=torch.float32).reshape(
        1, 5, 8
    )  # int(40 * 0.05) = 2 largest: 39, 38
    assert float(top_fraction_mean(mag)) == 38.5
    assert math.isnan(
        float(top_fraction_mean(torch.ones(1, 4, 4)))
    )  # int(0.8) = 0: numpy's empty mean


def test_raft_extractor_golden() -> None:
    ext = build_extractor("raft_things", RANDOM)
    frames = seeded_frames(2, 125, 123)
    items = ext.prepare(frames, position=0, info=info_for(frames))
    assert items.shape == (1, 2, 125, 123, 3) and items.dtype == torch.uint8  # uint8 pairs
    x = T.pad_to_multiple(T.to_float_nchw(items[0]), 8)  # as forward pads them: float 0-255
    assert x.shape == (2, 3, 128, 128)
    with torch.inference_mode():
        flow = ext.model.flow(2 * x[None, 0] / 255 - 1, 2 * x[None, 1] / 255 - 1)
    scores = top_fraction_mean(flow.norm(dim=1))  # what RaftPairScorer.forward returns
    assert torch.isfinite(scores).all()
    check_golden(
        "raft_things", {"pair_scores": scores, "flow_sample": flow[0, :, ::16, ::16]}, atol=1e-3
    )


# --------------------------------------------------------------------------- MUSIQ


def test_musiq_golden_and_batch_invariant() -> None:
    ext = build_extractor("musiq_spaq", RANDOM)
    frames = seeded_frames(2, 40, 56)
    batched = run(ext, frames)
    single = torch.cat([run(ext, frames[i : i + 1]) for i in range(2)])
    torch.testing.assert_close(
        batched, single, atol=1e-4, rtol=1e-5
    )  # VBench scores one frame at a time
    check_golden("musiq_spaq", {"mos": batched})


def test_transforms_in_frame_slices_equal_whole_chunk_and_bound_float_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 1080p chunk is converted a few frames at a time; the result is bit-identical."""
    from vbench_cn.features import _transforms as T

    frames = torch.randint(
        0, 256, (7, 90, 160, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    whole = {f: f(frames) for f in (T.clip_transform, T.dino_transform, T.musiq_longer_transform)}
    calls: list[int] = []

    @T.in_frame_slices
    def spy(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        return x.float()

    monkeypatch.setattr(T, "FLOAT_FRAMES_BUDGET", 2 * 90 * 160 * 3 * 4)  # two frames
    for f, expected in whole.items():
        assert torch.equal(f(frames), expected)
    assert torch.equal(spy(frames), frames.float()) and calls == [2, 2, 2, 1]
