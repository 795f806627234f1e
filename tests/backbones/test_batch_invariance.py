"""A video's AMT and RAFT numbers do not depend on the batch schedule.

Whatever the other videos of the run, their order, the batch size, the number of ranks or
the decode chunking, a video gets the same motion-smoothness errors and RAFT pair scores, to
the last bit. AMT runs here in CUDA's passes of 4 (forced on the CPU), so the padded,
one-video-per-call passes are what is tested, not VBench's batch of one. RAFT runs 2 of its
20 refinement steps: the batch-independence of a pair's score does not depend on how many
there are, and the tests stay affordable on a CPU. The default tests take small frames (AMT
through the whole runner, RAFT through the batcher); the slow one runs both through the
runner at RAFT's size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vbench_cn import synthetic
from vbench_cn.api import evaluate
from vbench_cn.features import ExtractorOptions, raft
from vbench_cn.features.amt import AMTInterpolationError
from vbench_cn.manifest import VideoItem, discover
from vbench_cn.runner import Profile, _Batcher, _Group
from vbench_cn.video import VideoInfo


@pytest.fixture
def fast_raft_cuda_amt(monkeypatch: pytest.MonkeyPatch) -> None:
    """AMT in passes of 4 as on CUDA; RAFT with 2 refinement steps."""
    monkeypatch.setattr(AMTInterpolationError, "triplets_per_pass", 4)
    build = raft.RaftPairScorer.__init__
    monkeypatch.setattr(
        raft.RaftPairScorer,
        "__init__",
        lambda self, model, num_flow_updates=2: build(self, model, num_flow_updates),
    )


def _clips(folder: Path, height: int, width: int) -> list[VideoItem]:
    """Three clips of different motion, 5 frames each (2 AMT triplets, 4 RAFT pairs)."""
    for i, speed in enumerate((1, 3, 6)):
        clip = synthetic.translating_clip(5, height, width, pixels_per_frame=speed, seed=i)
        synthetic.write_video(folder / "m" / f"v{i}.mp4", clip, fps=8)
    return sorted(discover([folder]), key=lambda item: item.rel_path)


def _run(
    items: list[VideoItem], out: Path, dimensions: list[str], **options: Any
) -> dict[tuple[str, str], Any]:
    records = evaluate(
        items,
        dimensions=dimensions,
        out_dir=out,
        random_weights=True,
        all_prompts=True,
        progress=False,
        **options,
    )
    per_video = {}
    for r in records:
        assert r["status"] == "ok", r
        key = "mean_abs_diff" if r["dimension"] == "motion_smoothness" else "max_pair_score"
        per_video[(Path(r["video"]).name, r["dimension"])] = (r["score"], r["details"][key])
    return per_video


def _schedules(items: list[VideoItem], tmp_path: Path, dims: list[str]) -> None:
    """The same videos under five batch schedules (two of them ranks of one run): every
    video's numbers identical."""
    sizes = {name: 1 for name in ("amt_s", "raft_things")}
    reference = _run(items, tmp_path / "a", dims)
    reordered = _run(list(reversed(items)), tmp_path / "b", dims, batch_sizes=sizes, chunk_frames=2)
    mixed = _run(
        items,
        tmp_path / "c",
        dims,
        batch_sizes={"amt_s": 8, "raft_things": 8},
        max_pending_videos=1,
    )
    alone = _run(
        [items[1]], tmp_path / "d", dims, batch_sizes={"amt_s": 5, "raft_things": 3}, chunk_frames=3
    )
    for rank in (0, 1):  # two ranks' shards in one run folder; the last call reads both
        sharded = _run(items, tmp_path / "e", dims, rank=rank, world_size=2)
    assert len(reference) == 3 * len(dims)
    assert sharded == reference
    assert reordered == reference
    assert mixed == reference
    assert alone == {k: v for k, v in reference.items() if k[0] == "v1.mp4"}
    first = [reference[(f"v{i}.mp4", dims[0])][1] for i in range(3)]
    assert len(set(first)) == 3  # three different videos, so the comparison means something


def test_amt_errors_do_not_depend_on_neighbours_order_batch_size_or_chunking(
    tmp_path: Path, fast_raft_cuda_amt: None
) -> None:
    _schedules(_clips(tmp_path / "videos", 64, 72), tmp_path, ["motion_smoothness"])


def test_raft_pair_scores_do_not_depend_on_the_batch(fast_raft_cuda_amt: None) -> None:
    ext = raft.RaftThings(ExtractorOptions(random_weights=True))
    items = []
    for i, speed in enumerate((1, 4, 7)):
        clip = synthetic.translating_clip(3, 128, 128, pixels_per_frame=speed, seed=i)
        frames = torch.from_numpy(np.ascontiguousarray(clip))
        info = VideoInfo(f"v{i}.mp4", 3, 8.0, 0.375, 128, 128, None, False, "decord")
        items.append(ext.prepare(frames, position=0, info=info))

    def run(order: list[int], batch_size: int) -> list[torch.Tensor]:
        batcher = _Batcher(ext, batch_size, Profile())
        groups = {i: _Group(extractor=ext, indices=np.arange(3), specs=[]) for i in order}
        for i in order:
            for pair in items[i]:  # one pair per chunk, as a chunked decode delivers them
                batcher.add(groups[i], pair[None])
        batcher.flush()
        return [torch.cat(groups[i].outputs) for i in range(3) if i in groups]

    with torch.inference_mode():
        reference = [ext.forward(x) for x in items]  # each video alone, in one call
    assert len({float(r[0]) for r in reference}) == 3
    for got in (run([0, 1, 2], 6), run([2, 0, 1], 4), run([1, 2, 0], 1)):
        assert all(torch.equal(a, b) for a, b in zip(got, reference, strict=True))
    alone = run([1], 3)
    assert torch.equal(alone[0], reference[1])


@pytest.mark.slow
def test_amt_and_raft_scores_through_the_runner_at_raft_size(
    tmp_path: Path, fast_raft_cuda_amt: None
) -> None:
    items = _clips(tmp_path / "videos", 128, 136)
    _schedules(items, tmp_path, ["motion_smoothness", "dynamic_degree"])
