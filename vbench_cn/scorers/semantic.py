"""Semantic scorers: does the video show what the prompt asks for?

The nine VBench semantic dimensions (``vbench/{object_class,multiple_objects,color,
spatial_relationship,human_action,scene,appearance_style,temporal_style,
overall_consistency}.py``; formulas summarised in ``docs/vbench-reference.md`` §8-§16),
as pure functions of detector boxes, class probabilities or embeddings plus the prompt's
structured metadata (``prompts/README.md``). Metadata that a dimension needs and the
prompt lacks gives :class:`~vbench_cn.scorers.NotApplicable`, never a score of 0.

Detection-based scorers read :class:`Detection` lists, one list per sampled frame, with
labels in COCO-80 names, so they are language-independent: a Chinese prompt and its English
twin carry the same ``meta``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import torch

from vbench_cn.features.outputs import (
    ClassProbabilities,
    Detection,
    FrameCaptions,
    TaggedEmbeddings,
)
from vbench_cn.scorers import NotApplicable, Score, scorer

#: Colour words VBench's colour check looks for in a caption (``vbench/color.py``).
VBENCH_COLOR_WORDS: tuple[str, ...] = (
    "white",
    "red",
    "pink",
    "blue",
    "silver",
    "purple",
    "orange",
    "green",
    "gray",
    "yellow",
    "black",
    "grey",
)

#: Relation names accepted in ``meta.relation.relation``: ours, plus VBench's phrasing.
_RELATION_ALIASES: dict[str, str] = {
    "left of": "left of",
    "on the left of": "left of",
    "to the left of": "left of",
    "right of": "right of",
    "on the right of": "right of",
    "to the right of": "right of",
    "above": "above",
    "top of": "above",
    "on the top of": "above",
    "on top of": "above",
    "below": "below",
    "bottom of": "below",
    "on the bottom of": "below",
    "under": "below",
}


# --------------------------------------------------------------------------- helpers


def _meta(prompt: Any, key: str) -> Any:
    if prompt is None:
        raise NotApplicable("no prompt known for this video")
    value = (prompt.meta or {}).get(key)
    if value in (None, "", [], {}):
        raise NotApplicable(f"prompt has no {key!r} metadata")
    return value


def _frames(detections: Sequence[Sequence[Detection]] | None) -> Sequence[Sequence[Detection]]:
    if not detections:
        raise NotApplicable("no frame was sampled")
    return detections


def _kept(
    detections: Sequence[Sequence[Detection]] | None, min_score: float
) -> list[list[Detection]]:
    """Every frame's boxes scoring at least ``min_score`` (frames without boxes stay, empty)."""
    return [[d for d in frame if d.score >= min_score] for frame in _frames(detections)]


def _color_object(prompt: Any, color_word: str) -> str:
    """``meta.object``, else VBench's rule on an English prompt (``vbench/color.py``): the text with
    ``"a "``, ``"an "`` and the colour word deleted, stripped ("a red car" -> "car")."""
    if prompt is not None and (prompt.meta or {}).get("object"):
        return str(prompt.meta["object"]).strip()
    if prompt is not None and getattr(prompt, "lang", "en") == "en" and getattr(prompt, "text", ""):
        return prompt.text.replace("a ", "").replace("an ", "").replace(color_word, "").strip()
    raise NotApplicable("prompt has no 'object' metadata")


def _action_label(prompt: Any) -> str:
    """``meta.action``, else VBench's rule on an English prompt (``vbench/human_action.py`` reads it
    from the file name): lower-case, the text after ``"person is "``."""
    if prompt is not None and (prompt.meta or {}).get("action"):
        return str(prompt.meta["action"])
    text = str(getattr(prompt, "text", "") or "").lower() if prompt is not None else ""
    if getattr(prompt, "lang", "en") == "en" and "person is " in text:
        return text.split("person is ")[-1].split("_")[0].strip().rstrip(".")
    raise NotApplicable("prompt has no 'action' metadata")


def _labels(frame: Iterable[Detection]) -> set[str]:
    return {d.label for d in frame}


