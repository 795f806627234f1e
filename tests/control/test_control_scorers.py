"""The control scorers' semantics on crafted detections: a track along the target, the wrong
way, standing still, two objects swapped, moves out of order, a camera that pans."""

from __future__ import annotations

import math
import random

import pytest
import torch

from control._crafted import along, backwards, crafted_frames, prompt, queries
from vbench_cn.features.outputs import Proposals
from vbench_cn.motion_targets import Segment, parse_motion
from vbench_cn.scorers import NotApplicable
from vbench_cn.scorers.control import (
    average_precision,
    background_motion,
    box_alignment,
    box_alignment_metrics,
    motion_direction,
    object_tracks,
    paired_iou,
    segment_agreement,
    track_agreement,
)

F = 16
TIMES = [i / (F - 1) for i in range(F)]
LEFT, RIGHT = [0.05, 0.4, 0.2, 0.6], [0.8, 0.4, 0.95, 0.6]
L2R = [(0.0, LEFT), (1.0, RIGHT)]
R2L = [(0.0, RIGHT), (1.0, LEFT)]


def _score(fn, tracks, target_prompt, **kw) -> float:
    feats = crafted_frames(tracks, **{k: v for k, v in kw.items() if k == "thumbnails"})
    extra = {k: v for k, v in kw.items() if k != "thumbnails"}
    return fn(
        feats,
        prompt=target_prompt,
        text_features=queries(len(tracks)),
        frame_times=torch.tensor(TIMES),
        **extra,
    )


# --------------------------------------------------------------------------- average precision


def _coco_ap_loop(dets: list[tuple[float, float, int]], num_targets: int, thr: float) -> float:
    """COCO's matching and 101-point interpolation, written out as loops (the reference)."""
    order = sorted(range(len(dets)), key=lambda i: -dets[i][0])  # stable, like mergesort
    matched: set[int] = set()
    flags = []
    for i in order:
        _, iou, frame = dets[i]
        hit = iou >= thr and frame not in matched
        if hit:
            matched.add(frame)
        flags.append(hit)
    tp = fp = 0
    recall, precision = [], []
    for hit in flags:
        tp, fp = tp + hit, fp + (not hit)
        recall.append(tp / num_targets)
        precision.append(tp / (tp + fp))
    for i in range(len(precision) - 1, 0, -1):
        precision[i - 1] = max(precision[i - 1], precision[i])
    total = 0.0
    for k in range(101):
        r = k / 100
        idx = next((i for i, x in enumerate(recall) if x >= r - 1e-12), None)
        total += precision[idx] if idx is not None else 0.0
    return total / 101


def test_average_precision_worked_by_hand() -> None:
    # 4 frames; detections with IoU 0.9, 0.6, 0.3 (best score first); frame 3 has none
    scores, ious = torch.tensor([0.9, 0.8, 0.7]), torch.tensor([0.9, 0.6, 0.3])
    ap = average_precision(scores, ious, torch.tensor([0, 1, 2]), 4, (0.5, 0.75, 0.95))
    # IoU 0.5: TP TP FP -> precision 1 up to recall 0.5 -> 51 of 101 points
    # IoU 0.75: TP FP FP -> precision 1 up to recall 0.25 -> 26 of 101 points
    assert ap.tolist() == pytest.approx([51 / 101, 26 / 101, 0.0])


def test_a_second_box_on_an_already_matched_frame_is_a_false_positive() -> None:
    both = average_precision(
        torch.tensor([0.9, 0.8]), torch.tensor([1.0, 1.0]), torch.tensor([0, 0]), 1, (0.5,)
    )
    alone = average_precision(
        torch.tensor([0.9]), torch.tensor([1.0]), torch.tensor([0]), 1, (0.5,)
    )
    assert alone.item() == pytest.approx(1.0)
    assert both.item() == pytest.approx(1.0)  # the duplicate ranks after full recall
    worse = average_precision(
        torch.tensor([0.9, 0.95]), torch.tensor([1.0, 0.2]), torch.tensor([0, 0]), 1, (0.5,)
    )
    assert worse.item() == pytest.approx(0.5)  # a wrong box ranked first halves precision


@pytest.mark.parametrize("seed", range(5))
def test_average_precision_equals_the_loop_reference(seed: int) -> None:
    rng = random.Random(seed)
    frames = rng.randint(1, 12)
    dets = [
        (round(rng.random(), 2), rng.random(), rng.randrange(frames))
        for _ in range(rng.randint(0, 30))
    ]  # rounded scores: ties happen and must keep input order
    thresholds = (0.5, 0.55, 0.75, 0.95)
    ours = average_precision(
        torch.tensor([d[0] for d in dets]),
        torch.tensor([d[1] for d in dets]),
        torch.tensor([d[2] for d in dets], dtype=torch.long),
        frames,
        thresholds,
    )
    expected = [_coco_ap_loop(dets, frames, t) for t in thresholds]
    assert ours.tolist() == pytest.approx(expected, abs=1e-6)


