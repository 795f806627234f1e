"""The detector's stored proposals, queried after the forward, answer as OWLv2 queried directly.

The motion-control dimensions never run OWLv2 with the prompt's object names: the shared
image forward keeps the highest-objectness patches with their class-head embeddings, and
:meth:`Proposals.scores` applies the class head's formula later. Here the reduced OWLv2
architecture (seeded random weights) is run as Hugging Face runs it, with the names as text
queries, and the stored proposals must give the same probabilities, the same boxes (mapped
to the frame) and the patches of highest objectness.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from semantic._tiny import tiny_registry

from vbench_cn.features import ExtractorOptions
from vbench_cn.features import detector as det
from vbench_cn.features._transforms import CLIP_MEAN, CLIP_STD, normalize
from vbench_cn.video import VideoInfo

NAMES = ("red toy car", "brown dog", "sailboat")
KEEP = 10  # proposals kept per frame here, fewer than the tiny model's 36 patches


def _info(width: int, height: int) -> VideoInfo:
    return VideoInfo(
        path="clip.mp4",
        num_frames=2,
        fps=8.0,
        duration_seconds=0.25,
        width=width,
        height=height,
        codec=None,
        variable_frame_rate=False,
        backend="pyav",
    )


@pytest.fixture(scope="module")
def run():
    torch.manual_seed(0)
    with pytest.MonkeyPatch.context() as mp, tiny_registry():
        mp.setattr(det, "PROPOSALS", KEEP)
        ext = det.Owlv2Coco(ExtractorOptions(random_weights=True))
        rng = np.random.default_rng(0)
        frames = torch.from_numpy(rng.integers(0, 64, (2, 54, 96, 3), dtype=np.uint8))
        info = _info(96, 54)
        with torch.inference_mode():
            batch = ext.prepare(frames, position=0, info=info)
            out = ext.finalize(ext.forward(batch), info=info)
            queries = ext.encode_text(NAMES, lang="en")
            ids, mask = det.tokenize_queries(
                [det.QUERY_TEMPLATE.format(n) for n in NAMES],
                int(ext.model.config.text_config.max_position_embeddings),
            )
            ref = ext.model(
                input_ids=ids.repeat(2, 1),  # (images x queries, length): one set per image
                attention_mask=mask.repeat(2, 1),
                pixel_values=normalize(batch, CLIP_MEAN, CLIP_STD),
            )
    return out, queries, ref, info


def test_stored_proposals_are_the_patches_of_highest_objectness(run) -> None:
    out, _, ref, _ = run
    top = ref.objectness_logits.topk(KEEP, dim=1).indices  # (2, KEEP)
    assert out.proposals.boxes.shape == (2, KEEP, 4)
    assert bool(out.proposals.valid.all())
    # boxes: OWLv2's (cx, cy, w, h) of the padded square, as fractions of the 96x54 frame
    cxcy, wh = ref.pred_boxes[..., :2], ref.pred_boxes[..., 2:]
    xyxy = torch.cat([cxcy - wh / 2, cxcy + wh / 2], dim=-1)
    frame = xyxy / torch.tensor([1.0, 54 / 96, 1.0, 54 / 96])
    want = frame.gather(1, top[..., None].expand(-1, -1, 4)).clamp(0, 1)
    torch.testing.assert_close(out.proposals.boxes, want, atol=1e-5, rtol=1e-5)


def test_a_name_scored_later_equals_owlv2_queried_with_it(run) -> None:
    out, queries, ref, _ = run
    top = ref.objectness_logits.topk(KEEP, dim=1).indices
    want = torch.sigmoid(ref.logits).gather(1, top[..., None].expand(-1, -1, len(NAMES)))
    got = out.proposals.scores(queries)  # (frames, KEEP, names)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    # and detect's best box per name is the best of those patches
    boxes, scores = out.proposals.detect(queries, min_score=0.0, max_dets=1)
    torch.testing.assert_close(scores[..., 0], want.max(dim=1).values, atol=1e-5, rtol=1e-4)
    best = want.argmax(dim=1)  # (frames, names)
    for f in range(2):
        torch.testing.assert_close(boxes[f, :, 0], out.proposals.boxes[f, best[f]])


def test_the_thumbnail_is_the_frame_in_grey_without_the_padding(run) -> None:
    out, _, _, info = run
    side = min(det.THUMB, 96)  # the tiny model's square is 96 pixels
    h = round(side * info.height / info.width)
    assert out.thumbnails.shape == (2, h, side)
    assert float(out.thumbnails.min()) >= 0.0 and float(out.thumbnails.max()) <= 1.0
    # dark frames (0-63): the mid-grey padding below the frame is cropped away
    assert abs(float(out.thumbnails.mean()) - 31.5 / 255) < 0.01
