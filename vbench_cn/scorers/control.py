"""Control scorers: are the named objects where the boxes say, and do they move as the words say?

Both read a motion-control prompt's targets (``meta.motion``, :mod:`vbench_cn.motion_targets`:
per object, normalised boxes at clip fractions), the open-vocabulary detector's proposals of
every sampled frame scored against the prompt's object names (``text_features``: the
English names, OWLv2 reads English only), and where each frame lies in the clip
(``frame_times``).

* :func:`box_alignment` (box-conditioned models): each frame's target box is the
  interpolation of the key boxes at that frame's time; detections are matched to it as
  Boximator does (Wang et al. 2024, "Boximator: Generating Rich and Controllable Motions for
  Video Synthesis", arXiv 2402.01566, Tables 1-2): average precision of detected boxes
  against the constraint boxes, COCO style (every frame an image, every object a category,
  detections ranked by confidence, 101-point interpolated precision, AP@0.5, AP@0.75 and the
  mean over IoU 0.50:0.05:0.95), plus the mean IoU of each frame's best box and the share
  of frames where the object is found. Boximator tracks boxes with GroundingDINO + DEVA on
  MSR-VTT clips; we detect per frame with OWLv2 on our suite, so numbers are not comparable
  with its table (``docs/motion-control.md``).
* :func:`motion_direction` (any text-to-video model): from each object's detected track,
  whether its displacement, size change (approach / recede) and order of moves agree with
  the key boxes, which the prompt's words describe (the suite checks that words and boxes
  agree). The track may take its time: the moves are matched in order to the best monotone
  split of the frames. With ``camera = "free"`` the background's own motion, estimated from
  grey thumbnails with the objects masked out, is subtracted first, and with two objects
  their relative motion (camera-independent) is scored too; with ``camera = "static"`` the
  frame is the reference, so a pan that fakes or hides the motion is not forgiven.

Everything is torch on the device the features are on; nothing here loads a model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch

from vbench_cn.features.outputs import DetectorFrames
from vbench_cn.motion_targets import (
    NAMED_SCALE,
    MotionError,
    MotionTarget,
    ObjectTarget,
    Segment,
    centre,
    parse_motion,
)
from vbench_cn.scorers import NotApplicable, Score, scorer

#: COCO's IoU thresholds 0.50:0.05:0.95 (index 0 is AP@0.5, index 5 AP@0.75).
IOU_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
#: Recall points of COCO's interpolated precision.
RECALL_POINTS = 101
#: Centre move (fraction of the frame) from which a segment is a move to be made.
MOVE_MIN = 0.1
#: A move counts in full once it covers this share of the target distance (or size change).
REACH = 0.5
#: A still object loses all credit once it moves this far (fraction of the frame).
STILL_TOL = 0.1
#: Size ratio from which a segment is an approach or a recede.
SCALE_MIN = 1.25
#: Two objects' boxes overlapping more than this are taken as the same thing.
SAME_BOX_IOU = 0.7

METRICS = ("map", "ap50", "ap75", "mean_iou", "found")


# --------------------------------------------------------------------------- geometry


def paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of boxes ``a`` and ``b`` (``(..., 4)`` ``[x0, y0, x1, y1]``, broadcast), elementwise.

    Example:
        >>> paired_iou(torch.tensor([0.0, 0, 2, 2]), torch.tensor([1.0, 0, 3, 2])).item()
        0.3333333432674408
    """
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_a + area_b - inter).clamp(min=1e-12)


def target_boxes(target: MotionTarget, times: torch.Tensor) -> torch.Tensor:
    """``(F, Q, 4)``: each object's target box at each frame's clip fraction.

    Example:
        >>> t = parse_motion({"kind": "straight", "camera": "free", "objects": [
        ...     {"en": "a", "zh": "甲", "boxes": [{"t": 0, "box": [0, 0, 0.2, 0.2]},
        ...                                     {"t": 1, "box": [0.8, 0, 1, 0.2]}]}]})
        >>> target_boxes(t, torch.tensor([0.0, 0.5]))[:, 0, 0].tolist()
        [0.0, 0.4000000059604645]
    """
    rows = [[obj.box_at(float(t)) for obj in target.objects] for t in times.tolist()]
    out = torch.tensor(rows, dtype=torch.float32, device=times.device)
    return out.reshape(len(rows), len(target.objects), 4)


