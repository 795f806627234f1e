"""Matplotlib SVG charts for the site: a radar of normalised dimensions, bars with CI whiskers.

Charts are rendered without pyplot (no global state, no display) and written so that the
same data always gives the same bytes: the SVG hash salt is fixed and the date metadata
is dropped. Text is written as SVG ``<text>`` (``svg.fonttype = "none"``), so the browser
draws Chinese model names with its own fonts and no CJK font is needed on the build
machine; margins are fixed instead of ``bbox_inches="tight"``, which would draw every chart
twice.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

_RC = {
    "svg.hashsalt": "vbench-cn",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
}
COMPUTED_COLOR = "#2563eb"
REPORTED_COLOR = "#9ca3af"


def plain(text: str) -> str:
    """Text matplotlib draws as written: ``$`` escaped, so ``$…$`` is not parsed as math.

    Example:
        >>> print(plain("$x^2$ model"))
        \\$x^2\\$ model
    """
    return text.replace("$", "\\$")


def _to_svg(fig: Figure) -> str:
    FigureCanvasSVG(fig)
    buf = io.StringIO()
    with warnings.catch_warnings():
        # layout is measured with DejaVu, which lacks CJK glyphs; the browser draws them
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "vbench-cn"})
    return buf.getvalue()


def radar_svg(labels: Sequence[str], values: Sequence[float], *, title: str = "") -> str:
    """A radar (spider) chart of normalised scores, one spoke per dimension.

    Args:
        labels: dimension labels, ``len >= 3``.
        values: normalised scores (≈ 0–1; not clipped, the axis grows to fit).
        title: chart title.

    Returns:
        The SVG document as text.
    """
    if len(labels) != len(values) or len(labels) < 3:
        raise ValueError("radar_svg needs at least 3 labels and one value per label")
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6.5, 6.5))
        fig.subplots_adjust(left=0.16, right=0.84, bottom=0.12, top=0.86)
        ax = fig.add_subplot(projection="polar")
        n = len(labels)
        angles = [2 * math.pi * i / n for i in range(n)] + [0.0]
        closed = [*values, values[0]]
        ax.plot(angles, closed, color=COMPUTED_COLOR, linewidth=1.5)
        ax.fill(angles, closed, color=COMPUTED_COLOR, alpha=0.2)
        ax.set_xticks(angles[:-1])
        ax.set_xticklabels([plain(t) for t in labels], fontsize=7)
        top = max(1.0, max(values) * 1.05)
        ax.set_ylim(min(0.0, min(values) * 1.05), top)
        ax.set_yticks([0.25, 0.5, 0.75, 1.0])
        ax.set_yticklabels(["0.25", "0.5", "0.75", "1"], fontsize=6)
        if title:
            ax.set_title(plain(title), pad=18)
        return _to_svg(fig)


@dataclass(frozen=True)
class Bar:
    """One bar: a model's score on one dimension, with an optional CI."""

    label: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    reported: bool = False


def bars_svg(bars: Sequence[Bar], *, title: str = "", xlabel: str = "score") -> str:
    """Horizontal bars with 95 % CI whiskers; reported values are grey and hatched."""
    with matplotlib.rc_context(_RC):
        height_in = max(1.8, 0.3 * len(bars) + 1.0)
        fig = Figure(figsize=(8.0, height_in))
        fig.subplots_adjust(left=0.34, right=0.97, bottom=0.55 / height_in, top=1 - 0.4 / height_in)
        ax = fig.add_subplot()
        ys = list(range(len(bars)))[::-1]
        for y, bar in zip(ys, bars, strict=True):
            ax.barh(
                y,
                bar.value,
                color=REPORTED_COLOR if bar.reported else COMPUTED_COLOR,
                hatch="//" if bar.reported else None,
                edgecolor="white",
                height=0.7,
            )
            if bar.ci_low is not None and bar.ci_high is not None:
                ax.errorbar(
                    bar.value,
                    y,
                    xerr=[[bar.value - bar.ci_low], [bar.ci_high - bar.value]],
                    fmt="none",
                    ecolor="#111827",
                    capsize=3,
                    linewidth=1,
                )
        ax.set_yticks(ys)
        ax.set_yticklabels([plain(b.label) for b in bars], fontsize=8)
        ax.set_xlabel(plain(xlabel))
        if title:
            ax.set_title(plain(title))
        ax.grid(axis="x", color="#e5e7eb", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        return _to_svg(fig)
