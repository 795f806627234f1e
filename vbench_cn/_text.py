"""Small text helpers: did-you-mean for error messages, and how names read when displayed."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


#: Characters that reorder how text is displayed (Trojan-Source style spoofing).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

#: Letters that read as a Latin letter, mapped to it (Cyrillic and Greek look-alikes, and the
#: Latin letters and digits a sans-serif font draws alike). Compiled by hand for names
#: shown on the leaderboard; not a complete confusables table.
_LOOK_ALIKES = str.maketrans(
    {
        **dict.fromkeys("аАɑα", "a"),
        **dict.fromkeys("ВβΒ", "b"),
        **dict.fromkeys("сСϲ", "c"),
        **dict.fromkeys("ԁ", "d"),
        **dict.fromkeys("еЕЁёΕε", "e"),
        **dict.fromkeys("һҺΗ", "h"),
        **dict.fromkeys("іІiIΙιlӀӏ1|", "l"),
        **dict.fromkeys("јЈ", "j"),
        **dict.fromkeys("кКΚκ", "k"),
        **dict.fromkeys("МΜ", "m"),
        **dict.fromkeys("НΝ", "n"),
        **dict.fromkeys("оОΟο0", "o"),
        **dict.fromkeys("рРΡρ", "p"),
        **dict.fromkeys("ԛԚ", "q"),
        **dict.fromkeys("ѕЅ", "s"),
        **dict.fromkeys("ТΤτ", "t"),
        **dict.fromkeys("υ", "u"),
        **dict.fromkeys("νѵ", "v"),
        **dict.fromkeys("ԝԜ", "w"),
        **dict.fromkeys("хХΧχ", "x"),
        **dict.fromkeys("уУҮγΥ", "y"),
        **dict.fromkeys("Ζ", "z"),
    }
)
_SEPARATORS = re.compile(r"[\s\-_·]+")


def skeleton(text: str) -> str:
    """What ``text`` reads as: width, case, spacing, invisible marks and look-alikes folded.

    Two names with the same skeleton would show as the same row on a page.

    Example:
        >>> skeleton("ВЕТА 1") == skeleton("beta-l") == skeleton("Beta\\u00a01")
        True
    """
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if not unicodedata.category(c).startswith("C"))
    return _SEPARATORS.sub("", text.translate(_LOOK_ALIKES).casefold().translate(_LOOK_ALIKES))


def scripts(text: str) -> set[str]:
    """The alphabetic scripts of ``text``'s letters (``"LATIN"``, ``"CYRILLIC"``, ``"CJK"``...)."""
    found = set()
    for c in text:
        if c.isalpha():
            name = unicodedata.name(c, "UNKNOWN")
            found.add(name.split(" ", 1)[0])
    return found