def centres_and_sizes(boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres ``(..., 2)`` and log sizes ``(...)`` (log of the square root of the area)."""
    mid = (boxes[..., :2] + boxes[..., 2:]) / 2
    wh = (boxes[..., 2:] - boxes[..., :2]).clamp(min=1e-6)
    return mid, 0.5 * torch.log(wh[..., 0] * wh[..., 1])


# --------------------------------------------------------------------------- box alignment


def average_precision(
    scores: torch.Tensor,
    ious: torch.Tensor,
    frames: torch.Tensor,
    num_targets: int,
    thresholds: Sequence[float] = IOU_THRESHOLDS,
) -> torch.Tensor:
    """COCO-style average precision of one category, at each IoU threshold.

    Every frame holds one target box of the category; detections are ranked by score over
    all frames (stable for ties, as COCO's mergesort); at threshold θ a detection is a true
    positive when its IoU with its frame's target is at least θ and no higher-ranked
    detection of that frame matched first, otherwise a false positive. Precision is made
    non-increasing from the right and read at 101 recall points (0, 0.01, ..., 1); a recall
    never reached counts precision 0.

    Args:
        scores: ``(N,)`` detection confidences.
        ious: ``(N,)`` IoU of each detection with its frame's target.
        frames: ``(N,)`` which frame (target) each detection belongs to.
        num_targets: number of targets (frames) of the category.
        thresholds: IoU thresholds.

    Returns:
        ``(len(thresholds),)`` AP per threshold.

    Example:
        >>> s, iou, f = torch.tensor([0.9, 0.8]), torch.tensor([0.9, 0.3]), torch.tensor([0, 1])
        >>> average_precision(s, iou, f, 2, (0.5,)).tolist()
        [0.5049505233764648]
    """
    thr = torch.tensor(list(thresholds), dtype=torch.float32, device=scores.device)
    if num_targets <= 0:
        raise ValueError("average precision needs at least one target")
    n = scores.numel()
    if n == 0:
        return torch.zeros(len(thr), device=scores.device)
    order = torch.argsort(scores, descending=True, stable=True)
    hit = ious[order, None] >= thr[None, :]  # (N, T)
    onehot = torch.nn.functional.one_hot(frames[order].long()).to(torch.float32)  # (N, G)
    seen = (onehot[:, :, None] * hit[:, None, :]).cumsum(0)  # hits so far per frame
    first = (seen * onehot[:, :, None]).sum(1) == 1  # this frame's first hit at this rank
    tp = (hit & first).to(torch.float32)
    ctp, cfp = tp.cumsum(0), (1 - tp).cumsum(0)
    recall = ctp / num_targets
    precision = ctp / (ctp + cfp)
    envelope = precision.flip(0).cummax(0).values.flip(0)
    points = torch.linspace(0, 1, RECALL_POINTS, device=scores.device)
    idx = torch.searchsorted(recall.T.contiguous(), points.expand(len(thr), -1).contiguous())
    reached = idx < n
    sampled = envelope.T.gather(1, idx.clamp(max=n - 1)) * reached
    return sampled.mean(1)


def box_alignment_metrics(
    det_boxes: torch.Tensor,
    det_scores: torch.Tensor,
    targets: torch.Tensor,
    *,
    min_score: float,
) -> dict[str, Any]:
    """Boximator-style alignment of detections with target boxes, per object and overall.

    Args:
        det_boxes: ``(F, Q, M, 4)`` up to ``M`` detections per frame and object, normalised.
        det_scores: ``(F, Q, M)`` their scores (below ``min_score`` = no detection).
        targets: ``(F, Q, 4)`` the target box of each object in each frame.
        min_score: a detection counts from this score.

    Returns:
        ``map`` (mean AP over IoU 0.50:0.95), ``ap50``, ``ap75``, ``mean_iou`` (each frame's
        best-scoring box against its target, 0 where none), ``found`` (share of frames with
        a detection): each the mean over objects, and ``objects`` (the same per object).
    """
    frames, num_q, _ = det_scores.shape
    valid = det_scores >= min_score
    ious = paired_iou(det_boxes, targets[:, :, None, :])
    frame_of = torch.arange(frames, device=det_scores.device)[:, None].expand(
        -1, det_scores.shape[2]
    )
    per_object = []
    for q in range(num_q):
        keep = valid[:, q]
        ap = average_precision(det_scores[:, q][keep], ious[:, q][keep], frame_of[keep], frames)
        best = det_scores[:, q].argmax(-1)
        found = valid[:, q].gather(1, best[:, None]).squeeze(1)
        best_iou = ious[:, q].gather(1, best[:, None]).squeeze(1) * found
        per_object.append(
            {
                "map": float(ap.mean()),
                "ap50": float(ap[0]),
                "ap75": float(ap[5]),
                "mean_iou": float(best_iou.mean()),
                "found": float(found.float().mean()),
            }
        )
    out: dict[str, Any] = {m: sum(o[m] for o in per_object) / num_q for m in METRICS}
    out["objects"] = per_object
    return out


# --------------------------------------------------------------------------- tracks


def object_tracks(
    det_boxes: torch.Tensor, det_scores: torch.Tensor, *, min_score: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each object's box in each frame: its best candidate, two objects never on one box.

    With two objects the pair of candidates with the highest summed score whose boxes
    overlap less than :data:`SAME_BOX_IOU` is taken (an object may also be missing).

    Args:
        det_boxes: ``(F, Q, M, 4)`` candidates; det_scores: ``(F, Q, M)``, best first.
        min_score: candidates scoring less do not count.

    Returns:
        ``boxes (F, Q, 4)`` and ``found (F, Q)``.
    """
    scores = torch.where(det_scores >= min_score, det_scores, torch.zeros_like(det_scores))
    frames, num_q, m = scores.shape
    rows = torch.arange(frames, device=scores.device)
    if num_q == 1:
        best = scores[:, 0].argmax(-1)
        return det_boxes[rows, 0, best][:, None], (scores[rows, 0, best] > 0)[:, None]
    if num_q != 2:
        raise ValueError(f"tracks are built for one or two objects, got {num_q}")
    # candidate m of each object, plus a "missing" option (index m, score 0)
    pad_s = torch.cat([scores, scores.new_zeros(frames, 2, 1)], dim=2)
    pad_b = torch.cat([det_boxes, det_boxes.new_zeros(frames, 2, 1, 4)], dim=2)
    total = pad_s[:, 0, :, None] + pad_s[:, 1, None, :]  # (F, m+1, m+1)
    overlap = paired_iou(pad_b[:, 0, :, None], pad_b[:, 1, None, :]) > SAME_BOX_IOU
    both = (pad_s[:, 0, :, None] > 0) & (pad_s[:, 1, None, :] > 0)
    total = total.masked_fill(overlap & both, -1.0)
    flat = total.reshape(frames, -1).argmax(-1)
    i, j = flat // (m + 1), flat % (m + 1)
    boxes = torch.stack([pad_b[rows, 0, i], pad_b[rows, 1, j]], dim=1)
    found = torch.stack([pad_s[rows, 0, i] > 0, pad_s[rows, 1, j] > 0], dim=1)
    return boxes, found


def fill_gaps(values: torch.Tensor, found: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
    """Values of frames without a detection, linearly interpolated over time (held at ends).

    Example:
        >>> v = torch.tensor([[0.0], [9.0], [2.0]])
        >>> fill_gaps(v, torch.tensor([True, False, True]), torch.tensor([0.0, 0.5, 1.0]))[1]
        tensor([1.])
    """
    if bool(found.all()) or not bool(found.any()):
        return values
    t_known, v_known = times[found], values[found]
    idx = torch.searchsorted(t_known.contiguous(), times.contiguous()).clamp(1, len(t_known) - 1)
    t0, t1 = t_known[idx - 1], t_known[idx]
    w = ((times - t0) / (t1 - t0).clamp(min=1e-9)).clamp(0, 1)[:, None]
    filled = v_known[idx - 1] * (1 - w) + v_known[idx] * w
    return torch.where(found[:, None], values, filled)


def median3(values: torch.Tensor) -> torch.Tensor:
    """Running median over 3 frames along dim 0 (ends kept), against single-frame jumps."""
    if values.shape[0] < 3:
        return values
    stacked = torch.stack([values[:-2], values[1:-1], values[2:]])
    return torch.cat([values[:1], stacked.median(0).values, values[-1:]])


# --------------------------------------------------------------------------- camera


def background_motion(
    thumbnails: torch.Tensor, masks: torch.Tensor, *, max_shift: int = 8
) -> torch.Tensor:
    """Cumulative shift of the background, ``(F, 2)`` in fractions of the frame (x, y).

    For each pair of consecutive frames, the shift of the second thumbnail against the
    first within ``±max_shift`` pixels that minimises the mean absolute difference of
    mean-removed grey levels over pixels outside every object box (``masks``), searched
    at half resolution and refined to sub-pixel by a parabola; shifts are summed from the
    first frame (0, 0). A camera that pans right moves
    the background left: negative x. Pairs with too little unmasked overlap count as 0.

    Args:
        thumbnails: ``(F, H, W)`` grey levels.
        masks: ``(F, H, W)`` True on the objects (ignored pixels).
        max_shift: largest shift per frame pair, in thumbnail pixels.

    Example:
        >>> g = torch.rand(1, 24, 32, generator=torch.Generator().manual_seed(0)).repeat(2, 1, 1)
        >>> g[1] = torch.roll(g[0], 3, dims=1)  # the content moves 3 pixels right
        >>> shift = background_motion(g, torch.zeros(2, 24, 32, dtype=torch.bool))
        >>> ((shift[1] * torch.tensor([32, 24])).round() + 0.0).tolist()  # + 0.0: no -0.0
        [3.0, 0.0]
    """
    f, h, w = thumbnails.shape
    out = thumbnails.new_zeros(f, 2)
    if f < 2 or min(h, w) < 8:
        return out
    g = thumbnails - thumbnails.mean(dim=(1, 2), keepdim=True)
    # half resolution: a quarter of the work, sub-pixel refinement keeps ~1% of the frame
    g = torch.nn.functional.avg_pool2d(g[:, None], 2)[:, 0]
    valid = torch.nn.functional.avg_pool2d((~masks).to(g.dtype)[:, None], 2)[:, 0] > 0.99
    r = max(1, min((max_shift + 1) // 2, g.shape[1] // 3, g.shape[2] // 3))
    cost = _shift_costs(g[:-1], g[1:], valid[:-1].to(g.dtype), valid[1:].to(g.dtype), r)
    flat = cost.reshape(f - 1, -1).argmin(-1)
    size = 2 * r + 1
    iy, ix = flat // size, flat % size
    steps = torch.stack([_refine(cost, iy, ix, axis=1), _refine(cost, iy, ix, axis=0)], dim=1)
    ok = torch.isfinite(cost.reshape(f - 1, -1).min(-1).values)
    steps = torch.where(ok[:, None], (steps - r) * 2, torch.zeros_like(steps))
    out[1:] = steps.cumsum(0) / torch.tensor([w, h], dtype=out.dtype, device=out.device)
    return out


def _shift_costs(
    a: torch.Tensor, b: torch.Tensor, valid_a: torch.Tensor, valid_b: torch.Tensor, r: int
) -> torch.Tensor:
    """``(T, 2r+1, 2r+1)``: mean ``|b(p + d) - a(p)|`` over pixels valid in both, for every
    shift ``d = (dy, dx)``, ``|dy|, |dx| <= r`` (content at ``p`` in ``a`` is at ``p + d`` in
    ``b``); inf where less than a quarter of the pixels take part. One ``unfold``: every
    shifted window at once."""
    t, h, w = a.shape
    pb = torch.nn.functional.pad(b[:, None], (r, r, r, r))
    pv = torch.nn.functional.pad(valid_b[:, None], (r, r, r, r))
    win_b = torch.nn.functional.unfold(pb, (h, w))  # (T, h*w, (2r+1)^2)
    keep = torch.nn.functional.unfold(pv, (h, w)) * valid_a.reshape(t, h * w, 1)
    n = keep.sum(1)
    diff = ((win_b - a.reshape(t, h * w, 1)).abs() * keep).sum(1)
    cost = torch.where(n >= 0.25 * h * w, diff / n.clamp(min=1), torch.full_like(n, float("inf")))
    return cost.reshape(t, 2 * r + 1, 2 * r + 1)


def _refine(cost: torch.Tensor, iy: torch.Tensor, ix: torch.Tensor, *, axis: int) -> torch.Tensor:
    """Sub-pixel position of the minimum along ``axis`` (1 = x, 0 = y) by a parabola fit."""
    size = cost.shape[1]
    rows = torch.arange(cost.shape[0], device=cost.device)
    best = ix if axis == 1 else iy
    lo, hi = (best - 1).clamp(min=0), (best + 1).clamp(max=size - 1)

    def at(k: torch.Tensor) -> torch.Tensor:
        return cost[rows, iy, k] if axis == 1 else cost[rows, k, ix]

    c0, cm, cp = at(best), at(lo), at(hi)
    denom = cm - 2 * c0 + cp
    usable = (lo < best) & (hi > best) & torch.isfinite(cm + cp) & (denom > 1e-9)
    delta = torch.where(usable, 0.5 * (cm - cp) / denom.clamp(min=1e-9), torch.zeros_like(c0))
    return best.to(cost.dtype) + delta.clamp(-0.5, 0.5)


def box_masks(boxes: torch.Tensor, found: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(F, H, W)`` True inside any found object's box, grown by a quarter of its size."""
    ys = (torch.arange(height, device=boxes.device, dtype=boxes.dtype) + 0.5) / height
    xs = (torch.arange(width, device=boxes.device, dtype=boxes.dtype) + 0.5) / width
    pad = (boxes[..., 2:] - boxes[..., :2]) * 0.25
    lo, hi = boxes[..., :2] - pad, boxes[..., 2:] + pad  # (F, Q, 2)
    inside_x = (xs[None, None] >= lo[..., 0:1]) & (xs[None, None] <= hi[..., 0:1])  # (F, Q, W)
    inside_y = (ys[None, None] >= lo[..., 1:2]) & (ys[None, None] <= hi[..., 1:2])  # (F, Q, H)
    inside = inside_y[..., :, None] & inside_x[..., None, :] & found[..., None, None]
    return inside.any(dim=1)


# --------------------------------------------------------------------------- motion agreement


def segment_agreement(measured: tuple[float, float, float], expected: Segment) -> float:
    """How well one measured move ``(dx, dy, dlog)`` does the expected one, in [0, 1].

    * expected move (centre moves at least :data:`MOVE_MIN`, unless the segment also grows
      or shrinks by ``NAMED_SCALE``, whose drift is perspective): ``max(0, cos)`` of the
      two displacements times ``min(1, |measured| / (REACH * |expected|))``;
    * expected size change (ratio at least :data:`SCALE_MIN`): ``measured dlog / (REACH *
      expected dlog)`` clipped to [0, 1] (the wrong way scores 0);
    * neither (stay still): ``1 - |move| / STILL_TOL`` times ``1 - |dlog| / log(NAMED_SCALE)``,
      each clipped at 0.

    The terms that apply are averaged.

    Example:
        >>> seg = Segment(0.0, 1.0, 0.6, 0.0, 0.0)
        >>> segment_agreement((0.5, 0.0, 0.0), seg), segment_agreement((-0.5, 0.0, 0.0), seg)
        (1.0, 0.0)
    """
    mdx, mdy, mdlog = measured
    terms = []
    e_move = math.hypot(expected.dx, expected.dy)
    m_move = math.hypot(mdx, mdy)
    scaling = abs(expected.dlog) >= math.log(SCALE_MIN)
    perspective = abs(expected.dlog) >= math.log(NAMED_SCALE)
    if e_move >= MOVE_MIN and not perspective:
        cos = (mdx * expected.dx + mdy * expected.dy) / (m_move * e_move) if m_move > 0 else 0.0
        terms.append(max(0.0, cos) * min(1.0, m_move / (REACH * e_move)))
    if scaling:
        terms.append(min(1.0, max(0.0, mdlog / (REACH * expected.dlog))))
    if not terms:  # stay put: in place and the same size
        place = max(0.0, 1.0 - m_move / STILL_TOL)
        return place * max(0.0, 1.0 - abs(mdlog) / math.log(NAMED_SCALE))
    return sum(terms) / len(terms)


def track_agreement(
    centres: torch.Tensor, log_sizes: torch.Tensor, target: ObjectTarget
) -> tuple[float, list[int]]:
    """Best agreement of a track with an object's moves, taken in order.

    The frames are split into as many consecutive stretches as the target has moves (every
    split tried, each stretch at least one frame step, first and last frames fixed); each
    stretch's measured move is scored by :func:`segment_agreement`, and the split with the
    highest mean wins, so the moves must come in the prompt's order but may take their time.

    Args:
        centres: ``(F, 2)`` the object's centre per frame; log_sizes: ``(F,)``.
        target: the object's key boxes.

    Returns:
        ``(score, boundaries)``: the mean agreement and the frame index of each stretch's start
        and of the end.
    """
    segments = target.segments()
    f = centres.shape[0]
    c = centres.detach().double().cpu().tolist()
    s = log_sizes.detach().double().cpu().tolist()
    best, best_cut = -1.0, [0, f - 1]
    for inner in itertools.combinations(range(1, f - 1), len(segments) - 1):
        cut = [0, *inner, f - 1]
        total = 0.0
        for seg, a, b in zip(segments, cut[:-1], cut[1:], strict=True):
            total += segment_agreement((c[b][0] - c[a][0], c[b][1] - c[a][1], s[b] - s[a]), seg)
        if total / len(segments) > best:
            best, best_cut = total / len(segments), cut
    return max(0.0, best), best_cut


def relation_agreement(centres: torch.Tensor, target: MotionTarget) -> float | None:
    """Agreement of two objects' relative move (first minus second, start to end) with the
    targets'; a camera's pan moves both alike and cancels. None when it should stay put."""
    a, b = target.objects
    (ax0, ay0), (bx0, by0) = centre(a.keyframes[0].box), centre(b.keyframes[0].box)
    (ax1, ay1), (bx1, by1) = centre(a.keyframes[-1].box), centre(b.keyframes[-1].box)
    expected = Segment(0.0, 1.0, (ax1 - bx1) - (ax0 - bx0), (ay1 - by1) - (ay0 - by0), 0.0)
    if math.hypot(expected.dx, expected.dy) < MOVE_MIN:
        return None
    rel = centres[:, 0] - centres[:, 1]
    d = (rel[-1] - rel[0]).tolist()
    return segment_agreement((d[0], d[1], 0.0), expected)


def motion_scores(
    boxes: torch.Tensor,
    found: torch.Tensor,
    times: torch.Tensor,
    target: MotionTarget,
    *,
    background: torch.Tensor | None = None,
    min_found: float = 0.5,
) -> dict[str, Any]:
    """Per-object and per-prompt agreement of tracks with the target motion.

    Args:
        boxes: ``(F, Q, 4)`` each object's track; found: ``(F, Q)``.
        times: ``(F,)`` clip fractions.
        target: the prompt's motion targets.
        background: ``(F, 2)`` background offset to subtract from centres (free camera).
        min_found: an object found in fewer frames than this share scores 0.

    Returns:
        ``score`` (mean of the object scores and, for two objects, the relation score),
        ``objects`` (per object: score, found share, split, measured move) and ``relation``.
    """
    centres, log_sizes = centres_and_sizes(boxes)
    if background is not None:
        centres = centres - background[:, None, :].to(centres)
    filled_c, filled_s = [], []
    objects = []
    for q, obj in enumerate(target.objects):
        share = float(found[:, q].float().mean())
        c = median3(fill_gaps(centres[:, q], found[:, q], times))
        s = median3(fill_gaps(log_sizes[:, q, None], found[:, q], times))[:, 0]
        filled_c.append(c)
        filled_s.append(s)
        entry: dict[str, Any] = {"name": obj.name["en"], "found": round(share, 4)}
        if share < min_found:
            entry.update(score=0.0, reason=f"found in {share:.0%} of frames (< {min_found:.0%})")
        else:
            value, cut = track_agreement(c, s, obj)
            move = (c[-1] - c[0]).tolist()
            entry.update(
                score=round(value, 6),
                split=cut,
                moved=[round(move[0], 4), round(move[1], 4)],
                size_ratio=round(math.exp(float(s[-1] - s[0])), 4),
            )
        objects.append(entry)
    terms = [o["score"] for o in objects]
    relation = None
    if len(target.objects) == 2 and all(o["found"] >= min_found for o in objects):
        relation = relation_agreement(torch.stack(filled_c, dim=1), target)
        if relation is not None:
            terms.append(relation)
    return {
        "score": sum(terms) / len(terms),
        "objects": objects,
        "relation": None if relation is None else round(relation, 6),
    }


# --------------------------------------------------------------------------- registered scorers


def _inputs(
    features: DetectorFrames,
    prompt: Any,
    text_features: torch.Tensor | None,
    frame_times: torch.Tensor | None,
) -> tuple[MotionTarget, torch.Tensor, torch.Tensor]:
    """The prompt's targets, the object queries and the frame times, or NotApplicable."""
    if prompt is None or not (prompt.meta or {}).get("motion"):
        raise NotApplicable("prompt has no 'motion' metadata (boxes per object)")
    try:
        target = parse_motion(prompt.meta["motion"])
    except MotionError as exc:
        raise NotApplicable(f"prompt's motion metadata is invalid: {exc}") from None
    if len(features) < 2 or frame_times is None or len(frame_times) != len(features):
        raise NotApplicable("needs at least two sampled frames with their times")
    if text_features is None or text_features.shape[0] != len(target.objects):
        raise NotApplicable("no query embedding for each named object")
    device = features.proposals.boxes.device
    return target, text_features.to(device), frame_times.to(device=device, dtype=torch.float32)


@scorer("control.box_alignment")
def box_alignment(
    features: DetectorFrames,
    *,
    prompt: Any = None,
    text_features: torch.Tensor | None = None,
    frame_times: torch.Tensor | None = None,
    metric: str = "map",
    min_score: float = 0.1,
    max_dets: int = 1,
) -> Score:
    """Box alignment with the prompt's target boxes (Boximator's AP, plus IoU and found share).

    Args:
        features: the detector's frames (proposals scored against ``text_features``).
        prompt: its ``meta.motion`` holds the target boxes.
        text_features: ``(Q, D)`` query embeddings of the object names.
        frame_times: ``(F,)`` clip fraction of each sampled frame.
        metric: the score: ``map`` (mAP@[.5:.95]), ``ap50``, ``ap75``, ``mean_iou`` or
            ``found``; the details hold all of them, overall and per object.
        min_score: a detection counts from this score.
        max_dets: detections per frame and object entering the AP (1: one box per object,
            as a tracker gives).

    Example:
        >>> from types import SimpleNamespace as P
        >>> from vbench_cn.features.outputs import DetectorFrames, Proposals
        >>> box = torch.tensor([0.1, 0.1, 0.3, 0.3])
        >>> props = Proposals(box.expand(2, 1, 4), torch.ones(2, 1, 1), torch.zeros(2, 1),
        ...                   torch.full((2, 1), 5.0), torch.ones(2, 1, dtype=torch.bool))
        >>> meta = {"motion": {"kind": "straight", "camera": "static", "objects": [{"en": "a",
        ...         "zh": "甲", "boxes": [{"t": 0, "box": [0.1, 0.1, 0.3, 0.3]},
        ...                               {"t": 1, "box": [0.7, 0.1, 0.9, 0.3]}]}]}}
        >>> s = box_alignment(DetectorFrames(([], []), props, torch.zeros(2, 4, 4)),
        ...     prompt=P(meta=meta), text_features=torch.ones(1, 1),
        ...     frame_times=torch.tensor([0.0, 1.0]))
        >>> round(s.value, 4), s.details["ap50"], s.details["found"]  # frame 1 is off target
        (0.505, 0.504951, 1.0)
    """
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r} is not one of {', '.join(METRICS)}")
    target, queries, times = _inputs(features, prompt, text_features, frame_times)
    det_boxes, det_scores = features.proposals.detect(
        queries, min_score=min_score, max_dets=max_dets
    )
    metrics = box_alignment_metrics(
        det_boxes, det_scores, target_boxes(target, times), min_score=min_score
    )
    for entry, obj in zip(metrics["objects"], target.objects, strict=True):
        entry["name"] = obj.name["en"]
    details = {m: round(metrics[m], 6) for m in METRICS}
    details.update(
        objects=metrics["objects"], frames=len(features), kind=target.kind, metric=metric
    )
    return Score(float(metrics[metric]), details)


@scorer("control.motion_direction")
def motion_direction(
    features: DetectorFrames,
    *,
    prompt: Any = None,
    text_features: torch.Tensor | None = None,
    frame_times: torch.Tensor | None = None,
    min_score: float = 0.1,
    candidates: int = 5,
    min_found: float = 0.5,
    max_shift: int = 8,
) -> Score:
    """Whether the named objects move as the words say (direction, size, order of moves).

    Args:
        features: the detector's frames.
        prompt: its ``meta.motion`` holds the targets the words describe.
        text_features: ``(Q, D)`` query embeddings of the object names.
        frame_times: ``(F,)`` clip fraction of each sampled frame.
        min_score: a detection counts from this score.
        candidates: boxes per frame and object among which tracks are chosen.
        min_found: an object found in fewer frames than this share scores 0.
        max_shift: largest background shift per frame pair (thumbnail pixels) when the
            prompt leaves the camera free.
    """
    target, queries, times = _inputs(features, prompt, text_features, frame_times)
    for obj in target.objects:  # each move needs at least one frame step of its own
        if len(obj.segments()) > len(features) - 1:
            raise NotApplicable(
                f"{len(features)} sampled frames cannot show the {len(obj.segments())} moves "
                f"of {obj.name['en']!r} in order"
            )
    det_boxes, det_scores = features.proposals.detect(
        queries, min_score=min_score, max_dets=candidates
    )
    boxes, found = object_tracks(det_boxes, det_scores, min_score=min_score)
    background = None
    details: dict[str, Any] = {"camera": target.camera, "kind": target.kind}
    thumbs = features.thumbnails.to(boxes.device, torch.float32)
    if thumbs.shape[0] == len(features) and min(thumbs.shape[1:]) >= 8:
        masks = box_masks(boxes, found, thumbs.shape[1], thumbs.shape[2])
        shift = background_motion(thumbs, masks, max_shift=max_shift)
        details["background_moved"] = [round(v, 4) for v in (shift[-1] - shift[0]).tolist()]
        if target.camera == "free":
            background = shift
    result = motion_scores(boxes, found, times, target, background=background, min_found=min_found)
    details.update(objects=result["objects"], relation=result["relation"], frames=len(features))
    return Score(float(result["score"]), details)
