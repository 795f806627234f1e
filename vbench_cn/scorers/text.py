"""Text-in-the-scene scorers: is the requested text written, and does it hold still?

Both read the OCR of sampled frames (extractor ``rapidocr``: one tuple of
:class:`~vbench_cn.features.ocr.OcrBox` per frame) and the text the prompt asks for,
``prompt.meta["expected_text"]`` (a team's own prompts, e.g. a manifest column) or
``prompt.meta["text"]`` (the suite's ``text_rendering`` prompts). Without it they raise
:class:`NotApplicable`.

Texts are compared after :func:`normalize_text`: NFKC, case folded, with spaces,
punctuation and control characters removed, in Chinese and English alike (the recogniser
drops spaces between words and often misreads punctuation, which a sign prompt is not
about).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from vbench_cn.scorers import NotApplicable, Score, scorer

#: Unicode general categories dropped by :func:`normalize_text`: separators, punctuation, control.
_DROPPED = ("Z", "P", "C")


def normalize_text(text: str) -> str:
    """NFKC, case-folded, without spaces, punctuation or control characters.

    Example:
        >>> normalize_text("Ｗｅｌｃｏｍｅ  Home!")
        'welcomehome'
        >>> normalize_text("“北京烤鸭”，")
        '北京烤鸭'
    """
    return "".join(_normalize_chars(text, [1.0] * len(text))[0])


def _normalize_chars(text: str, confidences: Sequence[float]) -> tuple[list[str], list[float]]:
    """Normalise character by character, each output character keeping its source's confidence."""
    chars: list[str] = []
    confs: list[float] = []
    for ch, conf in zip(text, confidences, strict=True):
        for out in unicodedata.normalize("NFKC", ch).casefold():
            if not unicodedata.category(out).startswith(_DROPPED):
                chars.append(out)
                confs.append(float(conf))
    return chars, confs


def expected_text(prompt: Any) -> str:
    """The text a prompt asks to see written: ``meta["expected_text"]``, else ``meta["text"]``.

    A value may be a ``{"en": ..., "zh": ...}`` table (the prompt's language is used).

    Raises:
        NotApplicable: no prompt, no such metadata, or nothing left after normalisation.
    """
    if prompt is None:
        raise NotApplicable(
            "no prompt known for this video (text dimensions need the expected text)"
        )
    meta = getattr(prompt, "meta", None) or {}
    value = meta.get("expected_text") or meta.get("text")
    if isinstance(value, dict):
        value = value.get(getattr(prompt, "lang", "en")) or value.get("en") or value.get("zh")
    if not isinstance(value, str) or not value.strip():
        raise NotApplicable("prompt has no expected text (meta 'text' or 'expected_text')")
    if not normalize_text(value):
        raise NotApplicable(
            f"expected text {value!r} has no letter or character after normalisation"
        )
    return value


@dataclass(frozen=True)
class FrameReading:
    """One frame's normalised reading: the confident boxes joined in reading order."""

    chars: tuple[str, ...]
    confidences: tuple[float, ...]

    @property
    def text(self) -> str:
        """The reading as one string."""
        return "".join(self.chars)


def frame_reading(boxes: Sequence[Any], *, min_confidence: float) -> FrameReading:
    """Join the normalised text of the boxes read with at least ``min_confidence``."""
    chars: list[str] = []
    confs: list[float] = []
    for box in boxes:
        if float(box.confidence) < min_confidence:
            continue
        per_char = tuple(getattr(box, "char_confidences", ()) or ())
        if len(per_char) != len(box.text):
            per_char = (float(box.confidence),) * len(box.text)
        c, p = _normalize_chars(box.text, per_char)
        chars += c
        confs += p
    return FrameReading(tuple(chars), tuple(confs))


@dataclass(frozen=True)
class Alignment:
    """Best alignment of the expected text with a substring of a frame's reading."""

    cost: float  # confidence-weighted edit cost (see :func:`align`)
    edits: int  # plain edit distance of the same alignment
    matched: int  # expected characters read exactly
    reading: str  # the aligned substring of the reading
    mean_confidence: float  # mean recogniser probability of the matched characters (0 if none)


