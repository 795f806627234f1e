"""Detectors with random weights: clip sampling across chunks, architectures, parity.

Parity is checked against cd-fvd and pytorch-fid.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vbench_cn.features import ExtractorOptions, build_extractor
from vbench_cn.features.i3d import clip_starts, make_clips
from vbench_cn.features.i3d_arch import (
    InceptionI3d,
    build_i3d,
    convert_i3d_state_dict,
    same_padding,
)
from vbench_cn.features.inception_arch import build_fid_inception
from vbench_cn.features.videomae_arch import (
    VideoMAEv2,
    VideoViTConfig,
    convert_videomae_state_dict,
    count_params,
)
from vbench_cn.video import VideoInfo

TINY_VIT = VideoViTConfig(embed_dim=64, depth=2, num_heads=4, mlp_hidden=int(64 * 48 / 11))


def info(num_frames: int) -> VideoInfo:
    return VideoInfo(
        path="x.mp4",
        num_frames=num_frames,
        fps=8.0,
        duration_seconds=num_frames / 8,
        width=8,
        height=8,
        codec="h264",
        variable_frame_rate=False,
        backend="pyav",
    )


def chunked_clips(num_frames: int, chunk: int, overlap: int = 15) -> list[int]:
    """Clip starts emitted when a video is fed in chunks as the runner does (carry = overlap)."""
    starts: list[int] = []
    carry, cursor = 0, 0
    while cursor < num_frames:
        new = min(chunk, num_frames - cursor)
        position = cursor - carry
        starts += clip_starts(position, carry + new)
        cursor += new
        carry = min(overlap, carry + new)
    return starts


@pytest.mark.parametrize("num_frames", [15, 16, 17, 47, 48, 100])
@pytest.mark.parametrize("chunk", [1, 7, 16, 64])
def test_every_clip_is_emitted_once_whatever_the_chunking(num_frames: int, chunk: int) -> None:
    assert chunked_clips(num_frames, chunk) == list(range(0, num_frames - 15, 16))


def test_make_clips_values_layout_and_padding() -> None:
    frames = (
        torch.arange(20, dtype=torch.uint8)[:, None, None, None].expand(20, 4, 4, 3).contiguous()
    )
    clips = make_clips(frames, position=0, info=info(20), size=4)
    assert clips.shape == (1, 3, 16, 4, 4)
    assert torch.allclose(clips[0, 0, :, 0, 0] * 255, torch.arange(16, dtype=torch.float32))
    short = make_clips(frames[:5], position=0, info=info(5), size=4)  # held last frame
    assert short.shape == (1, 3, 16, 4, 4)
    assert torch.allclose(short[0, 1, 4:, 2, 2] * 255, torch.full((12,), 4.0))
    assert (
        make_clips(frames[:5], position=0, info=info(9), size=4) is None
    )  # not the whole video yet


def test_same_padding_is_tensorflow_same() -> None:
    # TF SAME: out = ceil(n / s); total = (out - 1) * s + k - n, extra pixel after.
    assert same_padding((16, 224, 224), (7, 7, 7), (2, 2, 2)) == (2, 3, 2, 3, 2, 3)
    assert same_padding((3, 5, 5), (3, 3, 3), (1, 1, 1)) == (1, 1, 1, 1, 1, 1)
    assert same_padding((4, 4, 4), (1, 1, 1), (1, 1, 1)) == (0, 0, 0, 0, 0, 0)


def test_i3d_shapes_and_params() -> None:
    torch.manual_seed(0)
    net = build_i3d()
    assert sum(p.numel() for p in net.parameters()) == 12697264
    with torch.inference_mode():
        out = net(torch.rand(1, 3, 16, 224, 224) * 2 - 1)
    assert out.shape == (1, 400) and torch.isfinite(out).all() and out.abs().mean() > 1e-2
    wrapped = convert_i3d_state_dict(
        {"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}
    )
    InceptionI3d().load_state_dict(wrapped, strict=True)


def test_videomae_reduced_config_and_convert() -> None:
    torch.manual_seed(0)
    net = VideoMAEv2(TINY_VIT).eval()
    assert sum(p.numel() for p in net.parameters()) == count_params(TINY_VIT)
    with torch.inference_mode():
        emb = net.forward_features(torch.rand(2, 3, 16, 224, 224))
    assert emb.shape == (2, 64) and torch.isfinite(emb).all()
    with pytest.raises(ValueError, match="expects 16 frames of 224px"):
        net.forward_features(torch.rand(1, 3, 8, 224, 224))
    sd = {"model": {**net.state_dict(), "pos_embed": torch.zeros(1)}, "epoch": torch.tensor(3)}
    VideoMAEv2(TINY_VIT).load_state_dict(convert_videomae_state_dict(sd), strict=True)


def test_random_i3d_separates_noise_from_smooth_clips() -> None:
    """Random-weight I3D features through the scorer: noise lies farther from smooth clips.

    Farther than smooth clips lie from each other.

    Clips at 112 px instead of 224 px (the network is fully convolutional) keep this test fast;
    min_samples is lowered because the sets are tiny.
    """
    from vbench_cn import synthetic as s
    from vbench_cn.scorers.fidelity import ReferenceStats, frechet_distance_set, mean_and_covariance
    from vbench_cn.weights import build_random

    net = build_random("i3d_kinetics400", seed=0).eval()

    def feats(clips: list[np.ndarray]) -> list[torch.Tensor]:
        batch = torch.cat(
            [make_clips(torch.from_numpy(c), position=0, info=info(16), size=112) for c in clips]
        )
        with torch.inference_mode():
            return list(net(batch * 2 - 1).split(1))

    ref = torch.cat(feats([s.translating_clip(16, 32, 32, seed=i) for i in range(3)])).numpy()
    mu, sigma = mean_and_covariance(ref)
    stats = ReferenceStats(
        name="smooth",
        dimension="fvd",
        mu=mu,
        sigma=sigma,
        features=None,
        count=3,
        videos=3,
        extractor="i3d_fvd",
        weights_id="random",
        weights_sha256=None,
        sampling="all",
        dimension_version=1,
    )
    smooth = frechet_distance_set(
        feats([s.translating_clip(16, 32, 32, seed=10 + i) for i in range(2)]),
        reference=stats,
        min_samples=2,
        bootstrap=0,
    )
    noise = frechet_distance_set(
        feats([s.noise_clip(16, 32, 32, seed=i) for i in range(2)]),
        reference=stats,
        min_samples=2,
        bootstrap=0,
    )
    assert noise.value > 3 * smooth.value


def test_fid_inception_matches_pytorch_fid() -> None:
    """Same random weights in pytorch-fid's InceptionV3 (block 3, its own resize) and ours.

    pytorch-fid is no longer a dependency (its four blocks are ours now); where it is
    installed (the parity venv, a developer's) this checks them.
    """
    pfi = pytest.importorskip("pytorch_fid.inception")

    from vbench_cn.features.i3d import resize_frames

    torch.manual_seed(0)
    ours = build_fid_inception()
    state = ours.state_dict()
    orig = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = lambda *a, **k: state  # no download: hand it our random weights
    try:
        theirs = pfi.InceptionV3([3]).eval()
    finally:
        pfi.load_state_dict_from_url = orig
    frames = torch.randint(0, 256, (2, 90, 120, 3), dtype=torch.uint8)
    with torch.inference_mode():
        ref = theirs(frames.permute(0, 3, 1, 2).float() / 255)[0].flatten(1)
        got = ours(resize_frames(frames, 299) * 2 - 1)
    assert got.shape == (2, 2048)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parity
def test_i3d_and_videomae_match_cd_fvd() -> None:
    """Our modules against cd-fvd 0.1.1's on shared random weights.

    Needs ``pip install --no-deps cd-fvd``.
    """
    from functools import partial

    i3d_mod = pytest.importorskip("cdfvd.third_party.i3d.pytorch_i3d")
    vm_mod = pytest.importorskip("cdfvd.third_party.VideoMAEv2.videomaev2_finetune")
    torch.manual_seed(0)
    theirs = i3d_mod.InceptionI3d(400, in_channels=3).eval()
    ours = InceptionI3d().eval()
    ours.load_state_dict(convert_i3d_state_dict(theirs.state_dict()), strict=True)
    x = torch.rand(1, 3, 16, 224, 224) * 2 - 1
    with torch.inference_mode():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-6)
    vt = vm_mod.VisionTransformer(
        img_size=224,
        patch_size=14,
        embed_dim=64,
        depth=2,
        num_heads=4,
        mlp_ratio=48 / 11,
        qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_classes=174,
        all_frames=16,
        tubelet_size=2,
        use_mean_pooling=True,
    ).eval()
    for name, p in vt.named_parameters():
        if "bias" in name or "norm" in name:
            p.data.normal_(0, 0.1)
    vm = VideoMAEv2(TINY_VIT).eval()
    vm.load_state_dict(convert_videomae_state_dict({"model": vt.state_dict()}), strict=True)
    v = torch.rand(2, 3, 16, 224, 224)
    with torch.inference_mode():
        torch.testing.assert_close(
            vm.forward_features(v), vt.forward_features(v), rtol=1e-4, atol=1e-5
        )


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_videomae_giant_builds_and_runs() -> None:
    """The real ViT-g config: ~1.01 B parameters, one random-weight clip (minutes on CPU)."""
    ext = build_extractor("videomae_fvd", ExtractorOptions(random_weights=True))
    assert sum(p.numel() for p in ext.model.parameters()) == 1011855918
    frames = torch.randint(0, 256, (16, 32, 32, 3), dtype=torch.uint8)
    items = ext.prepare(frames, position=0, info=info(16))
    with torch.inference_mode():
        emb = ext.forward(items)
    assert emb.shape == (1, 1408) and torch.isfinite(emb).all()
