"""Motion-control targets: where each named object must be over time, parsed and checked.

A motion-control prompt (``prompts/suite/motion_control.jsonl``) carries ``meta.motion``::

    {"kind": "straight", "camera": "static",
     "first_frame": {"en": "...", "zh": "..."},            # optional
     "objects": [{"en": "red ball", "zh": "红色皮球",
                  "boxes": [{"t": 0, "box": [0.05, 0.6, 0.15, 0.78]},
                            {"t": 1, "box": [0.85, 0.6, 0.95, 0.78]}]}]}

Boxes are ``[x0, y0, x1, y1]`` in fractions of the frame's width and height (origin top
left, y down); ``t`` is the fraction of the clip (0 = first frame, 1 = last frame), and a
box between key times is the linear interpolation of its neighbours. So the same targets fit
any length, frame rate and size. ``camera = "static"`` means the words ask for a fixed
camera (motion is judged in frame coordinates); ``"free"`` means the words leave the camera
free (motion is judged against the background). The format is documented in
``docs/motion-control.md``; this module has no torch import so the prompt tools stay light.

Example:
    >>> target = parse_motion({"kind": "straight", "camera": "static", "objects": [
    ...     {"en": "ball", "zh": "球", "boxes": [{"t": 0, "box": [0, 0, 0.2, 0.2]},
    ...                                         {"t": 1, "box": [0.8, 0, 1, 0.2]}]}]})
    >>> target.objects[0].box_at(0.5)
    (0.4, 0.0, 0.6, 0.2)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Box = tuple[float, float, float, float]

#: Motion kinds: one object (straight, curved, sequence of moves, approach, recede) or two
#: (crossing paths, swapping sides, one moving past another that stays still).
MOTION_KINDS: tuple[str, ...] = (
    "straight",
    "curved",
    "sequence",
    "approach",
    "recede",
    "cross",
    "swap",
    "one_static",
)
TWO_OBJECT_KINDS = frozenset({"cross", "swap", "one_static"})
#: ``static``: the words ask for a fixed camera; ``free``: they leave it free.
CAMERAS: tuple[str, ...] = ("static", "free")
MOTION_KEYS = frozenset({"kind", "camera", "first_frame", "objects"})
OBJECT_KEYS = frozenset({"en", "zh", "boxes"})

#: Centre displacement (fraction of the frame) from which a move must be named in the words.
NAMED_MOVE = 0.15
#: Size ratio (end over start, either way) from which approach / recede must be named.
NAMED_SCALE = 1.5
#: Size ratio above which a fixed camera is required (a zoom would fake it otherwise).
SCALE_NEEDS_FIXED_CAMERA = 1.25
#: Path length (sum of centre moves) under which an object counts as still.
STILL_PATH = 0.03
#: Smallest box side (fraction of the frame).
MIN_SIDE = 0.02

# Words that name each kind of motion, per language (checked on the whole prompt text).
_CUES: dict[str, dict[str, re.Pattern[str]]] = {
    "en": {
        "horizontal": re.compile(r"\b(left|right)\b", re.I),
        "up": re.compile(
            r"\b(up|upward|upwards|rises?|rising|climbs?|climbing|lifts?|soars?|high|higher|"
            r"top|upper|ascends?|launch\w*|leaps?|takes? off)\b",
            re.I,
        ),
        "down": re.compile(
            r"\b(down|downward|falls?|falling|drops?|dropping|descends?|sinks?|sinking|lowers?|"
            r"bottom|swoops?|dives?|lands?|tumbles?|below|lower|low|dips?)\b",
            re.I,
        ),
        "approach": re.compile(r"\b(toward|towards|closer|approach\w*|nearer)\b", re.I),
        "recede": re.compile(r"\b(away|recede\w*|distance|farther)\b", re.I),
        "still": re.compile(
            r"\b(still|motionless|stationary|stays?|parked|sits|stands|lies|put)\b", re.I
        ),
        "fixed_camera": re.compile(
            r"\b(static camera|static shot|fixed camera|locked-off shot|"
            r"camera (does not move|stays fixed|stays still|holds still))\b",
            re.I,
        ),
    },
    "zh": {
        "horizontal": re.compile(r"[左右]"),
        "up": re.compile(r"[上升起高爬跃]"),
        "down": re.compile(r"[下落降坠俯掉沉低]"),
        "approach": re.compile(
            r"朝镜头|靠近|走近|驶近|开近|越来越近|驶来|奔来|走来|跑来|游过来|跑过来"
        ),
        "recede": re.compile(r"远|驶离|离开"),
        "still": re.compile(r"不动|静|停|稳稳"),
        "fixed_camera": re.compile(
            r"固定镜头|镜头固定|固定机位|镜头不动|镜头静止|静止镜头|镜头保持不动"
        ),
    },
}


class MotionError(ValueError):
    """``meta.motion`` breaks the schema; ``field`` names where, the message says why."""

    def __init__(self, field: str, cause: str) -> None:
        super().__init__(f"{field}: {cause}")
        self.field = field
        self.cause = cause


@dataclass(frozen=True)
class Keyframe:
    """One key time of an object's target: ``t`` in [0, 1] and its normalised box."""

    t: float
    box: Box


