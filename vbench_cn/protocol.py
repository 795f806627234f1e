"""Protocol check: how the videos depart from what each dimension expects.

Most irreproducible VBench numbers come from inputs that differ from the protocol (frame
rate, size, length, samples per prompt, re-encoding). Before scoring, ``evaluate`` prints
what it found and one warning per departure; the probe goes into every record.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vbench_cn.manifest import VideoItem
from vbench_cn.specs import DimensionSpec
from vbench_cn.video import VideoInfo

#: Frames with a side below this many pixels are warned about: no dimension reads them sensibly.
MIN_SIDE_PX = 16


@dataclass(frozen=True)
class ProtocolReport:
    """Per-model summary lines and warnings."""

    summary: list[str]
    warnings: list[str]


def _range(values: Sequence[float], fmt: str = "{:g}") -> str:
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}–{fmt.format(hi)}"


def check_protocol(
    items: Sequence[VideoItem],
    infos: Mapping[str, VideoInfo | None],
    specs: Sequence[DimensionSpec],
    errors: Mapping[str, str] | None = None,
) -> ProtocolReport:
    """Summarise the probed videos per model and warn where a spec's ``expects`` is not met.

    ``errors`` (path -> the probe's one-line error) adds a warning per model naming the
    videos whose probe found an implausible value: they are scored as errors, not capped.
    """
    summary: list[str] = []
    warnings: list[str] = []
    by_model: dict[str, list[VideoItem]] = defaultdict(list)
    for it in items:
        by_model[it.model].append(it)
    for model, its in sorted(by_model.items()):
        ok = [infos[i.path] for i in its if infos.get(i.path) is not None]
        bad = len(its) - len(ok)
        sizes = Counter(f"{v.width}x{v.height}" for v in ok)  # type: ignore[union-attr]
        unknown_prompts = sum(1 for i in its if i.prompt is None or not i.prompt.known)
        fps = _range([v.fps for v in ok], "{:.3g}")  # type: ignore[union-attr]
        frames = _range([v.num_frames for v in ok])  # type: ignore[union-attr]
        duration = _range([v.duration_seconds for v in ok], "{:.2f}")  # type: ignore[union-attr]
        codecs = ", ".join(sorted({str(v.codec) for v in ok}))  # type: ignore[union-attr]
        summary.append(
            f"{model}: {len(its)} videos ({bad} unreadable), fps {fps}, "
            f"frames {frames}, duration {duration} s, "
            f"size {', '.join(f'{k} ×{n}' for k, n in sizes.most_common(3))}"
            f"{'' if len(sizes) <= 3 else ', …'}, codec {codecs}"
            + (f", {unknown_prompts} with prompts not in the suite" if unknown_prompts else "")
        )
        tiny = [v for v in ok if min(v.width, v.height) < MIN_SIDE_PX]  # type: ignore[union-attr]
        if tiny:
            warnings.append(
                f"{model}: {len(tiny)} videos are smaller than {MIN_SIDE_PX} px on a side "
                f"({tiny[0].width}x{tiny[0].height}): scores of such frames mean little (a "  # type: ignore[union-attr]
                "still 1x1 video scores a perfect temporal flickering)"
            )
        vfr = sum(1 for v in ok if v.variable_frame_rate)  # type: ignore[union-attr]
        if vfr:
            warnings.append(
                f"{model}: {vfr} videos have a variable frame rate (sampled by timestamp)"
            )
        warnings.extend(_probe_warnings(model, ok))  # type: ignore[arg-type]
        implausible = [e for i in its if ": implausible " in (e := (errors or {}).get(i.path, ""))]
        if implausible:
            warnings.append(
                f"{model}: {len(implausible)} videos with an implausible probe are scored as"
                f" errors: {'; '.join(implausible[:NAMED_PROBE_WARNINGS])}"
                + (" ..." if len(implausible) > NAMED_PROBE_WARNINGS else "")
            )
        samples = Counter(i.prompt_id for i in its if i.prompt_id)
        for spec in specs:
            warnings.extend(_spec_warnings(model, spec, ok, samples))  # type: ignore[arg-type]
    return ProtocolReport(summary, warnings)


def _spec_warnings(
    model: str, spec: DimensionSpec, infos: Sequence[VideoInfo], samples: Counter[Any]
) -> list[str]:
    exp = spec.expects
    out: list[str] = []
    checks = [
        ("min_frames", lambda v: v.num_frames < exp["min_frames"], "fewer than {:g} frames"),
        ("max_frames", lambda v: v.num_frames > exp["max_frames"], "more than {:g} frames"),
        ("min_fps", lambda v: v.fps < exp["min_fps"], "below {:g} fps"),
        ("max_fps", lambda v: v.fps > exp["max_fps"], "above {:g} fps"),
        (
            "min_duration_seconds",
            lambda v: v.duration_seconds < exp["min_duration_seconds"],
            "shorter than {:g} s",
        ),
        (
            "max_duration_seconds",
            lambda v: v.duration_seconds > exp["max_duration_seconds"] + 1e-6,
            "longer than {:g} s (VBench's protocol is for clips under 5 s; "
            "use the duration dimensions for long videos)",
        ),
        (
            "min_side",
            lambda v: min(v.width, v.height) < exp["min_side"],
            "with a side under {:g} px",
        ),
        (
            "max_side",
            lambda v: max(v.width, v.height) > exp["max_side"],
            "with a side over {:g} px",
        ),
    ]
    for key, bad, text in checks:
        if key in exp:
            n = sum(1 for v in infos if bad(v))
            if n:
                out.append(f"{model}: {spec.id}: {n} videos {text.format(exp[key])}")
    if "samples_per_prompt" in exp and samples:
        want = int(exp["samples_per_prompt"])
        off = sum(1 for c in samples.values() if c != want)
        if off:
            out.append(
                f"{model}: {spec.id}: {off} prompts do not have {want} samples "
                f"(VBench samples {want} per prompt)"
            )
    return out


#: Videos named one by one in the probe warnings of a model; the rest are counted.
NAMED_PROBE_WARNINGS = 5


def _probe_warnings(model: str, infos: Sequence[VideoInfo]) -> list[str]:
    """What the probe corrected (timestamps, frame rate) or turned (rotation, pixel aspect).

    Each corrected video is named with its first correction, up to
    :data:`NAMED_PROBE_WARNINGS`; every record's ``probe.warnings`` has them all.
    """
    out: list[str] = []
    corrected = [v for v in infos if v.warnings]
    for v in corrected[:NAMED_PROBE_WARNINGS]:
        more = f" (+{len(v.warnings) - 1} more)" if len(v.warnings) > 1 else ""
        out.append(f"{model}: {v.path}: {v.warnings[0]}{more}")
    if len(corrected) > NAMED_PROBE_WARNINGS:
        out.append(
            f"{model}: {len(corrected) - NAMED_PROBE_WARNINGS} more videos with probe warnings"
            " (each record's probe.warnings)"
        )
    rotated = sum(1 for v in infos if v.rotation)
    stretched = sum(1 for v in infos if v.sample_aspect_ratio != "1:1")
    if rotated or stretched:
        out.append(
            f"{model}: {rotated} videos turned upright by their display matrix, {stretched} with"
            " non-square pixels stretched, before any backbone sees them (VBench reads them"
            " through decord, which fails on many rotated videos and keeps pixels as coded)"
        )
    return out
