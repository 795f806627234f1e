"""VBench interoperability: its 16 dimensions' constants, and import of its result files.

``VBENCH_DIMENSIONS`` is VBench's normalisation and weight table (``scripts/constant.py``
at commit ``45e79ec``, copied in docs ``vbench-reference.md`` §18). It stands in for a
dimension spec only where ``dimensions/<id>.toml`` does not exist yet, so reported
leaderboard rows can be validated and shown before every spec lands; a real spec always
wins (:func:`with_vbench_fallback`).

:func:`import_eval_results` converts VBench's ``{name}_eval_results.json`` (dimension →
``[aggregate, [{"video_path", "video_results"}, ...]]``) into our records, so a VBench run
gets prompt-bootstrap intervals, comparisons and the site.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vbench_cn import __version__
from vbench_cn.results import Record, make_record, shard_path
from vbench_cn.specs import DimensionSpec, parse_spec


@dataclass(frozen=True)
class VBenchDimension:
    """One row of VBench's constant table, with our bilingual labels."""

    id: str
    display: str
    zh: str
    group: str  # "quality" | "semantic"
    min: float
    max: float
    weight: float
    description_en: str
    description_zh: str


#: VBench's 16 dimensions: (Min, Max, weight, group) from ``scripts/constant.py``.
VBENCH_DIMENSIONS: tuple[VBenchDimension, ...] = (
    VBenchDimension(
        "subject_consistency",
        "subject consistency",
        "主体一致性",
        "quality",
        0.1462,
        1.0,
        1.0,
        "Whether the main subject looks the same across frames (DINO features).",
        "主体在各帧之间外观是否保持一致（DINO 特征）。",
    ),
    VBenchDimension(
        "background_consistency",
        "background consistency",
        "背景一致性",
        "quality",
        0.2615,
        1.0,
        1.0,
        "Whether the background scene stays consistent across frames (CLIP features).",
        "背景场景在各帧之间是否保持一致（CLIP 特征）。",
    ),
    VBenchDimension(
        "temporal_flickering",
        "temporal flickering",
        "时间闪烁",
        "quality",
        0.6293,
        1.0,
        1.0,
        "Absence of frame-to-frame flicker in static scenes (higher = less flicker).",
        "静态场景中帧间闪烁的程度（越高闪烁越少）。",
    ),
    VBenchDimension(
        "motion_smoothness",
        "motion smoothness",
        "运动平滑度",
        "quality",
        0.706,
        0.9975,
        1.0,
        "How well motion follows physical smoothness, judged by frame interpolation.",
        "运动是否平滑自然，用插帧模型判断。",
    ),
    VBenchDimension(
        "dynamic_degree",
        "dynamic degree",
        "动态程度",
        "quality",
        0.0,
        1.0,
        0.5,
        "Share of videos with large enough motion (optical flow).",
        "运动幅度足够大的视频所占比例（光流）。",
    ),
    VBenchDimension(
        "aesthetic_quality",
        "aesthetic quality",
        "美学质量",
        "quality",
        0.0,
        1.0,
        1.0,
        "Artistic and photographic beauty of frames (LAION aesthetic predictor).",
        "画面的艺术与摄影美感（LAION 美学评分器）。",
    ),
    VBenchDimension(
        "imaging_quality",
        "imaging quality",
        "成像质量",
        "quality",
        0.0,
        1.0,
        1.0,
        "Low-level distortions such as noise, blur and over-exposure (MUSIQ).",
        "噪声、模糊、过曝等底层失真（MUSIQ）。",
    ),
    VBenchDimension(
        "object_class",
        "object class",
        "物体类别",
        "semantic",
        0.0,
        1.0,
        1.0,
        "Whether the object named in the prompt is generated (detector).",
        "是否生成了提示词中的物体（检测器）。",
    ),
    VBenchDimension(
        "multiple_objects",
        "multiple objects",
        "多物体",
        "semantic",
        0.0,
        1.0,
        1.0,
        "Whether all objects named in the prompt appear together.",
        "提示词中的多个物体是否同时出现。",
    ),
    VBenchDimension(
        "human_action",
        "human action",
        "人体动作",
        "semantic",
        0.0,
        1.0,
        1.0,
        "Whether the human action in the prompt is performed (action classifier).",
        "是否完成了提示词中的人体动作（动作分类器）。",
    ),
    VBenchDimension(
        "color",
        "color",
        "颜色",
        "semantic",
        0.0,
        1.0,
        1.0,
        "Whether objects have the colour the prompt asks for.",
        "物体颜色是否符合提示词。",
    ),
    VBenchDimension(
        "spatial_relationship",
        "spatial relationship",
        "空间关系",
        "semantic",
        0.0,
        1.0,
        1.0,
        "Whether objects are arranged as the prompt says.",
        "物体之间的空间位置是否符合提示词。",
    ),
    VBenchDimension(
        "scene",
        "scene",
        "场景",
        "semantic",
        0.0,
        0.8222,
        1.0,
        "Whether the scene in the prompt is shown (caption match).",
        "是否呈现了提示词中的场景（描述匹配）。",
    ),
    VBenchDimension(
        "appearance_style",
        "appearance style",
        "外观风格",
        "semantic",
        0.0009,
        0.2855,
        1.0,
        "Agreement of the frames with the requested visual style (CLIP).",
        "画面与所要求的视觉风格是否一致（CLIP）。",
    ),
    VBenchDimension(
        "temporal_style",
        "temporal style",
        "时间风格",
        "semantic",
        0.0,
        0.364,
        1.0,
        "Agreement with the requested camera motion or temporal style (ViCLIP).",
        "与所要求的镜头运动或时间风格是否一致（ViCLIP）。",
    ),
    VBenchDimension(
        "overall_consistency",
        "overall consistency",
        "整体一致性",
        "semantic",
        0.0,
        0.364,
        1.0,
        "Overall video-text agreement (ViCLIP).",
        "视频与文本的整体一致性（ViCLIP）。",
    ),
)
VBENCH_IDS: tuple[str, ...] = tuple(d.id for d in VBENCH_DIMENSIONS)
#: VBench reports imaging quality per video as a 0–100 MOS and divides only the aggregate by 100.
_PERCENT_PER_VIDEO = {"imaging_quality"}
_SAMPLE_RE = re.compile(r"^(?P<prompt>.*)-(?P<sample>\d+)$")