@dataclass(frozen=True)
class ObjectTarget:
    """One named object and its boxes at key times."""

    name: Mapping[str, str]
    keyframes: tuple[Keyframe, ...]

    def label(self, lang: str) -> str:
        """The object's name in ``lang`` (English when that language is missing)."""
        return self.name.get(lang) or self.name["en"]

    def box_at(self, t: float) -> Box:
        """The target box at clip fraction ``t``: linear between key times, held outside.

        Example:
            >>> k = (Keyframe(0.0, (0, 0, 1, 1)), Keyframe(1.0, (1, 1, 2, 2)))
            >>> ObjectTarget({"en": "x"}, k).box_at(0.25)
            (0.25, 0.25, 1.25, 1.25)
        """
        return interpolate_box([(k.t, k.box) for k in self.keyframes], t)

    def segments(self) -> list[Segment]:
        """The expected move between consecutive key times, in order."""
        return [
            Segment(a.t, b.t, *_displacement(a.box, b.box))
            for a, b in zip(self.keyframes[:-1], self.keyframes[1:], strict=True)
        ]

    def path_length(self) -> float:
        """Sum of the centre's moves between key times (fractions of the frame)."""
        return sum(math.hypot(s.dx, s.dy) for s in self.segments())

    def scale_ratio(self) -> float:
        """Box size (square root of area) at the end over at the start."""
        return _size(self.keyframes[-1].box) / _size(self.keyframes[0].box)

    @property
    def still(self) -> bool:
        """Whether the object is meant to stay where it is."""
        return self.path_length() < STILL_PATH and abs(math.log(self.scale_ratio())) < math.log(
            SCALE_NEEDS_FIXED_CAMERA
        )


@dataclass(frozen=True)
class Segment:
    """The expected move of an object between two key times.

    ``dx``, ``dy``: centre displacement (fractions of width / height, y down); ``dlog``: log
    of the size ratio (positive = grows, i.e. approaches).
    """

    t0: float
    t1: float
    dx: float
    dy: float
    dlog: float


@dataclass(frozen=True)
class MotionTarget:
    """The parsed ``meta.motion`` of one prompt."""

    kind: str
    camera: str
    objects: tuple[ObjectTarget, ...]
    first_frame: Mapping[str, str] | None = None


def centre(box: Sequence[float]) -> tuple[float, float]:
    """Centre ``(cx, cy)`` of an ``[x0, y0, x1, y1]`` box."""
    return ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)


def interpolate_box(keys: Sequence[tuple[float, Sequence[float]]], t: float) -> Box:
    """The box of ``(t, box)`` keys (times increasing) at clip fraction ``t``.

    Linear between key times, held before the first and after the last: the one rule for a
    target box between key times (scorers, conditioning export and synthetic clips).

    Example:
        >>> interpolate_box([(0.0, (0, 0, 1, 1)), (0.5, (1, 0, 2, 1))], 0.25)
        (0.5, 0.0, 1.5, 1.0)
    """
    if t <= keys[0][0]:
        return tuple(keys[0][1])  # type: ignore[return-value]
    for (ta, a), (tb, b) in zip(keys[:-1], keys[1:], strict=True):
        if t <= tb:
            w = (t - ta) / (tb - ta)
            return tuple(  # type: ignore[return-value]
                round(p + w * (q - p), 12) for p, q in zip(a, b, strict=True)
            )
    return tuple(keys[-1][1])  # type: ignore[return-value]