def _objects(prompt: Any) -> list[str]:
    """The objects of a multiple-objects prompt: ``meta.objects`` or VBench's ``"A and B"``."""
    if prompt is not None and prompt.meta.get("objects"):
        value = prompt.meta["objects"]
    else:
        value = _meta(prompt, "object")
    if isinstance(value, str):
        value = [s.strip() for s in value.split(" and ")]
    names = [str(v).strip() for v in value if str(v).strip()]
    if len(names) < 2:
        raise NotApplicable(f"multiple_objects needs two objects, got {names!r}")
    return names


def _frame_success(detections: Sequence[Sequence[Detection]], names: Sequence[str]) -> Score:
    hits = [all(n in _labels(frame) for n in names) for frame in detections]
    n = len(hits)
    return Score(sum(hits) / n, {"frames": n, "successes": int(sum(hits)), "weight": n})


# --------------------------------------------------------------------------- detection


@scorer("semantic.object_class")
def object_class(
    detections: Sequence[Sequence[Detection]], *, prompt: Any = None, min_score: float = 0.0
) -> Score:
    """Fraction of frames in which the prompt's object is detected (VBench object class).

    ``vbench/object_class.py``: a frame succeeds when the target COCO name is among the
    frame's detected names; per video successes / frames; VBench's aggregate is total
    successful frames / total frames, hence ``details["weight"] = frames``.

    Args:
        detections: one list of :class:`Detection` per sampled frame.
        prompt: the prompt; ``meta.object`` is a COCO-80 name.
        min_score: boxes scoring less are ignored (VBench's GRiT keeps boxes >= 0.5).

    Example:
        >>> from types import SimpleNamespace as P
        >>> d = Detection("dog", 0.9, (0, 0, 1, 1))
        >>> object_class([[d], []], prompt=P(meta={"object": "dog"})).value
        0.5
    """
    target = str(_meta(prompt, "object")).strip()
    return _frame_success(_kept(detections, min_score), [target])


@scorer("semantic.multiple_objects")
def multiple_objects(
    detections: Sequence[Sequence[Detection]], *, prompt: Any = None, min_score: float = 0.0
) -> Score:
    """Fraction of frames in which every object of the prompt is detected.

    ``vbench/multiple_objects.py``: the aux string ``"A and B"`` is split on ``" and "``;
    a frame succeeds only when both names are detected in it. Aggregate as object class.

    Args:
        detections: one list of :class:`Detection` per sampled frame.
        prompt: ``meta.objects`` (two COCO names) or VBench's ``meta.object = "A and B"``.
        min_score: boxes scoring less are ignored.

    Example:
        >>> from types import SimpleNamespace as P
        >>> d = Detection("dog", 0.9, (0, 0, 1, 1))
        >>> multiple_objects([[d]], prompt=P(meta={"objects": ["dog", "cat"]})).value
        0.0
    """
    return _frame_success(_kept(detections, min_score), _objects(prompt))


@scorer("semantic.color")
def color(
    detections: Sequence[Sequence[Detection]], *, prompt: Any = None, min_score: float = 0.0
) -> Score:
    """Among frames where the object is detected, the fraction where it has the asked colour.

    A substitute for ``vbench/color.py`` that reads pixels instead of dense captions: a
    frame counts when a box labelled ``meta.object`` is detected, and succeeds when one such
    box's dominant colour (:attr:`Detection.color`) is ``meta.color``. As in VBench, the
    per-video score is colour frames / object frames and a video whose object is never
    detected is dropped (``NotApplicable``), so the aggregate is the mean over the rest.

    Args:
        detections: one list of :class:`Detection` (with ``color``) per sampled frame.
        prompt: ``meta.color`` and ``meta.object``.
        min_score: boxes scoring less are ignored.

    Example:
        >>> from types import SimpleNamespace as P
        >>> red = Detection("car", 0.9, (0, 0, 1, 1), color="red")
        >>> color([[red], []], prompt=P(meta={"color": "red", "object": "car"})).value
        1.0
    """
    target = str(_meta(prompt, "color")).strip().lower()
    obj = _color_object(prompt, target)
    frames = _kept(detections, min_score)
    object_frames = color_frames = 0
    for frame in frames:
        boxes = [d for d in frame if d.label == obj]
        if not boxes:
            continue
        object_frames += 1
        color_frames += any((d.color or "").lower() == target for d in boxes)
    if object_frames == 0:
        raise NotApplicable(f"{obj!r} was not detected in any frame (VBench drops such videos)")
    return Score(
        color_frames / object_frames,
        {"frames": len(frames), "object_frames": object_frames, "color_frames": color_frames},
    )