def align(expected: str, reading: FrameReading) -> Alignment:
    """Confidence-weighted approximate substring match (Sellers' semi-global edit distance).

    The expected text ``E`` is aligned with the substring of the reading ``R`` that costs
    least, so other text in the scene (a second sign, a licence plate) costs nothing.
    Deleting or inserting a character costs 1, a wrong character costs 1, and a right
    character read with probability ``p`` costs ``1 - p``: the expected number of errors
    if the recogniser's probability is taken at its word. A crisp, correct rendering
    (``p`` near 1) costs near 0; a pseudo-character that the recogniser maps onto the
    right code point with ``p = 0.3`` still costs 0.7.

    Args:
        expected: the normalised expected text (non-empty).
        reading: the frame's reading.

    Example:
        >>> a = align("北京烤鸭", FrameReading(tuple("欢迎北京烤鸭"), (1.0,) * 6))
        >>> a.cost, a.reading
        (0.0, '北京烤鸭')
    """
    e, r, p = expected, reading.chars, reading.confidences
    n, m = len(e), len(r)
    # cost[i][j]: best cost of E[:i] against a substring of R ending at j (free start).
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = float(i)
        for j in range(1, m + 1):
            diag = cost[i - 1][j - 1] + ((1.0 - p[j - 1]) if e[i - 1] == r[j - 1] else 1.0)
            cost[i][j] = min(diag, cost[i - 1][j] + 1.0, cost[i][j - 1] + 1.0)
    best = min(range(m + 1), key=lambda j: (cost[n][j], -j))  # ties: the longer reading
    i, j = n, best
    edits = matched = 0
    confs: list[float] = []
    while i > 0:
        if j > 0:
            same = e[i - 1] == r[j - 1]
            step = (1.0 - p[j - 1]) if same else 1.0
            if abs(cost[i][j] - (cost[i - 1][j - 1] + step)) < 1e-9:
                if same:
                    matched += 1
                    confs.append(p[j - 1])
                else:
                    edits += 1
                i, j = i - 1, j - 1
                continue
            if abs(cost[i][j] - (cost[i][j - 1] + 1.0)) < 1e-9:
                edits += 1
                j -= 1
                continue
        edits += 1  # expected character missing from the reading
        i -= 1
    start = j
    return Alignment(
        cost[n][best],
        edits,
        matched,
        "".join(r[start:best]),
        sum(confs) / len(confs) if confs else 0.0,
    )


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (unit costs).

    Example:
        >>> edit_distance("北京烤鸭", "北京烧鸭")
        1
    """
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j - 1] + (ca != cb), prev[j] + 1, cur[j - 1] + 1))
        prev = cur
    return prev[-1]


def _frames_or_skip(frames: Sequence[Sequence[Any]] | None) -> Sequence[Sequence[Any]]:
    if frames is None or len(frames) == 0:
        raise NotApplicable("no frame was read (empty video)")
    return frames


@scorer("text.rendering")
def text_rendering(
    frames: Sequence[Sequence[Any]], *, min_confidence: float = 0.5, prompt: Any = None
) -> Score:
    """How well the sampled frames show the expected text: mean over frames of ``1 - cost/|E|``.

    Per frame, the boxes read with at least ``min_confidence`` are normalised and joined in
    reading order, and the expected text ``E`` is aligned with the substring of that
    reading that costs least (:func:`align`). Character similarity and OCR confidence are
    combined inside the alignment, not multiplied afterwards: a wrong, missing or extra
    character costs 1 and a right character read with probability ``p`` costs ``1 - p``,
    so the frame score ``max(0, 1 - cost / |E|)`` is the share of the expected characters
    that the recogniser is sure it sees, in the right order. Correct, legible text scores
    near 1 (clean renders read at ``p`` 0.97-1.0); garbled, pseudo- or missing characters
    score near 0. A frame with no text scores 0. The video's score is the mean over frames,
    because the prompt asks for the text throughout the clip.

    Args:
        frames: one sequence of OCR boxes (``text``, ``confidence``, ``char_confidences``)
            per sampled frame.
        min_confidence: boxes read below this mean probability are ignored (rapidocr's own
            default cut, 0.5): they are mostly texture read as strokes.
        prompt: the video's prompt, whose ``meta`` gives the expected text.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> box = NS(text="北京烤鸭", confidence=1.0, char_confidences=(1.0,) * 4)
        >>> text_rendering([[box], []], prompt=NS(meta={"text": "北京烤鸭"}, lang="zh")).value
        0.5
    """
    target = normalize_text(expected_text(prompt))
    frames = _frames_or_skip(frames)
    scores, accuracies, confidences, readings = [], [], [], []
    for boxes in frames:
        reading = frame_reading(boxes, min_confidence=min_confidence)
        a = align(target, reading)
        scores.append(max(0.0, 1.0 - a.cost / len(target)))
        accuracies.append(max(0.0, 1.0 - a.edits / len(target)))
        if a.matched:
            confidences.append(a.mean_confidence)
        readings.append(a.reading)
    common = Counter(r for r in readings if r).most_common(1)
    return Score(
        sum(scores) / len(scores),
        {
            "expected": target,
            "frames": len(frames),
            "frames_with_match": sum(a > 0 for a in accuracies),
            "best_frame": max(scores),
            "char_accuracy": sum(accuracies) / len(accuracies),
            "mean_confidence": sum(confidences) / len(confidences) if confidences else 0.0,
            "reading": common[0][0] if common else "",
        },
    )


@scorer("text.stability")
def text_stability(
    frames: Sequence[Sequence[Any]],
    *,
    min_confidence: float = 0.5,
    pairs: Literal["all", "consecutive"] = "all",
    min_frames_with_text: int = 2,
    prompt: Any = None,
) -> Score:
    """How consistently the same text is read across frames: mean pairwise reading similarity.

    Each frame's reading is the normalised text of all its boxes read with at least
    ``min_confidence``, joined in reading order (the whole frame, not only the part that
    matches the expected text: garbled text that morphs is what this dimension catches,
    and it matches nothing). For each pair of frames of which at least one has a reading,
    the similarity is ``1 - edit_distance / max(len)``; a frame with no text paired with
    one that has text scores 0 (text that pops in and out is unstable); pairs of two empty
    frames say nothing and are left out. The score is the mean over those pairs. With text
    in fewer than ``min_frames_with_text`` frames there is no reading to compare, and the
    dimension does not apply: a single reading is as likely an OCR artefact (a blank board
    read as 口) as text, and ``text_rendering`` already scores such a video near 0.

    Why not correctness: a model can write the same wrong text steadily, or the right text
    in one frame out of eight; stability separates "morphing letters" from "wrong letters"
    (``text_rendering``). A sign legible throughout scores 1 whatever it says, letters
    that change every frame score near 0.

    Args:
        frames: one sequence of OCR boxes per sampled frame.
        min_confidence: boxes read below this mean probability are ignored.
        pairs: ``all`` pairs of frames (catches slow drift as well as frame-to-frame
            morphing) or ``consecutive`` ones only.
        min_frames_with_text: fewer frames with a reading make the video not applicable.
        prompt: the video's prompt; it must ask for text (same rule as ``text_rendering``).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> box = NS(text="OPEN", confidence=0.9, char_confidences=(0.9,) * 4)
        >>> text_stability([[box], [box], [box]], prompt=NS(meta={"text": "OPEN"}, lang="en")).value
        1.0
    """
    expected_text(prompt)  # applies only where text was asked for
    frames = _frames_or_skip(frames)
    if pairs not in ("all", "consecutive"):
        raise ValueError(f"pairs must be 'all' or 'consecutive', got {pairs!r}")
    readings = [frame_reading(boxes, min_confidence=min_confidence).text for boxes in frames]
    with_text = sum(bool(r) for r in readings)
    if with_text < max(1, min_frames_with_text):
        raise NotApplicable(
            f"text read in {with_text} of {len(frames)} frames, fewer than "
            f"{max(1, min_frames_with_text)} (text_rendering scores it near 0)"
        )
    idx = range(len(readings))
    candidates = (
        [(i, j) for i in idx for j in idx if i < j]
        if pairs == "all"
        else [(i, i + 1) for i in idx[:-1]]
    )
    sims = []
    for i, j in candidates:
        a, b = readings[i], readings[j]
        if not a and not b:
            continue
        sims.append(1.0 - edit_distance(a, b) / max(len(a), len(b)))
    if not sims:
        raise NotApplicable("needs at least 2 frames")
    distinct = Counter(r for r in readings if r)
    return Score(
        sum(sims) / len(sims),
        {
            "frames": len(frames),
            "frames_with_text": with_text,
            "pairs": len(sims),
            "distinct_readings": len(distinct),
            "reading": distinct.most_common(1)[0][0],
        },
    )