def _size(box: Sequence[float]) -> float:
    return math.sqrt(max(box[2] - box[0], 1e-9) * max(box[3] - box[1], 1e-9))


def _displacement(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    (ax, ay), (bx, by) = centre(a), centre(b)
    return bx - ax, by - ay, math.log(_size(b) / _size(a))


def _number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _bilingual(value: Any, field: str) -> dict[str, str]:
    if (
        not isinstance(value, Mapping)
        or set(value) != {"en", "zh"}
        or not all(isinstance(value[k], str) and value[k].strip() for k in ("en", "zh"))
    ):
        raise MotionError(field, 'must be {"en": "...", "zh": "..."} with non-empty texts')
    return {"en": value["en"].strip(), "zh": value["zh"].strip()}


def _keyframes(value: Any, field: str) -> tuple[Keyframe, ...]:
    if not isinstance(value, list) or len(value) < 2:
        raise MotionError(field, "must list at least two {t, box} key times (start and end)")
    keys: list[Keyframe] = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, Mapping) or set(item) != {"t", "box"}:
            raise MotionError(where, 'must be {"t": time, "box": [x0, y0, x1, y1]}')
        t, box = item["t"], item["box"]
        if not _number(t) or not 0.0 <= t <= 1.0:
            raise MotionError(f"{where}.t", f"{t!r} is not a clip fraction in [0, 1]")
        if keys and not t > keys[-1].t:
            raise MotionError(f"{where}.t", f"times must increase ({keys[-1].t} then {t})")
        if not isinstance(box, list) or len(box) != 4 or not all(_number(c) for c in box):
            raise MotionError(f"{where}.box", "must be four numbers [x0, y0, x1, y1]")
        x0, y0, x1, y1 = (float(c) for c in box)
        if not (0.0 <= x0 and 0.0 <= y0 and x1 <= 1.0 and y1 <= 1.0):
            raise MotionError(f"{where}.box", f"{box} leaves the frame (coordinates in [0, 1])")
        if not (x1 - x0 >= MIN_SIDE and y1 - y0 >= MIN_SIDE):
            raise MotionError(
                f"{where}.box", f"{box} must have x1 > x0 and y1 > y0 by at least {MIN_SIDE}"
            )
        keys.append(Keyframe(float(t), (x0, y0, x1, y1)))
    if keys[0].t != 0.0 or keys[-1].t != 1.0:
        raise MotionError(field, "the first key time must be 0 and the last 1")
    return tuple(keys)


def parse_motion(value: Any, field: str = "meta.motion") -> MotionTarget:
    """Check ``meta.motion`` (structure, boxes, times, kind) and return it parsed.

    Raises:
        MotionError: naming the first broken field, e.g. ``meta.motion.objects[0].boxes[1].t``.
    """
    if not isinstance(value, Mapping):
        raise MotionError(field, "must be an object {kind, camera, objects[, first_frame]}")
    unknown = sorted(set(value) - MOTION_KEYS)
    if unknown:
        raise MotionError(f"{field}.{unknown[0]}", "unknown key")
    kind, camera = value.get("kind"), value.get("camera")
    if kind not in MOTION_KINDS:
        raise MotionError(f"{field}.kind", f"{kind!r} is not one of {', '.join(MOTION_KINDS)}")
    if camera not in CAMERAS:
        raise MotionError(f"{field}.camera", f"{camera!r} is not one of {', '.join(CAMERAS)}")
    first = value.get("first_frame")
    first_frame = None if first is None else _bilingual(first, f"{field}.first_frame")
    raw = value.get("objects")
    if not isinstance(raw, list) or not 1 <= len(raw) <= 2:
        raise MotionError(f"{field}.objects", "must list one or two objects")
    objects = []
    for i, obj in enumerate(raw):
        where = f"{field}.objects[{i}]"
        if not isinstance(obj, Mapping) or set(obj) != OBJECT_KEYS:
            raise MotionError(where, 'must be {"en": name, "zh": name, "boxes": [...]}')
        name = _bilingual({"en": obj["en"], "zh": obj["zh"]}, where)
        objects.append(ObjectTarget(name, _keyframes(obj["boxes"], f"{where}.boxes")))
    if len({o.name["en"].lower() for o in objects}) != len(objects) or len(
        {o.name["zh"] for o in objects}
    ) != len(objects):
        raise MotionError(f"{field}.objects", "the two objects need different names")
    target = MotionTarget(kind, camera, tuple(objects), first_frame)
    _check_kind(target, field)
    return target


