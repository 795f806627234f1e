"""Scorer registry: pure functions from features (and context) to a :class:`Score`.

A scorer never decodes a video and never loads a model. It receives the output of its
dimension's feature extractor for one video (or, for set-level dimensions, for one model's
whole set) as its first positional argument, and its spec's ``params`` as keyword-only
arguments. Keyword-only arguments with a reserved name are filled by the runner instead:

* ``video``: the :class:`~vbench_cn.video.VideoInfo` of the video;
* ``prompt``: the :class:`~vbench_cn.manifest.PromptInfo` (text, language, metadata) or None;
* ``text_features``: the extractor's embedding of the spec's text field (semantic dims);
* ``frame_times``: where each sampled frame lies in the clip (0 first frame, 1 last);
* ``reference``: set-level dimensions only, the reference statistics.

A scorer raises :class:`NotApplicable` when the video or prompt lacks what it needs: the
record then says ``status: "skipped"`` with the reason, never a score of 0.

Third-party scorers register through the ``vbench_cn.scorers`` entry-point group; the
entry point's value is a module that applies :func:`scorer` when imported.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vbench_cn.registry import Registry

RESERVED_ARGS = frozenset({"video", "prompt", "text_features", "frame_times", "reference"})

#: Built-in scorer modules, imported lazily on first lookup.
_BUILTIN_MODULES = (
    "vbench_cn.scorers.quality",
    "vbench_cn.scorers.metadata",
    "vbench_cn.scorers.consistency",
    "vbench_cn.scorers.motion",
    "vbench_cn.scorers.semantic",
    "vbench_cn.scorers.fidelity",
    "vbench_cn.scorers.duration",
    "vbench_cn.scorers.text",
    "vbench_cn.scorers.smoothness",
    "vbench_cn.scorers.perceptual",
    "vbench_cn.scorers.control",
)


class NotApplicable(Exception):
    """This dimension does not apply to this video or prompt (the message says why)."""


@dataclass(frozen=True)
class Score:
    """A dimension's score for one video (or one set) plus a few explanatory numbers.

    ``details["weight"]``, when present, is the weight of this video in a weighted
    aggregate (for example the number of frame pairs, as VBench's single-process
    subject consistency uses).
    """

    value: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScorerEntry:
    """A registered scorer and what it asks of the runner."""

    name: str
    fn: Callable[..., Score]
    params: tuple[str, ...]  # names the spec may set
    context: tuple[str, ...]  # reserved names the runner fills


#: Every scorer: the built-in modules register theirs when imported (on the first lookup).
SCORERS: Registry[ScorerEntry] = Registry(
    "scorer", group="vbench_cn.scorers", modules=_BUILTIN_MODULES
)


def scorer(name: str) -> Callable[[Callable[..., Score]], Callable[..., Score]]:
    """Register ``fn`` under ``name`` (``family.function``); returns ``fn`` unchanged."""

    def register(fn: Callable[..., Score]) -> Callable[..., Score]:
        sig = inspect.signature(fn)
        kwonly = [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]
        entry = ScorerEntry(
            name=name,
            fn=fn,
            params=tuple(k for k in kwonly if k not in RESERVED_ARGS),
            context=tuple(k for k in kwonly if k in RESERVED_ARGS),
        )
        SCORERS.register(name, entry)
        return fn

    return register


def get_scorer(name: str) -> ScorerEntry:
    """Look up a registered scorer; unknown names fail with a did-you-mean."""
    return SCORERS[name]
