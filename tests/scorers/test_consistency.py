"""consistency.frame_similarity: VBench's first-and-previous cosine rule on crafted embeddings."""

from __future__ import annotations

import math

import pytest
import torch

from vbench_cn.scorers import NotApplicable, get_scorer
from vbench_cn.scorers.consistency import frame_similarity


def test_identical_frames_score_exactly_one() -> None:
    emb = torch.randn(1, 768, generator=torch.Generator().manual_seed(0)).repeat(9, 1)
    score = frame_similarity(emb)
    assert score.value == 1.0
    assert score.details["weight"] == 8 and score.details["frames"] == 9


def test_ulp_noise_still_gives_exactly_one() -> None:
    emb = torch.randn(1, 512, generator=torch.Generator().manual_seed(1)).repeat(4, 1)
    emb[2] = torch.nextafter(
        emb[2], torch.full_like(emb[2], math.inf)
    )  # batched forwards may differ by an ulp
    assert frame_similarity(emb).value == 1.0


def test_formula_on_known_angles() -> None:
    # unit vectors at angles 0, 60, 120 degrees: cos(prev) = 0.5, 0.5;
    # cos(first) = 0.5, -0.5 -> clamped to 0
    a = [
        torch.tensor([math.cos(math.radians(d)), math.sin(math.radians(d))], dtype=torch.float64)
        for d in (0, 60, 120)
    ]
    emb = torch.stack(a) * torch.tensor(
        [[1.0], [3.0], [0.2]], dtype=torch.float64
    )  # any scale: normalised inside
    score = frame_similarity(emb)
    assert score.value == pytest.approx(((0.5 + 0.5) / 2 + (0.5 + 0.0) / 2) / 2, abs=1e-12)
    unclamped = frame_similarity(emb, clamp_negative=False)
    assert unclamped.value == pytest.approx(((0.5 + 0.5) / 2 + (0.5 - 0.5) / 2) / 2, abs=1e-12)


def test_negative_cosines_count_as_zero() -> None:
    emb = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    # t=2: prev -1 -> 0, first -1 -> 0; t=3: prev -1 -> 0, first 1 -> 1
    assert frame_similarity(emb).value == pytest.approx(0.25)
    assert frame_similarity(emb, clamp_negative=False).value == pytest.approx(-0.5)


def test_pair_weighted_mean_reproduces_vbench_single_process_aggregate() -> None:
    g = torch.Generator().manual_seed(2)
    videos = [torch.randn(n, 16, generator=g) + 3 for n in (2, 5, 9)]
    scores = [frame_similarity(v) for v in videos]
    weighted = sum(s.value * s.details["weight"] for s in scores) / sum(
        s.details["weight"] for s in scores
    )
    # VBench: sum of every pair term over all videos / total pairs
    terms = []
    for v in videos:
        f = torch.nn.functional.normalize(v.double(), dim=-1)
        for t in range(1, len(f)):
            terms.append((max(0.0, float(f[t - 1] @ f[t])) + max(0.0, float(f[0] @ f[t]))) / 2)
    assert weighted == pytest.approx(sum(terms) / len(terms), abs=1e-12)
    assert weighted != pytest.approx(
        sum(s.value for s in scores) / 3, abs=1e-6
    )  # per-video mean differs


def test_one_frame_is_not_applicable() -> None:
    with pytest.raises(NotApplicable, match="at least 2 frames, got 1"):
        frame_similarity(torch.ones(1, 8))
    with pytest.raises(NotApplicable):
        frame_similarity(torch.zeros(0, 8))


def test_registered_with_its_parameter() -> None:
    entry = get_scorer("consistency.frame_similarity")
    assert entry.params == ("clamp_negative",) and entry.context == ()