def test_alignment_metrics_of_a_track_along_a_shifted_and_a_missing_target() -> None:
    targets = torch.tensor([along(L2R, TIMES)]).permute(1, 0, 2)  # (F, 1, 4)
    exact = box_alignment_metrics(targets[:, :, None], torch.ones(F, 1, 1), targets, min_score=0.1)
    assert (exact["map"], exact["ap50"], exact["mean_iou"], exact["found"]) == pytest.approx(
        (1.0, 1.0, 1.0, 1.0)
    )
    shifted = targets.clone()
    shifted[..., [0, 2]] += 0.075  # half the box width: IoU 1/3
    half = box_alignment_metrics(shifted[:, :, None], torch.ones(F, 1, 1), targets, min_score=0.1)
    assert half["ap50"] == 0.0 and half["mean_iou"] == pytest.approx(1 / 3, abs=1e-4)
    assert half["found"] == 1.0
    scores = torch.ones(F, 1, 1)
    scores[F // 2 :] = 0.05  # below min_score: not found in the second half
    missing = box_alignment_metrics(targets[:, :, None], scores, targets, min_score=0.1)
    assert missing["found"] == 0.5 and missing["mean_iou"] == pytest.approx(0.5)
    assert missing["ap50"] == pytest.approx(51 / 101)  # precision 1 up to recall 0.5


def test_paired_iou_is_scale_free_per_axis() -> None:
    a, b = torch.tensor([0.1, 0.1, 0.3, 0.5]), torch.tensor([0.2, 0.1, 0.4, 0.5])
    stretched = torch.tensor([1920.0, 1080, 1920, 1080])
    assert paired_iou(a, b).item() == pytest.approx(paired_iou(a * stretched, b * stretched).item())


# --------------------------------------------------------------------------- box alignment


def test_box_alignment_ranks_along_static_wrong_way() -> None:
    target = prompt("straight", "static", L2R)
    scores = {
        name: _score(box_alignment, [track], target).value
        for name, track in {
            "along": along(L2R, TIMES),
            "static": along([(0.0, LEFT), (1.0, LEFT)], TIMES),
            "wrong way": along(R2L, TIMES),
        }.items()
    }
    assert scores["along"] == pytest.approx(1.0)
    assert scores["static"] < 0.35 and scores["wrong way"] < 0.35, scores


def test_box_alignment_of_swapped_objects_is_low() -> None:
    top_l2r = [(0.0, [0.05, 0.1, 0.2, 0.3]), (1.0, [0.8, 0.1, 0.95, 0.3])]
    low_r2l = [(0.0, [0.8, 0.6, 0.95, 0.8]), (1.0, [0.05, 0.6, 0.2, 0.8])]
    target = prompt("swap", "static", top_l2r, low_r2l)
    right = _score(box_alignment, [along(top_l2r, TIMES), along(low_r2l, TIMES)], target)
    swapped = _score(box_alignment, [along(low_r2l, TIMES), along(top_l2r, TIMES)], target)
    assert right.value == pytest.approx(1.0) and swapped.value == 0.0
    assert swapped.details["found"] == 1.0  # found everywhere, just not where asked
    assert [o["map"] for o in swapped.details["objects"]] == [0.0, 0.0]
    names = [o["name"] for o in right.details["objects"]]
    assert names == ["thing 0", "thing 1"]


def test_box_alignment_metric_parameter_picks_the_reported_number() -> None:
    target = prompt("straight", "static", L2R)
    track = along(L2R, TIMES)
    track[-1] = None  # lost in the last frame
    for metric, expected in (
        ("found", 15 / 16),
        ("mean_iou", 15 / 16),
        ("ap50", 94 / 101),
    ):  # recall 15/16 reaches 94 of 101 points
        s = _score(box_alignment, [track], target, metric=metric)
        assert s.value == pytest.approx(expected, abs=1e-3), metric
        assert s.details["metric"] == metric
    with pytest.raises(ValueError, match="not one of"):
        _score(box_alignment, [track], target, metric="recall")


# --------------------------------------------------------------------------- motion direction


def test_motion_direction_ranks_along_static_wrong_way() -> None:
    target = prompt("straight", "static", L2R)
    along_s = _score(motion_direction, [along(L2R, TIMES)], target)
    static = _score(motion_direction, [along([(0.0, LEFT), (1.0, LEFT)], TIMES)], target)
    wrong = _score(motion_direction, [along(R2L, TIMES)], target)
    short = _score(
        motion_direction, [along([(0.0, LEFT), (1.0, [0.25, 0.4, 0.4, 0.6])], TIMES)], target
    )
    assert along_s.value == pytest.approx(1.0)
    assert wrong.value == 0.0 and static.value == 0.0
    assert 0.3 < short.value < 0.8  # right way, a third of the way: partial credit
    assert along_s.details["objects"][0]["moved"][0] == pytest.approx(0.75, abs=1e-4)


def test_motion_direction_of_two_objects_swapping_sides() -> None:
    top_l2r = [(0.0, [0.05, 0.1, 0.2, 0.3]), (1.0, [0.8, 0.1, 0.95, 0.3])]
    low_r2l = [(0.0, [0.8, 0.6, 0.95, 0.8]), (1.0, [0.05, 0.6, 0.2, 0.8])]
    target = prompt("swap", "static", top_l2r, low_r2l)
    done = _score(motion_direction, [along(top_l2r, TIMES), along(low_r2l, TIMES)], target)
    stay = [along([(0, top_l2r[0][1]), (1, top_l2r[0][1])], TIMES)] + [
        along([(0, low_r2l[0][1]), (1, low_r2l[0][1])], TIMES)
    ]
    stayed = _score(motion_direction, stay, target)
    reversed_ = _score(
        motion_direction,
        [along(backwards(top_l2r), TIMES), along(backwards(low_r2l), TIMES)],
        target,
    )
    assert done.value == pytest.approx(1.0) and done.details["relation"] == pytest.approx(1.0)
    assert stayed.value == 0.0 and reversed_.value == 0.0


def test_one_object_still_and_one_moving() -> None:
    still = [(0.0, [0.4, 0.2, 0.6, 0.5]), (1.0, [0.4, 0.2, 0.6, 0.5])]
    target = prompt("one_static", "static", still, L2R)
    good = _score(motion_direction, [along(still, TIMES), along(L2R, TIMES)], target)
    both = _score(motion_direction, [along(L2R, TIMES), along(L2R, TIMES)], target)
    assert good.value == pytest.approx(1.0)
    assert both.details["objects"][0]["score"] == 0.0  # the still one moved
    assert both.value < 0.6


def test_approach_and_recede_are_told_apart() -> None:
    small, big = [0.45, 0.4, 0.55, 0.5], [0.25, 0.3, 0.75, 0.9]
    target = prompt("approach", "static", [(0.0, small), (1.0, big)])
    grows = _score(motion_direction, [along([(0, small), (1, big)], TIMES)], target)
    shrinks = _score(motion_direction, [along([(0, big), (1, small)], TIMES)], target)
    same = _score(motion_direction, [along([(0, small), (1, small)], TIMES)], target)
    assert grows.value == pytest.approx(1.0)
    assert shrinks.value == 0.0 and same.value == 0.0
    # size = square root of the area: sqrt(0.5 * 0.6 / (0.1 * 0.1))
    assert grows.details["objects"][0]["size_ratio"] == pytest.approx(math.sqrt(30), rel=1e-3)


def test_moves_must_come_in_order_but_may_take_their_time() -> None:
    corner = [0.8, 0.2, 0.95, 0.4]
    bottom = [0.8, 0.7, 0.95, 0.9]
    start = [0.05, 0.2, 0.2, 0.4]
    target = prompt("sequence", "static", [(0.0, start), (0.5, corner), (1.0, bottom)])
    in_order = _score(
        motion_direction, [along([(0, start), (0.5, corner), (1, bottom)], TIMES)], target
    )
    hurried = _score(
        motion_direction, [along([(0, start), (0.2, corner), (1, bottom)], TIMES)], target
    )
    down_first = [0.05, 0.7, 0.2, 0.9]
    out_of_order = _score(
        motion_direction, [along([(0, start), (0.5, down_first), (1, bottom)], TIMES)], target
    )
    # (the corner is reached between two sampled frames: a hair under 1)
    assert in_order.value == pytest.approx(1.0, abs=0.01)
    assert hurried.value == pytest.approx(1.0, abs=0.01)
    assert out_of_order.value < 0.5
    assert in_order.details["objects"][0]["split"] in ([0, 7, 15], [0, 8, 15])


def test_an_object_found_too_rarely_scores_zero_with_the_reason() -> None:
    target = prompt("straight", "static", L2R)
    track = along(L2R, TIMES)
    for f in range(0, F, 2):
        track[f] = None
    track[1] = None  # found in 7 of 16 frames
    s = _score(motion_direction, [track], target)
    assert s.value == 0.0 and "found in 44% of frames" in s.details["objects"][0]["reason"]
    s = _score(motion_direction, [track], target, min_found=0.4)
    assert s.value == pytest.approx(1.0)  # gaps filled over time


def _panning(frames: int, shift_px: int, h: int = 36, w: int = 64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    wide = torch.nn.functional.interpolate(
        torch.rand(1, 1, h // 3, (w + shift_px * frames) // 3 + 2, generator=gen),
        size=(h, w + shift_px * frames + 6),
        mode="bilinear",
        align_corners=False,
    )[0, 0]
    return torch.stack([wide[:, i * shift_px : i * shift_px + w] for i in range(frames)])


def test_background_motion_recovers_a_pan_with_a_moving_object_masked() -> None:
    thumbs = _panning(F, 2)  # background slides left 2 px per frame (camera pans right)
    masks = torch.zeros(F, 36, 64, dtype=torch.bool)
    for f in range(F):  # a bright object moving right, masked out
        thumbs[f, 10:20, 2 * f : 2 * f + 8] = 1.0
        masks[f, 8:22, max(0, 2 * f - 2) : 2 * f + 10] = True
    shift = background_motion(thumbs, masks)
    assert shift[-1, 0].item() == pytest.approx(-2 * (F - 1) / 64, abs=0.01)
    assert shift[-1, 1].item() == pytest.approx(0.0, abs=0.01)


def test_camera_motion_is_forgiven_only_when_the_prompt_leaves_the_camera_free() -> None:
    # The camera follows the object: it stays mid-frame while the background slides left.
    mid = [0.4, 0.4, 0.55, 0.6]
    followed = along([(0, mid), (1, mid)], TIMES)
    thumbs = _panning(F, 3)
    free = _score(motion_direction, [followed], prompt("straight", "free", L2R), thumbnails=thumbs)
    fixed = _score(
        motion_direction, [followed], prompt("straight", "static", L2R), thumbnails=thumbs
    )
    assert free.value > 0.9, free.details
    assert fixed.value == 0.0
    assert fixed.details["background_moved"][0] < -0.5  # reported, not forgiven
    # a fixed camera and the object crossing the frame: fine both ways
    still_bg = _panning(F, 0)
    crossing = along(L2R, TIMES)
    for camera in ("free", "static"):
        s = _score(
            motion_direction, [crossing], prompt("straight", camera, L2R), thumbnails=still_bg
        )
        assert s.value == pytest.approx(1.0, abs=0.02), camera


def test_segment_agreement_terms() -> None:
    right = Segment(0.0, 1.0, 0.6, 0.0, 0.0)
    assert segment_agreement((0.3, 0.0, 0.0), right) == pytest.approx(1.0)  # half way counts
    assert segment_agreement((0.15, 0.0, 0.0), right) == pytest.approx(0.5)
    assert segment_agreement((0.0, 0.3, 0.0), right) == pytest.approx(0.0)  # perpendicular
    assert segment_agreement((0.3, 0.3, 0.0), right) == pytest.approx(math.cos(math.pi / 4))
    still = Segment(0.0, 1.0, 0.0, 0.0, 0.0)
    assert segment_agreement((0.0, 0.0, 0.0), still) == 1.0
    assert segment_agreement((0.05, 0.0, 0.0), still) == pytest.approx(0.5)
    assert segment_agreement((0.0, 0.0, math.log(1.5) / 2), still) == pytest.approx(0.5)
    assert segment_agreement((0.1, 0.0, 0.0), still) == 0.0
    grow = Segment(0.0, 1.0, 0.0, 0.15, math.log(3))  # drift down is perspective: not scored
    assert segment_agreement((0.0, 0.0, math.log(3) / 2), grow) == pytest.approx(1.0)
    assert segment_agreement((0.0, 0.0, -0.1), grow) == 0.0


def test_track_agreement_reports_the_chosen_split() -> None:
    target = parse_motion(
        prompt("sequence", "static", [(0, LEFT), (0.5, RIGHT), (1, LEFT)]).meta["motion"]
    )
    track = torch.tensor(along([(0, LEFT), (0.5, RIGHT), (1, LEFT)], TIMES))
    centres = (track[:, :2] + track[:, 2:]) / 2
    value, cut = track_agreement(centres, torch.zeros(F), target.objects[0])
    assert value == pytest.approx(1.0) and cut[0] == 0 and cut[-1] == F - 1 and len(cut) == 3


# --------------------------------------------------------------------------- plumbing


def test_two_objects_never_share_one_box() -> None:
    box = [0.1, 0.1, 0.3, 0.3]
    other = [0.6, 0.6, 0.8, 0.8]
    det_boxes = torch.tensor([[[box, other], [box, other]]])  # 1 frame, 2 objects, 2 candidates
    det_scores = torch.tensor([[[0.9, 0.2], [0.95, 0.5]]])  # both like `box` best
    boxes, found = object_tracks(det_boxes, det_scores, min_score=0.1)
    assert found.all()
    # the higher total: 0.9 + 0.5 (object 0 on `box`) beats 0.2 + 0.95
    assert boxes[0, 0].tolist() == pytest.approx(box)
    assert boxes[0, 1].tolist() == pytest.approx(other)
    alone, found = object_tracks(det_boxes[:, :1], det_scores[:, :1], min_score=0.1)
    assert alone[0, 0].tolist() == pytest.approx(box) and found.all()


def test_detect_keeps_the_best_boxes_of_each_query_after_nms() -> None:
    boxes = torch.tensor(
        [[[0.1, 0.1, 0.3, 0.3], [0.11, 0.1, 0.31, 0.3], [0.6, 0.6, 0.8, 0.8], [0.0, 0, 0.1, 0.1]]]
    )
    embeds = torch.tensor([[[1.0, 0], [1.0, 0], [1.0, 0], [0.0, 1]]])
    props = Proposals(
        boxes,
        embeds,
        torch.tensor([[0.0, -0.2, -0.4, 0.0]]),
        torch.full((1, 4), 5.0),
        torch.tensor([[True, True, True, False]]),
    )
    out_boxes, out_scores = props.detect(torch.eye(2), min_score=0.6, max_dets=3)
    assert out_scores[0, 0, :2].tolist() == pytest.approx(
        [torch.sigmoid(torch.tensor(5.0)).item(), torch.sigmoid(torch.tensor(3.0)).item()]
    )
    assert out_scores[0, 0, 2] == 0.0  # the overlapping second box was suppressed
    assert out_boxes[0, 0, 1].tolist() == pytest.approx([0.6, 0.6, 0.8, 0.8])
    assert (out_scores[0, 1] == 0).all()  # the only match of query 1 is padding (invalid)


def test_not_applicable_without_targets_frames_or_queries() -> None:
    feats = crafted_frames([along(L2R, TIMES)])
    times = torch.tensor(TIMES)
    good = prompt("straight", "static", L2R)
    for kwargs, reason in (
        (dict(prompt=None, text_features=queries(1), frame_times=times), "no 'motion'"),
        (dict(prompt=good, text_features=queries(2), frame_times=times), "query embedding"),
        (dict(prompt=good, text_features=queries(1), frame_times=times[:3]), "two sampled"),
    ):
        for fn in (box_alignment, motion_direction):
            with pytest.raises(NotApplicable, match=reason):
                fn(feats, **kwargs)
    broken = prompt("straight", "static", [(0.0, LEFT), (0.5, RIGHT)])
    with pytest.raises(NotApplicable, match="invalid"):
        box_alignment(feats, prompt=broken, text_features=queries(1), frame_times=times)
    # three moves cannot be told apart in order on three frames (two frame steps)
    mid = [0.4, 0.4, 0.55, 0.6]
    busy = prompt("sequence", "static", [(0.0, LEFT), (0.3, mid), (0.6, RIGHT), (1.0, mid)])
    three = crafted_frames([along(L2R, [0.0, 0.5, 1.0])])
    kwargs = dict(prompt=busy, text_features=queries(1), frame_times=torch.tensor([0, 0.5, 1]))
    with pytest.raises(NotApplicable, match="3 sampled frames cannot show the 3 moves"):
        motion_direction(three, **kwargs)
    assert box_alignment(three, **kwargs).value > 0  # the boxes can still be compared


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_scorers_run_on_the_device_of_their_inputs() -> None:
    target = prompt("straight", "free", L2R)
    feats = crafted_frames([along(L2R, TIMES)])
    cuda = type(feats)(
        feats.frames,
        Proposals(
            *(
                getattr(feats.proposals, k).cuda()
                for k in ("boxes", "embeds", "shift", "scale", "valid")
            )
        ),
        feats.thumbnails.cuda(),
    )
    for fn in (box_alignment, motion_direction):
        s = fn(
            cuda,
            prompt=target,
            text_features=queries(1).cuda(),
            frame_times=torch.tensor(TIMES).cuda(),
        )
        assert s.value == pytest.approx(1.0, abs=0.02)