class VBenchImportError(ValueError):
    """A VBench result file cannot be read; the message names the file and the cause."""


def fallback_spec(dim: VBenchDimension) -> DimensionSpec:
    """A stand-in spec for one VBench dimension, built from the constant table."""
    return parse_spec(
        {
            "id": dim.id,
            "version": 1,
            "name": {"en": dim.display.capitalize(), "zh": dim.zh},
            "category": dim.group,
            "description": {"en": dim.description_en, "zh": dim.description_zh},
            "scorer": "vbench.reference",
            "normalization": {"min": dim.min, "max": dim.max},
            "weight": dim.weight,
            "higher_is_better": True,
            "parity": "vbench",
            "vbench_name": dim.display,
            "source": f"VBench scripts/constant.py (45e79ec); stand-in until dimensions/{dim.id}.toml exists",
        },
        f"<vbench-constants>/{dim.id}.toml",
        check_registries=False,
    )


def with_vbench_fallback(specs: Mapping[str, DimensionSpec]) -> dict[str, DimensionSpec]:
    """``specs`` plus a stand-in for each VBench dimension that has no spec of its own."""
    out = {d.id: fallback_spec(d) for d in VBENCH_DIMENSIONS if d.id not in specs}
    out.update(specs)
    return dict(sorted(out.items()))