@scorer("semantic.color_captions")
def color_captions(
    detections: Sequence[Sequence[Detection]], *, prompt: Any = None, top_box_class: bool = True
) -> Score:
    """VBench's caption-based colour rule, for a dense-captioning detector (GRiT).

    ``vbench/color.py``: for each box whose class equals the object, the frame is an
    object frame if the caption names any of :data:`VBENCH_COLOR_WORDS` and a colour frame
    if the caption contains the target colour (substring tests). With ``top_box_class``
    every box takes the class of the frame's first (top-scoring) box, as VBench's
    ``cap_det[2][0]`` does. The object comes from ``meta.object``; VBench derives it from
    the prompt text by deleting "a ", "an " and the colour word.

    Args:
        detections: per frame, boxes with ``caption`` set, in the detector's order.
        prompt: ``meta.color`` and ``meta.object``.
        top_box_class: reproduce VBench's top-box quirk (True) or use each box's own label.

    Example:
        >>> from types import SimpleNamespace as P
        >>> b = Detection("car", 0.9, (0, 0, 1, 1), caption="a red car")
        >>> color_captions([[b]], prompt=P(meta={"color": "red", "object": "car"})).value
        1.0
    """
    target = str(_meta(prompt, "color")).strip().lower()
    obj = _color_object(prompt, target)
    frames = _frames(detections)
    object_frames = color_frames = 0
    for frame in frames:
        object_flag = color_flag = False
        for d in frame:
            cls = frame[0].label if top_box_class else d.label
            if cls != obj:
                continue
            caption = d.caption or ""
            object_flag |= any(word in caption for word in VBENCH_COLOR_WORDS)
            color_flag |= target in caption
        object_frames += object_flag
        color_frames += color_flag
    if object_frames == 0:
        raise NotApplicable(f"no caption of {obj!r} names a colour (VBench drops such videos)")
    return Score(
        color_frames / object_frames,
        {"frames": len(frames), "object_frames": object_frames, "color_frames": color_frames},
    )