def _check_kind(target: MotionTarget, field: str) -> None:
    """The boxes must show the motion the kind names."""
    objs = target.objects
    kind = target.kind
    if (kind in TWO_OBJECT_KINDS) != (len(objs) == 2):
        want = "two objects" if kind in TWO_OBJECT_KINDS else "one object"
        raise MotionError(f"{field}.objects", f"kind {kind!r} needs {want}")
    if kind in ("curved", "sequence") and len(objs[0].keyframes) < 3:
        raise MotionError(f"{field}.objects[0].boxes", f"a {kind} path needs a waypoint")
    ratio = objs[0].scale_ratio()
    if kind == "approach" and ratio < NAMED_SCALE:
        raise MotionError(f"{field}.objects[0].boxes", f"approach: grows only x{ratio:.2f}")
    if kind == "recede" and ratio > 1.0 / NAMED_SCALE:
        raise MotionError(f"{field}.objects[0].boxes", f"recede: shrinks only x{ratio:.2f}")
    if kind in ("straight", "curved", "sequence") and objs[0].path_length() < NAMED_MOVE:
        raise MotionError(f"{field}.objects[0].boxes", f"{kind}: the object barely moves")
    if kind in ("cross", "swap"):
        start = [centre(o.keyframes[0].box)[0] for o in objs]
        end = [centre(o.keyframes[-1].box)[0] for o in objs]
        if (start[0] - start[1]) * (end[0] - end[1]) >= 0:
            raise MotionError(f"{field}.objects", f"{kind}: the objects must change sides")
        if kind == "swap" and (abs(end[0] - start[1]) > 0.1 or abs(end[1] - start[0]) > 0.1):
            raise MotionError(f"{field}.objects", "swap: each must end where the other began")
    if kind == "one_static" and sum(o.still for o in objs) != 1:
        raise MotionError(f"{field}.objects", "one_static: exactly one object stays still")
    if target.camera == "free" and any(
        abs(math.log(o.scale_ratio())) >= math.log(SCALE_NEEDS_FIXED_CAMERA) for o in objs
    ):
        raise MotionError(
            f"{field}.camera", "an object changes size: approach/recede need a static camera"
        )


def required_cues(target: MotionTarget) -> list[tuple[int | None, str]]:
    """The motion words the prompt text must contain: ``(object index or None, cue)``.

    Each object's key-time moves of at least :data:`NAMED_MOVE` must be named (left/right,
    up, down; not the vertical drift of a move that also grows or shrinks by
    :data:`NAMED_SCALE`, which is perspective), an overall size change of
    :data:`NAMED_SCALE` too (approach, recede), a still object must be called still, and
    a static camera must be said to be fixed.
    """
    cues: list[tuple[int | None, str]] = []
    for i, obj in enumerate(target.objects):
        if obj.still:
            cues.append((i, "still"))
            continue
        for seg in obj.segments():
            if abs(seg.dx) >= NAMED_MOVE:
                cues.append((i, "horizontal"))
            if abs(seg.dlog) >= math.log(NAMED_SCALE):
                continue  # coming closer or going away: the drift down/up is perspective
            if seg.dy <= -NAMED_MOVE:
                cues.append((i, "up"))
            if seg.dy >= NAMED_MOVE:
                cues.append((i, "down"))
        ratio = obj.scale_ratio()
        if ratio >= NAMED_SCALE:
            cues.append((i, "approach"))
        elif ratio <= 1.0 / NAMED_SCALE:
            cues.append((i, "recede"))
    if target.camera == "static":
        cues.append((None, "fixed_camera"))
    return list(dict.fromkeys(cues))