def _resolve_dimension(key: str, specs: Mapping[str, DimensionSpec]) -> str:
    """Our dimension id for a VBench result key (same id, or a spec whose vbench_name matches)."""
    if key in specs:
        return key
    for spec in specs.values():
        if spec.vbench_name and re.sub(r"\W+", "_", spec.vbench_name.strip().lower()) == key:
            return spec.id
    return key


def _video_score(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def parse_eval_results(
    path: str | os.PathLike[str], *, model: str, specs: Mapping[str, DimensionSpec]
) -> tuple[list[Record], dict[str, float]]:
    """Records from a VBench ``*_eval_results.json``, plus VBench's own aggregates.

    Each per-video entry becomes one record: the prompt is the file name without
    ``-{i}.mp4`` and is used as the prompt id (so the samples of a prompt stay together),
    ``i`` is the sample. Imaging quality per-video values are divided by 100, as VBench
    divides its aggregate. Booleans (dynamic degree) become 0/1. A value that is not a
    number becomes an ``error`` record with the cause.

    Raises:
        VBenchImportError: unreadable file or unexpected structure (one line naming both).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VBenchImportError(f"{path}: cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VBenchImportError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise VBenchImportError(
            f"{path}: expected an object mapping dimension -> [aggregate, [per-video results]]"
        )
    records: list[Record] = []
    aggregates: dict[str, float] = {}
    for key in sorted(data):
        entry = data[key]
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list)):
            raise VBenchImportError(f"{path}: {key}: expected [aggregate, [per-video results]]")
        dim = _resolve_dimension(key, specs)
        spec = specs.get(dim)
        agg = _video_score(entry[0])
        if agg is not None:
            aggregates[dim] = agg
        for i, item in enumerate(entry[1]):
            if (
                not isinstance(item, dict)
                or "video_path" not in item
                or "video_results" not in item
            ):
                raise VBenchImportError(
                    f"{path}: {key}[1][{i}]: expected an object with video_path and video_results"
                )
            video = str(item["video_path"])
            stem = Path(video.replace("\\", "/")).stem
            match = _SAMPLE_RE.match(stem)
            prompt, sample = (match["prompt"], int(match["sample"])) if match else (stem, 0)
            score = _video_score(item["video_results"])
            fields: dict[str, Any] = dict(
                model=model,
                video=video,
                prompt_id=prompt,
                prompt_lang="en",
                sample=sample,
                dimension=dim,
                dimension_version=spec.version if spec else 1,
                spec_sha256=spec.sha256 if spec else None,
                level="video",
                details={"source": "vbench eval_results"},
                weights=None,
                random_weights=False,
                suite_version=__version__,
            )
            if score is None:
                fields.update(
                    status="error",
                    error=f"video_results is not a number ({type(item['video_results']).__name__})",
                )
            else:
                fields["score"] = score / 100.0 if dim in _PERCENT_PER_VIDEO else score
            records.append(make_record(**fields))
    return records, aggregates


def import_eval_results(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    model: str,
    specs: Mapping[str, DimensionSpec],
) -> tuple[Path, list[Record], dict[str, float]]:
    """Write a run directory (``records/records-rank0.jsonl`` + ``run.json``) from a VBench file.

    Raises:
        VBenchImportError: bad input, or ``out_dir`` already holds records.
    """
    records, aggregates = parse_eval_results(path, model=model, specs=specs)
    out_dir = Path(out_dir)
    shard = shard_path(out_dir, 0)
    if shard.parent.is_dir() and any(shard.parent.glob("*.jsonl")):
        raise VBenchImportError(f"{out_dir}: already holds records; import into an empty folder")
    shard.parent.mkdir(parents=True, exist_ok=True)
    with open(shard, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False, allow_nan=False) + "\n")
    run = {
        "source": "vbench",
        "eval_results": str(path),
        "model": model,
        "suite_version": __version__,
        "vbench_aggregates": aggregates,
    }
    (out_dir / "run.json").write_text(
        json.dumps(run, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return out_dir, records, aggregates
