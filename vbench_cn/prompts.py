"""The bilingual prompt suite: loading, schema validation, statistics and export.

The suite is data (``prompts/suite/<set>.jsonl``, shipped in the wheel as
``vbench_cn._prompts``). Each line is one prompt with an English and a Chinese text and
language-independent metadata that the scorers read (the COCO class an object detector must
find, the Kinetics-400 action, the Places365 scene, ...). Everything here is strict on
purpose: a broken line fails with ``file:line: field: cause`` instead of being skipped,
because a silently dropped prompt changes every score computed on its suite.

Example:
    >>> output_filename("sc-0001", 3)
    'sc-0001-3.mp4'
    >>> parse_output_filename("runs/sora/sc-0001-3.mp4")
    ('sc-0001', 3)
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from vbench_cn._resources import prompts_dir
from vbench_cn._text import did_you_mean
from vbench_cn.motion_targets import MotionError, check_words, conditioning, parse_motion
from vbench_cn.specs import ANY_PROMPTS, DimensionSpec, load_specs

__all__ = [
    "CAMERA_MOTIONS",
    "CATEGORIES",
    "COLORS",
    "MIN_PROMPTS",
    "RELATIONS",
    "SET_PREFIXES",
    "Prompt",
    "SuiteError",
    "by_id",
    "by_tag",
    "check_chinese",
    "check_english",
    "dimension_tags",
    "export",
    "find_near_duplicates",
    "labels",
    "load_suite",
    "load_vbench_prompt_info",
    "naming_note",
    "normalize_scene",
    "output_filename",
    "parse_output_filename",
    "read_export",
    "stats",
    "validate_prompt",
]

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")

#: Suite (tag) -> id prefix. The file ``suite/<tag>.jsonl`` holds the prompts of that set.
SET_PREFIXES: dict[str, str] = {
    "subject_consistency": "sc",
    "temporal_flickering": "tf",
    "scene": "sn",
    "object_class": "oc",
    "multiple_objects": "mo",
    "color": "co",
    "spatial_relationship": "sr",
    "human_action": "ha",
    "temporal_style": "ts",
    "appearance_style": "as",
    "overall_consistency": "ov",
    "chinese_culture": "cn",
    "text_rendering": "tx",
    "long_multi_event": "lm",
    "motion_control": "mc",
}

#: Minimum number of prompts per tag. The first eleven are VBench's per-dimension counts
#: (``prompts/prompts_per_dimension/*.txt`` in VBench 0.1.5); the last four are ours.
MIN_PROMPTS: dict[str, int] = {
    "subject_consistency": 72,
    "scene": 86,
    "temporal_flickering": 75,
    "overall_consistency": 93,
    "object_class": 79,
    "multiple_objects": 82,
    "human_action": 100,
    "color": 85,
    "spatial_relationship": 84,
    "temporal_style": 100,
    "appearance_style": 90,
    "chinese_culture": 100,
    "text_rendering": 60,
    "long_multi_event": 40,
    "motion_control": 120,
}

CATEGORIES: tuple[str, ...] = (
    "animal",
    "architecture",
    "food",
    "human",
    "lifestyle",
    "plant",
    "scenery",
    "vehicles",
    "culture",
    "text",
)
COLORS: tuple[str, ...] = (
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "black",
    "white",
)
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
CAMERA_MOTIONS: tuple[str, ...] = (
    "pan left",
    "pan right",
    "tilt up",
    "tilt down",
    "zoom in",
    "zoom out",
    "dolly in",
    "dolly out",
    "orbit",
    "tracking",
    "static",
    "handheld",
)
KEYS: tuple[str, ...] = ("id", "tags", "en", "zh", "category", "meta")
EVENTS_MIN, EVENTS_MAX = 3, 6
DURATION_SECONDS_MIN, DURATION_SECONDS_MAX = 10, 60
DEFAULT_SAMPLES = 5

_ID_RE = re.compile(r"^(?P<prefix>[a-z]{2})-(?P<num>\d{4})$")
_OUTPUT_RE = re.compile(r"^(?P<id>[a-z]{2}-\d+)-(?P<sample>\d+)(?:\.[A-Za-z0-9]+)?$")
# CJK ideographs (basic, extension A, compatibility) plus CJK punctuation and full-width forms.
_CJK_RE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
# ASCII punctuation that has a Chinese counterpart; "." between digits (3.5) is allowed.
_ASCII_PUNCT_RE = re.compile(r"[,;:!?\"()]|(?<!\d)\.|\.(?!\d)")


class SuiteError(ValueError):
    """A prompt file or record breaks the schema; the message is ``where: field: cause``."""


@dataclass(frozen=True)
class Prompt:
    """One prompt of the suite, in both languages.

    Args:
        id: stable id ``<set prefix>-<4 digits>`` (``vb-<n>`` for VBench's own list).
        tags: the suites the prompt belongs to, its own set first.
        en: English text.
        zh: Chinese text (empty for prompts read from VBench's English-only list).
        category: content category, one of :data:`CATEGORIES`.
        meta: language-independent metadata read by the scorers.
    """

    id: str
    tags: tuple[str, ...]
    en: str
    zh: str
    category: str
    meta: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def text(self, lang: Lang) -> str:
        """The prompt text in ``lang`` ("en" or "zh").

        Example:
            >>> Prompt("sc-0001", ("subject_consistency",), "a cat", "一只猫", "animal").text("zh")
            '一只猫'
        """
        if lang not in LANGS:
            raise ValueError(f"unknown language {lang!r}; expected one of {', '.join(LANGS)}")
        value = self.en if lang == "en" else self.zh
        if not value:
            raise ValueError(f"prompt {self.id} has no {lang} text")
        return value

    def to_record(self) -> dict[str, Any]:
        """The JSON object of this prompt, keys in schema order."""
        return {
            "id": self.id,
            "tags": list(self.tags),
            "en": self.en,
            "zh": self.zh,
            "category": self.category,
            "meta": dict(self.meta),
        }


# --------------------------------------------------------------------------- labels


def _labels_dir() -> Path:
    return Path(__file__).resolve().parent / "data" / "labels"


@cache
def labels(name: Literal["coco80", "kinetics400", "places365"]) -> tuple[str, ...]:
    """The label list ``name`` from ``vbench_cn/data/labels/<name>.txt``, in file order.

    Places365 names are written with spaces for slashes and underscores
    (``apartment building outdoor``), as the suite's ``meta.scene`` uses them.

    Example:
        >>> len(labels("coco80")), "teddy bear" in labels("coco80")
        (80, True)
    """
    path = _labels_dir() / f"{name}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: label list not found")
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


def normalize_scene(name: str) -> str:
    """Places365 spelling with spaces: ``"bazaar/outdoor"`` -> ``"bazaar outdoor"``."""
    return " ".join(re.sub(r"[/_]", " ", name).split()).lower()


# --------------------------------------------------------------------------- validation


def _fail(where: str, key: str, cause: str) -> SuiteError:
    return SuiteError(f"{where}: {key}: {cause}")


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _allowed_latin(meta: Mapping[str, Any]) -> list[str]:
    """Strings that may appear in Latin script inside Chinese text (longest first)."""
    allowed: list[str] = []
    nouns = meta.get("proper_nouns", [])
    if isinstance(nouns, list):
        allowed.extend(n for n in nouns if isinstance(n, str) and n)
    text = meta.get("text")
    if isinstance(text, str) and text:
        allowed.append(text)
    return sorted(allowed, key=len, reverse=True)


def check_chinese(text: str, allowed: Sequence[str] = ()) -> str | None:
    """Why ``text`` is not Chinese, or None when it is.

    Chinese text must contain Han characters, no Latin words other than the ``allowed``
    strings (proper nouns, sign text), and Chinese rather than ASCII punctuation.

    Example:
        >>> check_chinese("一只猫在草地上奔跑。") is None
        True
        >>> check_chinese("一只cat在跑")
        "Latin word 'cat' (list it in meta.proper_nouns if it is a proper noun)"
    """
    if not _HAN_RE.search(text):
        return "no Chinese characters"
    rest = text
    for item in allowed:
        rest = rest.replace(item, " ")
    word = _LATIN_WORD_RE.search(rest)
    if word:
        return f"Latin word {word.group(0)!r} (list it in meta.proper_nouns if it is a proper noun)"
    punct = _ASCII_PUNCT_RE.search(rest)
    if punct:
        return f"ASCII punctuation {punct.group(0)!r}; use Chinese punctuation"
    return None


def check_english(text: str, allowed: Sequence[str] = ()) -> str | None:
    """Why ``text`` is not plain English, or None: no CJK outside the ``allowed`` sign text.

    Example:
        >>> check_english("a red lantern reading 福") is None
        False
    """
    rest = text
    for item in allowed:
        rest = rest.replace(item, " ")
    hit = _CJK_RE.search(rest)
    if hit:
        return f"CJK character {hit.group(0)!r} in English text"
    if not re.search(r"[A-Za-z]", rest):
        return "no English words"
    return None


def _suggest(value: str, choices: Sequence[str]) -> str:
    """``"; did you mean A, B?"``: labels extending ``value`` first, else the closest one."""
    extended = [c for c in choices if c.startswith(value + " ")][:3]
    if extended:
        return f"; did you mean {', '.join(extended)}?"
    return did_you_mean(value, choices)


def _check_label(where: str, key: str, value: Any, name: str, title: str) -> None:
    """``value`` must be one of the label list ``name`` (e.g. ``coco80``), spelled exactly."""
    if value is None:
        raise _fail(where, key, f"missing; a {title} class name is required")
    choices = labels(name)  # type: ignore[arg-type]
    if not isinstance(value, str) or value not in choices:
        raise _fail(where, key, f"{value!r} is not a {title} class{_suggest(str(value), choices)}")


def _check_coco(where: str, key: str, value: Any) -> None:
    _check_label(where, key, value, "coco80", "COCO-80")


def _check_meta(where: str, tags: Sequence[str], meta: Mapping[str, Any]) -> None:
    """Check the metadata each tag requires (see prompts/README.md)."""
    if "proper_nouns" in meta:
        nouns = meta["proper_nouns"]
        if not isinstance(nouns, list) or not all(_is_str(n) for n in nouns):
            raise _fail(where, "meta.proper_nouns", "must be a list of non-empty strings")
    if "subject" in meta and not _is_str(meta["subject"]):
        raise _fail(where, "meta.subject", "must be a non-empty English noun phrase")
    for tag in ("subject_consistency", "temporal_flickering", "long_multi_event"):
        if tag in tags and not _is_str(meta.get("subject")):
            raise _fail(where, "meta.subject", f"required for {tag}")
    if "object_class" in tags or "color" in tags or "object" in meta:
        _check_coco(where, "meta.object", meta.get("object"))
    if "count" in meta and (
        not isinstance(meta["count"], int) or isinstance(meta["count"], bool) or meta["count"] < 1
    ):
        raise _fail(where, "meta.count", f"{meta['count']!r} is not a positive integer")
    if "multiple_objects" in tags or "objects" in meta:
        objects = meta.get("objects")
        if not isinstance(objects, list) or len(objects) != 2:
            raise _fail(where, "meta.objects", "must be a list of two COCO-80 class names")
        for obj in objects:
            _check_coco(where, "meta.objects", obj)
        if objects[0] == objects[1]:
            raise _fail(
                where, "meta.objects", f"the two classes must differ, got {objects[0]!r} twice"
            )
    if "color" in tags or "color" in meta:
        color = meta.get("color")
        if color not in COLORS:
            raise _fail(
                where,
                "meta.color",
                f"{color!r} is not one of {', '.join(COLORS)}{did_you_mean(str(color), COLORS)}",
            )
    if "spatial_relationship" in tags or "relation" in meta:
        rel = meta.get("relation")
        if not isinstance(rel, dict) or set(rel) != {"a", "b", "relation"}:
            raise _fail(where, "meta.relation", 'must be {"a": COCO, "b": COCO, "relation": ...}')
        _check_coco(where, "meta.relation.a", rel["a"])
        _check_coco(where, "meta.relation.b", rel["b"])
        if rel["relation"] not in RELATIONS:
            raise _fail(
                where,
                "meta.relation.relation",
                f"{rel['relation']!r} is not one of {', '.join(RELATIONS)}",
            )
    if "human_action" in tags or "action" in meta:
        _check_label(where, "meta.action", meta.get("action"), "kinetics400", "Kinetics-400")
    if "scene" in tags or "scene" in meta:
        scene = meta.get("scene")
        places = labels("places365")
        if not isinstance(scene, str) or scene not in places:
            hint = did_you_mean(normalize_scene(str(scene)), places)
            raise _fail(where, "meta.scene", f"{scene!r} is not a Places365 category{hint}")
    if "appearance_style" in tags or "style" in meta:
        style = meta.get("style")
        if not isinstance(style, dict) or not (
            _is_str(style.get("en")) and _is_str(style.get("zh"))
        ):
            raise _fail(where, "meta.style", 'must be {"en": "...", "zh": "..."}')
        if set(style) != {"en", "zh"}:
            raise _fail(where, "meta.style", f"unknown keys {sorted(set(style) - {'en', 'zh'})}")
    if "temporal_style" in tags or "camera_motion" in meta:
        motion = meta.get("camera_motion")
        if motion not in CAMERA_MOTIONS:
            raise _fail(
                where,
                "meta.camera_motion",
                f"{motion!r} is not one of {', '.join(CAMERA_MOTIONS)}"
                f"{did_you_mean(str(motion), CAMERA_MOTIONS)}",
            )
    if "text_rendering" in tags or "text" in meta:
        if not _is_str(meta.get("text")):
            raise _fail(where, "meta.text", "the exact sign text is required")
        if meta.get("text_lang") not in LANGS:
            raise _fail(where, "meta.text_lang", f"{meta.get('text_lang')!r} is not 'zh' or 'en'")
    if "long_multi_event" in tags or "events" in meta:
        events = meta.get("events")
        if not isinstance(events, list) or not EVENTS_MIN <= len(events) <= EVENTS_MAX:
            raise _fail(where, "meta.events", f"must be a list of {EVENTS_MIN}-{EVENTS_MAX} events")
        for i, event in enumerate(events):
            if not isinstance(event, dict) or set(event) != {"en", "zh"}:
                raise _fail(where, f"meta.events[{i}]", 'must be {"en": "...", "zh": "..."}')
            allowed = _allowed_latin(meta)
            for lang, check in (("en", check_english), ("zh", check_chinese)):
                if not _is_str(event[lang]):
                    raise _fail(where, f"meta.events[{i}].{lang}", "empty")
                cause = check(event[lang], allowed)
                if cause:
                    raise _fail(where, f"meta.events[{i}].{lang}", cause)
        seconds = meta.get("duration_seconds")
        if (
            not isinstance(seconds, (int, float))
            or isinstance(seconds, bool)
            or not DURATION_SECONDS_MIN <= seconds <= DURATION_SECONDS_MAX
        ):
            raise _fail(
                where,
                "meta.duration_seconds",
                f"{seconds!r} is not a number of seconds in "
                f"{DURATION_SECONDS_MIN}-{DURATION_SECONDS_MAX}",
            )

    if "motion_control" in tags or "motion" in meta:
        try:
            parse_motion(meta.get("motion"))
        except MotionError as err:
            raise _fail(where, err.field, err.cause) from None


def _check_motion_words(where: str, record: Mapping[str, Any]) -> None:
    """A motion prompt's texts must name its objects and the motion its boxes draw."""
    motion = record["meta"].get("motion")
    if motion is None:
        return
    target = parse_motion(motion)
    mismatch = check_words(target, {"en": record["en"], "zh": record["zh"]})
    if mismatch:
        raise _fail(where, mismatch[0], mismatch[1])
    if target.first_frame:
        allowed = _allowed_latin(record["meta"])
        for lang, check in (("en", check_english), ("zh", check_chinese)):
            cause = check(target.first_frame[lang], allowed)
            if cause:
                raise _fail(where, f"meta.motion.first_frame.{lang}", cause)


def validate_prompt(record: Any, where: str) -> Prompt:
    """Check one decoded JSON record against the suite schema and build its :class:`Prompt`.

    Args:
        record: the object decoded from one line of a suite file.
        where: location used in error messages, e.g. ``"suite/scene.jsonl:12"``.

    Returns:
        The prompt, with ``tags`` as a tuple.

    Raises:
        SuiteError: ``"<where>: <field>: <cause>"`` for the first problem found.
    """
    if not isinstance(record, dict):
        raise _fail(where, "record", f"expected a JSON object, got {type(record).__name__}")
    missing = [k for k in KEYS if k not in record]
    if missing:
        raise _fail(where, missing[0], "missing")
    unknown = [k for k in record if k not in KEYS]
    if unknown:
        raise _fail(where, unknown[0], f"unknown key{did_you_mean(unknown[0], KEYS)}")
    if tuple(record) != KEYS:
        raise _fail(where, "keys", f"must be in the order {', '.join(KEYS)}")

    pid = record["id"]
    match = _ID_RE.match(pid) if isinstance(pid, str) else None
    if not match:
        raise _fail(where, "id", f"{pid!r} is not '<2-letter set prefix>-<4 digits>'")

    tags = record["tags"]
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
        raise _fail(where, "tags", "must be a non-empty list of suite names")
    for tag in tags:
        if tag not in SET_PREFIXES:
            raise _fail(where, "tags", f"unknown tag {tag!r}{did_you_mean(tag, SET_PREFIXES)}")
    if len(set(tags)) != len(tags):
        raise _fail(where, "tags", "repeated tag")
    expected = SET_PREFIXES[tags[0]]
    if match["prefix"] != expected:
        raise _fail(
            where, "id", f"{pid!r} must start with {expected!r}- (its first tag is {tags[0]})"
        )

    category = record["category"]
    if category not in CATEGORIES:
        raise _fail(
            where,
            "category",
            f"{category!r} is not one of {', '.join(CATEGORIES)}"
            f"{did_you_mean(str(category), CATEGORIES)}",
        )
    meta = record["meta"]
    if not isinstance(meta, dict):
        raise _fail(where, "meta", "must be a JSON object")

    for lang in LANGS:
        if not _is_str(record[lang]):
            raise _fail(where, lang, "must be a non-empty string")
        if record[lang] != record[lang].strip():
            raise _fail(where, lang, "leading or trailing whitespace")
    if "text" in meta and isinstance(meta["text"], str):
        for lang in LANGS:
            if meta["text"] not in record[lang]:
                raise _fail(where, lang, f"must contain the sign text {meta['text']!r} verbatim")
    allowed = _allowed_latin(meta)
    cause = check_english(record["en"], allowed)
    if cause:
        raise _fail(where, "en", cause)
    cause = check_chinese(record["zh"], allowed)
    if cause:
        raise _fail(where, "zh", cause)

    _check_meta(where, tags, meta)
    _check_motion_words(where, record)
    return Prompt(
        id=pid,
        tags=tuple(tags),
        en=record["en"],
        zh=record["zh"],
        category=category,
        meta=meta,
    )


# --------------------------------------------------------------------------- loading


def _suite_files(path: Path | str | None) -> list[Path]:
    root = Path(path) if path is not None else prompts_dir() / "suite"
    if root.is_file():
        return [root]
    if (root / "suite").is_dir():
        root = root / "suite"
    if not root.is_dir():
        raise SuiteError(f"{root}: not a prompt-suite folder or .jsonl file")
    return sorted(root.glob("*.jsonl"))


def load_suite(path: Path | str | None = None) -> list[Prompt]:
    """Read and validate every ``suite/*.jsonl`` file.

    Args:
        path: a suite folder, a folder holding ``suite/``, or one ``.jsonl`` file. Default:
            the built-in suite.

    Returns:
        The prompts, file by file (sorted by file name), in line order.

    Raises:
        SuiteError: ``"file:line: field: cause"`` for the first broken record, a file whose
            first tag is not its own name, or an id used twice.
    """
    prompts: list[Prompt] = []
    seen: dict[str, str] = {}
    for file in _suite_files(path):
        with file.open(encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                where = f"{file}:{lineno}"
                if not line.strip():
                    raise _fail(where, "line", "empty line")
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise _fail(where, "json", err.msg) from None
                prompt = validate_prompt(record, where)
                if file.stem in SET_PREFIXES and prompt.tags[0] != file.stem:
                    raise _fail(where, "tags", f"first tag must be the file's set {file.stem!r}")
                if prompt.id in seen:
                    raise _fail(where, "id", f"{prompt.id!r} already used at {seen[prompt.id]}")
                seen[prompt.id] = where
                prompts.append(prompt)
    return prompts


def _default(prompts: Iterable[Prompt] | None) -> list[Prompt]:
    return list(prompts) if prompts is not None else load_suite()


def by_id(prompts: Iterable[Prompt] | None = None) -> dict[str, Prompt]:
    """Prompts keyed by id (the built-in suite when ``prompts`` is None)."""
    return {p.id: p for p in _default(prompts)}


def dimension_tags(specs: Mapping[str, DimensionSpec] | None = None) -> dict[str, str]:
    """Suite tag or dimension id -> the tag of the prompts it is scored on.

    Each suite tag names itself; each dimension takes the tag its spec's ``prompts`` field
    names (dimensions without a suite of their own borrow one, as in VBench's
    ``dimension_to_folder.json``), or ``"any"`` for a dimension scored on every prompt.
    Read from the specs, so a new dimension needs no entry here.

    Args:
        specs: dimension specs (default: the built-in ones).

    Example:
        >>> dimension_tags()["dynamic_degree"], dimension_tags()["fvd"]
        ('subject_consistency', 'any')
    """
    tags = {tag: tag for tag in SET_PREFIXES}
    tags.update(_builtin_dimension_tags() if specs is None else _spec_tags(specs))
    return tags


def _spec_tags(specs: Mapping[str, DimensionSpec]) -> dict[str, str]:
    return {spec.id: spec.prompts for spec in specs.values()}


@cache
def _builtin_dimension_tags() -> dict[str, str]:
    return _spec_tags(load_specs(check_registries=False))


def by_tag(
    tag: str,
    prompts: Iterable[Prompt] | None = None,
    *,
    specs: Mapping[str, DimensionSpec] | None = None,
) -> list[Prompt]:
    """Prompts of a suite tag or of a dimension (see :func:`dimension_tags`).

    A dimension scored on every prompt (``prompts = "any"``) gets the whole suite.

    Raises:
        KeyError: unknown tag, with a did-you-mean suggestion.
    """
    tags = dimension_tags(specs)
    if tag not in tags:
        raise KeyError(f"unknown tag {tag!r}{did_you_mean(tag, tags)}")
    items = _default(prompts)
    return items if tags[tag] == ANY_PROMPTS else [p for p in items if tags[tag] in p.tags]


def stats(prompts: Iterable[Prompt] | None = None) -> dict[str, dict[str, int]]:
    """Counts per tag: ``{tag: {"total", "en", "zh", "minimum"}}`` for every known tag.

    ``en``/``zh`` count prompts with a text in that language.
    """
    items = _default(prompts)
    out: dict[str, dict[str, int]] = {}
    for tag in SET_PREFIXES:
        tagged = [p for p in items if tag in p.tags]
        out[tag] = {
            "total": len(tagged),
            "en": sum(1 for p in tagged if p.en),
            "zh": sum(1 for p in tagged if p.zh),
            "minimum": MIN_PROMPTS[tag],
        }
    return out


# --------------------------------------------------------------------------- near-duplicates


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


def _ngrams(text: str, n: int) -> frozenset[str]:
    if len(text) <= n:
        return frozenset([text])
    return frozenset(text[i : i + n] for i in range(len(text) - n + 1))


def find_near_duplicates(
    prompts: Sequence[Prompt], lang: Lang, threshold: float = 0.8
) -> list[tuple[str, str, float]]:
    """Pairs of prompts whose ``lang`` texts are nearly the same.

    Similarity is the Jaccard index of character n-grams (3-grams for English, 2-grams for
    Chinese) after case folding, NFKC and punctuation removal, so texts that differ only in
    case or punctuation score 1.0. Pairs are pruned by n-gram-set size (Jaccard >= t needs
    ``min/max size >= t``), which keeps ~1,200 prompts well under a second.

    Args:
        prompts: the prompts to compare (empty texts are skipped).
        lang: "en" or "zh".
        threshold: report pairs with similarity >= this, in ``(0, 1]``.

    Returns:
        ``(id_a, id_b, similarity)`` sorted by decreasing similarity.

    Example:
        >>> a = Prompt("sc-0001", ("subject_consistency",), "A cat runs.", "猫在跑。", "animal")
        >>> b = Prompt("sc-0002", ("subject_consistency",), "a cat runs", "猫在跑", "animal")
        >>> find_near_duplicates([a, b], "en")
        [('sc-0001', 'sc-0002', 1.0)]
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold {threshold} not in (0, 1]")
    n = 3 if lang == "en" else 2
    grams = [
        (p.id, _ngrams(_normalize(p.en if lang == "en" else p.zh), n))
        for p in prompts
        if (p.en if lang == "en" else p.zh)
    ]
    grams.sort(key=lambda item: len(item[1]))
    pairs: list[tuple[str, str, float]] = []
    for i, (id_a, a) in enumerate(grams):
        for id_b, b in grams[i + 1 :]:
            if len(a) < threshold * len(b):
                break
            inter = len(a & b)
            sim = inter / (len(a) + len(b) - inter)
            if sim >= threshold:
                first, second = sorted((id_a, id_b))
                pairs.append((first, second, round(sim, 4)))
    pairs.sort(key=lambda t: (-t[2], t[0], t[1]))
    return pairs


# --------------------------------------------------------------------------- file names & export


def output_filename(prompt_id: str, sample: int, ext: str = ".mp4") -> str:
    """File name of one generated video: ``{prompt_id}-{sample}{ext}``.

    Ids are ASCII and short, unlike VBench's ``{prompt text}-{i}.mp4``, so Chinese prompts
    never hit the 255-byte file-name limit.
    """
    if sample < 0:
        raise ValueError(f"sample {sample} must be >= 0")
    return f"{prompt_id}-{sample}{ext}"


def parse_output_filename(name: str | Path) -> tuple[str, int] | None:
    """``(prompt_id, sample)`` from a file name made by :func:`output_filename`, else None.

    Example:
        >>> parse_output_filename("zh-prompt.mp4") is None
        True
    """
    match = _OUTPUT_RE.match(Path(name).name)
    if not match:
        return None
    return match["id"], int(match["sample"])


def naming_note(lang: Lang, samples: int) -> str:
    """One line telling a model team how to name the videos it generates."""
    last = samples - 1
    return (
        f"vbench-cn prompts ({lang}): generate {samples} videos per prompt and save each as "
        f"{{prompt_id}}-{{i}}.mp4 with i = 0..{last} (e.g. sc-0001-0.mp4 ... sc-0001-{last}.mp4)"
    )


def export(
    prompts: Sequence[Prompt],
    lang: Lang,
    fmt: Literal["txt", "json"] = "txt",
    *,
    samples: int = DEFAULT_SAMPLES,
    header: bool = True,
    frames: int | None = None,
) -> str:
    """The prompts as text for a model team to generate videos from.

    Args:
        prompts: the prompts to export, in order.
        lang: which text to export.
        fmt: ``"txt"``: a ``#`` header with the naming rule (unless ``header`` is False),
            then one ``id<TAB>text`` line per prompt. ``"json"``: a list of ``{"id", "text",
            "tags", "meta", "files"}`` where ``files`` are the ``samples`` video names;
            motion-control prompts also get ``conditioning``, what a box-conditioned model
            is given (:func:`vbench_cn.motion_targets.conditioning`: object names in
            ``lang``, their boxes at key times, the optional first-frame description).
        samples: videos to generate per prompt (VBench uses 5).
        header: start a txt export with the ``#`` naming note (the CLI prints it apart).
        frames: with ``json``, also give each object's box on every frame of a clip of
            this many frames.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if frames is not None and frames < 2:
        raise ValueError(f"frames must be >= 2, got {frames}")
    if fmt == "txt":
        lines = [f"# {naming_note(lang, samples)}"] if header else []
        lines += [f"{p.id}\t{p.text(lang)}" for p in prompts]
        return "\n".join(lines) + "\n"
    if fmt == "json":
        items = []
        for p in prompts:
            item: dict[str, Any] = {
                "id": p.id,
                "text": p.text(lang),
                "tags": list(p.tags),
                "meta": dict(p.meta),
                "files": [output_filename(p.id, i) for i in range(samples)],
            }
            if "motion" in p.meta:
                item["conditioning"] = conditioning(parse_motion(p.meta["motion"]), lang, frames)
            items.append(item)
        return json.dumps(items, ensure_ascii=False, indent=2) + "\n"
    raise ValueError(f"unknown format {fmt!r}; expected txt or json")


def read_export(text: str, fmt: Literal["txt", "json"]) -> list[tuple[str, str]]:
    """``(id, text)`` pairs back from :func:`export` output (``#`` lines are skipped)."""
    if fmt == "json":
        return [(item["id"], item["text"]) for item in json.loads(text)]
    pairs = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        pid, _, body = line.partition("\t")
        pairs.append((pid, body))
    return pairs


# --------------------------------------------------------------------------- VBench's list


def _unwrap(value: Any, key: str) -> Any:
    """VBench nests aux info as ``{"scene": {"scene": "alley"}}``; peel same-named layers."""
    while isinstance(value, dict) and key in value:
        value = value[key]
    return value


def _vbench_meta(aux: Mapping[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"vbench_auxiliary_info": dict(aux)}
    if "object_class" in aux:
        meta["object"] = _unwrap(aux["object_class"], "object")
    if "multiple_objects" in aux:
        names = _unwrap(aux["multiple_objects"], "object")
        if isinstance(names, str):
            meta["objects"] = [s.strip() for s in names.split(" and ")]
    if "color" in aux:
        meta["color"] = _unwrap(aux["color"], "color")
    if "spatial_relationship" in aux:
        rel = _unwrap(aux["spatial_relationship"], "spatial_relationship")
        if isinstance(rel, dict):
            relation = str(rel.get("relationship", "")).replace("on the ", "").strip()
            meta["relation"] = {
                "a": rel.get("object_a"),
                "b": rel.get("object_b"),
                "relation": relation,
            }
    if "scene" in aux:
        meta["scene"] = _unwrap(aux["scene"], "scene")
    if "appearance_style" in aux:
        style = _unwrap(aux["appearance_style"], "appearance_style")
        meta["style"] = {"en": style, "zh": ""}
    return meta


def load_vbench_prompt_info(path: Path | str) -> list[Prompt]:
    """Read VBench's own ``VBench_full_info.json`` (from the user's VBench install).

    For teams who generated videos from VBench's prompt list: each entry
    ``{"prompt_en", "dimension": [...], "auxiliary_info": {...}}`` becomes a prompt with id
    ``vb-<n>`` (line order, from 0), English text only, tags mapped from VBench dimensions
    to our suites, and the auxiliary info translated to our ``meta`` keys (the raw dict is
    kept in ``meta["vbench_auxiliary_info"]``). A text listed again (for other dimensions)
    is one prompt with the tags and auxiliary info of every entry, under the first id.
    vbench-cn ships none of VBench's text.

    Raises:
        SuiteError: ``"file: entry N: field: cause"`` for a malformed entry.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise SuiteError(f"{path}: cannot read VBench prompt info: {err}") from None
    if not isinstance(data, list):
        raise SuiteError(f"{path}: expected a JSON list of prompt entries")
    suites = {d: t for d, t in dimension_tags().items() if t != ANY_PROMPTS}
    prompts: list[Prompt] = []
    by_text: dict[str, int] = {}
    for n, entry in enumerate(data):
        where = f"{path}: entry {n}"
        if not isinstance(entry, dict):
            raise _fail(where, "entry", "expected a JSON object")
        text = entry.get("prompt_en")
        if not _is_str(text):
            raise _fail(where, "prompt_en", "missing or empty")
        dims = entry.get("dimension")
        if not isinstance(dims, list) or not all(isinstance(d, str) for d in dims):
            raise _fail(where, "dimension", "must be a list of dimension names")
        tags: list[str] = []
        for dim in dims:
            if dim not in suites:
                raise _fail(
                    where,
                    "dimension",
                    f"unknown dimension {dim!r}{did_you_mean(dim, suites)}",
                )
            tag = suites[dim]
            if tag not in tags:
                tags.append(tag)
        aux = entry.get("auxiliary_info", {})
        if not isinstance(aux, dict):
            raise _fail(where, "auxiliary_info", "must be a JSON object")
        first = by_text.get(text)
        if first is not None:  # the same text listed again for other dimensions: one prompt
            old = prompts[first]
            merged_aux = {**old.meta["vbench_auxiliary_info"], **aux}
            prompts[first] = dataclasses.replace(
                old,
                tags=tuple(dict.fromkeys([*old.tags, *tags])),
                meta=_vbench_meta(merged_aux),
            )
            continue
        by_text[text] = len(prompts)
        prompts.append(
            Prompt(
                id=f"vb-{n}",
                tags=tuple(tags),
                en=text,
                zh="",
                category="",
                meta=_vbench_meta(aux),
            )
        )
    return prompts