def check_words(target: MotionTarget, texts: Mapping[str, str]) -> tuple[str, str] | None:
    """Whether both texts name the objects and the motion the boxes draw.

    Returns:
        None when aligned, else ``(language, cause)`` for the first mismatch.

    Example:
        >>> t = parse_motion({"kind": "straight", "camera": "free", "objects": [
        ...     {"en": "cat", "zh": "猫", "boxes": [{"t": 0, "box": [0.1, 0.4, 0.2, 0.6]},
        ...                                        {"t": 1, "box": [0.8, 0.4, 0.9, 0.6]}]}]})
        >>> check_words(t, {"en": "A cat walks to the right.", "zh": "一只猫向右走。"}) is None
        True
        >>> check_words(t, {"en": "A cat walks upstairs.", "zh": "一只猫向右走。"})[1]
        "object 0 ('cat') moves horizontally but the English text says neither left nor right"
    """
    for lang in ("en", "zh"):
        text = texts[lang]
        for obj in target.objects:
            name = obj.name[lang]
            found = name.lower() in text.lower() if lang == "en" else name in text
            if not found:
                return lang, f"object name {name!r} does not appear in the text"
        for index, cue in required_cues(target):
            if _CUES[lang][cue].search(text):
                continue
            who = (
                "the camera"
                if index is None
                else (f"object {index} ({target.objects[index].name[lang]!r})")
            )
            return (
                lang,
                f"{who} {_CUE_SAYS[cue]} but the {_LANG_NAME[lang]} text {_CUE_MISSING[cue]}",
            )
    return None


_LANG_NAME = {"en": "English", "zh": "Chinese"}
_CUE_SAYS = {
    "horizontal": "moves horizontally",
    "up": "moves up",
    "down": "moves down",
    "approach": "grows (approaches)",
    "recede": "shrinks (recedes)",
    "still": "stays still",
    "fixed_camera": "is static",
}
_CUE_MISSING = {
    "horizontal": "says neither left nor right",
    "up": "has no word for upward motion",
    "down": "has no word for downward motion",
    "approach": "has no word for coming closer",
    "recede": "has no word for moving away",
    "still": "does not say it stays still",
    "fixed_camera": "does not say the camera is fixed",
}


def conditioning(target: MotionTarget, lang: str, frames: int | None = None) -> dict[str, Any]:
    """What a box-conditioned model is given: names, key-time boxes, optional per-frame boxes.

    Args:
        target: the prompt's parsed ``meta.motion``.
        lang: language of the names and the first-frame description.
        frames: also give each object's box on every frame of an ``frames``-frame clip
            (frame ``i`` at ``t = i / (frames - 1)``).

    Example:
        >>> t = parse_motion({"kind": "straight", "camera": "static", "objects": [
        ...     {"en": "ball", "zh": "球", "boxes": [{"t": 0, "box": [0, 0, 0.2, 0.2]},
        ...                                         {"t": 1, "box": [0.8, 0, 1, 0.2]}]}]})
        >>> conditioning(t, "zh", frames=3)["objects"][0]["frames"][1]
        [0.4, 0.0, 0.6, 0.2]
    """
    out: dict[str, Any] = {
        "format": BOX_FORMAT,
        "camera": target.camera,
        "objects": [],
    }
    if target.first_frame:
        out["first_frame"] = target.first_frame.get(lang) or target.first_frame["en"]
    for obj in target.objects:
        entry: dict[str, Any] = {
            "name": obj.label(lang),
            "keyframes": [{"t": k.t, "box": list(k.box)} for k in obj.keyframes],
        }
        if frames is not None:
            if frames < 2:
                raise ValueError(f"frames must be at least 2, got {frames}")
            entry["frames"] = [
                [round(c, 4) for c in obj.box_at(i / (frames - 1))] for i in range(frames)
            ]
        out["objects"].append(entry)
    return out


#: One line that travels with every export of boxes.
BOX_FORMAT = (
    "boxes [x0, y0, x1, y1] as fractions of frame width and height, origin top left, y down; "
    "t = fraction of the clip (0 first frame, 1 last frame); linear between key times"
)