def normalize_relation(relation: str) -> str:
    """Our relation name (left of, right of, above, below) for ours or VBench's phrasing.

    Example:
        >>> normalize_relation("on the top of")
        'above'
    """
    key = " ".join(str(relation).lower().split())
    if key not in _RELATION_ALIASES:
        raise NotApplicable(
            f"unknown relation {relation!r}; allowed: left of, right of, above, below"
        )
    return _RELATION_ALIASES[key]


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes (0 when both are empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def pair_score(
    relation: str,
    box_a: Sequence[float],
    box_b: Sequence[float],
    *,
    directional: bool = True,
    iou_threshold: float = 0.1,
) -> float:
    """Score of "a *relation* b" for two boxes (``vbench/spatial_relationship.py``).

    VBench: with ``dx, dy`` the offset between box centres, a horizontal relation holds
    when ``|dx| > |dy|`` (vertical: ``|dy| > |dx|``), scoring 1 when IoU < ``iou_threshold``
    and ``iou_threshold / IoU`` otherwise. VBench never checks the sign, so "left of" and
    "right of" score the same; with ``directional`` (our default) the sign must match too:
    a is left of b when a's centre has the smaller x, above b when it has the smaller y.

    Example:
        >>> left, right = (0, 0, 10, 10), (20, 0, 30, 10)
        >>> pair_score("left of", left, right), pair_score("right of", left, right)
        (1.0, 0.0)
        >>> pair_score("right of", left, right, directional=False)
        1.0
    """
    rel = normalize_relation(relation)
    dx = (box_b[0] + box_b[2]) / 2 - (box_a[0] + box_a[2]) / 2  # > 0: a is left of b
    dy = (box_b[1] + box_b[3]) / 2 - (box_a[1] + box_a[3]) / 2  # > 0: a is above b
    if rel in ("left of", "right of"):
        holds = abs(dx) > abs(dy) and (not directional or (dx > 0 if rel == "left of" else dx < 0))
    else:
        holds = abs(dy) > abs(dx) and (not directional or (dy > 0 if rel == "above" else dy < 0))
    if not holds:
        return 0.0
    iou = box_iou(box_a, box_b)
    return 1.0 if iou < iou_threshold else iou_threshold / iou


def _integer_box(box: Sequence[float]) -> tuple[float, float, float, float]:
    """A box's coordinates truncated towards zero, as ``int()`` does in VBench's caption tuples."""
    x0, y0, x1, y1 = (float(int(c)) for c in box)
    return (x0, y0, x1, y1)


@scorer("semantic.spatial_relationship")
def spatial_relationship(
    detections: Sequence[Sequence[Detection]],
    *,
    prompt: Any = None,
    direction: Literal["signed", "vbench"] = "signed",
    iou_threshold: float = 0.1,
    min_score: float = 0.0,
) -> Score:
    """Mean over frames of the best pair score for "a *relation* b".

    ``vbench/spatial_relationship.py``: frame score = max over box pairs of
    :func:`pair_score` (0 without a pair), video score = mean of frame scores, aggregate =
    mean over all frames. ``direction="vbench"`` reproduces VBench exactly: every unordered
    pair among the boxes labelled a *or* b (two boxes of the same class included), their
    coordinates truncated to integers as VBench's caption tuples hold them
    (``vbench/third_party/grit_src/image_dense_captions.py``), sign ignored.
    ``direction="signed"`` scores ordered pairs (a box of a, a box of b) and requires the
    sign: a box left of another satisfies "left of" and not "right of".

    Args:
        detections: one list of :class:`Detection` per sampled frame.
        prompt: ``meta.relation = {"a", "b", "relation"}`` (ours or VBench's phrasing).
        direction: ``"signed"`` (correct) or ``"vbench"`` (VBench-compatible).
        iou_threshold: IoU above which the score decays as ``threshold / IoU``.
        min_score: boxes scoring less are ignored.

    Example:
        >>> from types import SimpleNamespace as P
        >>> f = [Detection("dog", .9, (0, 0, 10, 10)), Detection("cat", .9, (20, 0, 30, 10))]
        >>> meta = {"relation": {"a": "dog", "b": "cat", "relation": "right of"}}
        >>> spatial_relationship([f], prompt=P(meta=meta)).value
        0.0
    """
    rel = _meta(prompt, "relation")
    if (
        not isinstance(rel, Mapping)
        or not rel.get("a")
        or not rel.get("b")
        or not rel.get("relation")
    ):
        raise NotApplicable('meta.relation must be {"a", "b", "relation"}')
    a, b, relation = (
        str(rel["a"]).strip(),
        str(rel["b"]).strip(),
        normalize_relation(rel["relation"]),
    )
    if direction not in ("signed", "vbench"):
        raise ValueError(f"direction must be 'signed' or 'vbench', got {direction!r}")
    frames = _kept(detections, min_score)
    scores: list[float] = []
    for frame in frames:
        best = 0.0
        if direction == "vbench":
            boxes = [_integer_box(d.box) for d in frame if d.label in (a, b)]
            pairs = [
                (boxes[i], boxes[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
            ]
        else:
            pairs = [
                (da.box, db.box)
                for da in frame
                if da.label == a
                for db in frame
                if db.label == b and db is not da
            ]
        for box_a, box_b in pairs:
            best = max(
                best,
                pair_score(
                    relation,
                    box_a,
                    box_b,
                    directional=direction == "signed",
                    iou_threshold=iou_threshold,
                ),
            )
        scores.append(best)
    n = len(scores)
    return Score(sum(scores) / n, {"frames": n, "relation": relation, "weight": n})


# --------------------------------------------------------------------------- classifiers


@scorer("semantic.human_action")
def human_action(
    predictions: ClassProbabilities, *, prompt: Any = None, top_k: int = 5, threshold: float = 0.85
) -> Score:
    """1 if the prompt's Kinetics-400 action is among the confident top-k classes, else 0.

    ``vbench/human_action.py``: sigmoid (not softmax) of UMT's logits, top-5, keep those
    with probability >= 0.85 after rounding to 4 decimals; correct iff a kept class name
    (lower-cased) equals the label. VBench takes the label from the file name; we take
    ``meta.action`` (a Kinetics-400 name).

    Args:
        predictions: per-video ``(400,)`` sigmoid probabilities and the class names.
        prompt: ``meta.action``.
        top_k: classes considered.
        threshold: minimum (rounded) probability of a kept class.

    Example:
        >>> from types import SimpleNamespace as P
        >>> pr = ClassProbabilities(torch.tensor([0.9, 0.1]), ["tai chi", "archery"])
        >>> human_action(pr, prompt=P(meta={"action": "tai chi"})).value
        1.0
    """
    target = _action_key(_action_label(prompt))
    probs = predictions.probs.reshape(-1).float()
    k = min(top_k, probs.numel())
    values, indices = torch.topk(probs, k)
    kept = [
        str(predictions.labels[int(i)]).lower()
        for v, i in zip(values.tolist(), indices.tolist(), strict=True)
        if round(v, 4) >= threshold
    ]
    return Score(
        float(target in {_action_key(c) for c in kept}),
        {
            "kept": kept[:top_k],
            "top1": str(predictions.labels[int(indices[0])]),
            "top1_prob": round(float(values[0]), 4),
        },
    )


def _action_key(label: str) -> str:
    """Kinetics names compare lower-case, without parentheses (``(in game)`` vs ``in game``)."""
    return " ".join(label.lower().replace("(", " ").replace(")", " ").split())


@scorer("semantic.scene")
def scene(predictions: ClassProbabilities, *, prompt: Any = None, top_k: int = 5) -> Score:
    """Fraction of frames whose top-k scene classes contain the prompt's Places365 scene.

    A substitute for ``vbench/scene.py`` (Tag2Text captions; a frame succeeds when every
    word of the scene label is a substring of the caption; aggregate = successful frames /
    all frames, hence ``details["weight"] = frames``): here a zero-shot classifier over the
    365 Places labels ranks each frame, and the frame succeeds when ``meta.scene`` is among
    its top ``top_k`` labels. Labels compare with ``/`` and ``_`` read as spaces.

    Args:
        predictions: ``(T, 365)`` per-frame probabilities and the label names.
        prompt: ``meta.scene``.
        top_k: how many labels of each frame count.

    Example:
        >>> from types import SimpleNamespace as P
        >>> probs = torch.tensor([[0.7, 0.3], [0.2, 0.8]])
        >>> pr = ClassProbabilities(probs, ["alley", "bazaar/outdoor"])
        >>> scene(pr, prompt=P(meta={"scene": "alley"}), top_k=1).value
        0.5
    """
    target = _label_key(str(_meta(prompt, "scene")))
    keys = [_label_key(lab) for lab in predictions.labels]
    if target not in keys:
        raise NotApplicable(f"scene {target!r} is not one of the classifier's labels")
    probs = predictions.probs.float()
    probs = probs.reshape(1, -1) if probs.ndim == 1 else probs
    if probs.shape[0] == 0:
        raise NotApplicable("no frame was sampled")
    k = min(top_k, probs.shape[1])
    top = torch.topk(probs, k, dim=1).indices
    hits = (top == keys.index(target)).any(dim=1)
    n = int(probs.shape[0])
    return Score(
        float(hits.float().mean()), {"frames": n, "successes": int(hits.sum()), "weight": n}
    )


def _label_key(label: str) -> str:
    return " ".join(label.replace("/", " ").replace("_", " ").lower().split())


@scorer("semantic.scene_captions")
def scene_captions(captions: FrameCaptions | Sequence[str], *, prompt: Any = None) -> Score:
    """VBench's caption rule for a captioning backbone (Tag2Text, ``vbench/scene.py``).

    A frame succeeds iff every word of the scene label, split on single spaces exactly as
    ``check_generate`` does, is a substring of the frame's caption (case-sensitive: Tag2Text's
    captions are lower-case, as are the labels); score = successful frames / frames
    (``weight`` = frames). The captions go into the details.

    Args:
        captions: one caption per sampled frame, or an object with a ``captions`` attribute
            (:class:`~vbench_cn.features.outputs.FrameCaptions`: VBench's ``captions``).
        prompt: ``meta.scene``.

    Example:
        >>> from types import SimpleNamespace as P
        >>> captions = ["a busy bazaar outdoor", "a street"]
        >>> scene_captions(captions, prompt=P(meta={"scene": "bazaar outdoor"})).value
        0.5
    """
    texts = [str(c) for c in getattr(captions, "captions", captions)]
    words = str(_meta(prompt, "scene")).split(" ")
    if not texts:
        raise NotApplicable("no frame was sampled")
    hits = [all(w in c for w in words) for c in texts]
    n = len(hits)
    return Score(
        sum(hits) / n, {"frames": n, "successes": int(sum(hits)), "weight": n, "captions": texts}
    )


# --------------------------------------------------------------------------- text similarity


@scorer("semantic.text_similarity")
def text_similarity(
    embeddings: torch.Tensor | TaggedEmbeddings,
    *,
    text_features: torch.Tensor | None = None,
    prompt: Any = None,
) -> Score:
    """Cosine similarity between a video's (or its frames') embedding and a text embedding.

    * Frame embeddings ``(T, D)`` (appearance style, ``vbench/appearance_style.py``): the
      per-frame CLIP ``logits_per_text / 100``, i.e. the cosine with logit scale 100,
      averaged over frames; VBench's aggregate sums all frames, hence ``weight = T``.
    * One video embedding ``(1, D)`` (temporal style and overall consistency, ViCLIP,
      ``vbench/overall_consistency.py``): cos(video, text), which can be negative.

    Args:
        embeddings: ``(T, D)`` or ``(1, D)`` embeddings, or :class:`TaggedEmbeddings`.
        text_features: ``(1, D)`` embedding of the spec's text (the runner fills it).
        prompt: the prompt (its language goes into the details).

    Example:
        >>> e = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> text_similarity(e, text_features=torch.tensor([[1.0, 0.0]])).value
        0.5
    """
    model = None
    if isinstance(embeddings, TaggedEmbeddings):
        embeddings, model = embeddings.embeddings, embeddings.model
    if text_features is None:
        raise NotApplicable("no text embedding (the spec needs a text field)")
    if embeddings is None or embeddings.numel() == 0:
        raise NotApplicable("no frame was sampled")
    emb = torch.nn.functional.normalize(
        embeddings.float().reshape(-1, embeddings.shape[-1]), dim=-1
    )
    txt = torch.nn.functional.normalize(
        text_features.to(emb.device, torch.float32).reshape(-1, text_features.shape[-1])[:1],
        dim=-1,
    )
    if emb.shape[-1] != txt.shape[-1]:
        raise ValueError(
            f"embedding width {emb.shape[-1]} != text width {txt.shape[-1]} (different models)"
        )
    sims = (emb @ txt.T).reshape(-1).double()
    value = float(sims.mean())
    if not math.isfinite(value):
        raise ValueError("similarity is not finite")
    details: dict[str, Any] = {"items": int(sims.numel()), "weight": int(sims.numel())}
    if model is not None:
        details["model"] = model
    if prompt is not None:
        details["lang"] = prompt.lang
    return Score(value, details)
