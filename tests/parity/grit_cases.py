"""The GRiT dimensions' parity cases: prompted videos in VBench's layout and in ours.

VBench scores object class, multiple objects, colour and spatial relationship only for
prompts of its own prompt-info file (``custom_input`` mode refuses them), so the reference
runs in ``vbench_standard`` mode on a small prompt-info file written here, with the videos
named ``{prompt}-0.mp4`` as VBench looks them up; our side reads the same prompts and
metadata from a JSONL manifest. One prompt may belong to several dimensions (VBench's format
allows it), so one video serves object class, multiple objects and spatial relationship. The
colour cases carry no ``object`` (colour takes it from the text as VBench does), so that, like
VBench, our runner does not score object class on them.

The object names are words of the test vocabulary (``grit_seeded.WORDS``) that the seeded
GRiT emits on these videos, so that frames succeed and fail, colour videos are kept and
dropped, and box pairs are scored. Pure stdlib and numpy apart from the video writer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: The GRiT dimensions, and the registry name of the extractor each one runs.
DIMENSIONS = {
    "object_class": "grit_b",
    "multiple_objects": "grit_b",
    "spatial_relationship": "grit_b",
    "color": "grit_b_color",
}


@dataclass(frozen=True)
class GritCase:
    """One prompted video: its frames, VBench's auxiliary info per dimension, our metadata."""

    prompt: str
    make: Callable[[], np.ndarray]
    aux: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    fps: float = 8.0

    @property
    def file(self) -> str:
        return f"{self.prompt}-0.mp4"


def _cases() -> list[GritCase]:
    from vbench_cn import synthetic as s

    def relation(a: str, b: str, rel: str) -> dict[str, Any]:
        return {
            "aux": {
                "spatial_relationship": {
                    "spatial_relationship": {"object_a": a, "object_b": b, "relationship": rel}
                }
            },
            "meta": {"a": a, "b": b, "relation": rel.replace("on the ", "")},
        }

    left = relation("dog", "cat", "on the left of")
    top = relation("dog", "person", "on the top of")
    return [
        GritCase(
            "a dog on the left of a cat",
            lambda: s.translating_clip(17, 64, 80, pixels_per_frame=3),
            aux={
                "object_class": {"object": "dog"},
                "multiple_objects": {"object": "dog and cat"},
                **left["aux"],
            },
            meta={"object": "dog", "objects": ["dog", "cat"], "relation": left["meta"]},
        ),
        GritCase(
            "a dog on the top of a person",
            lambda: s.translating_clip(18, 67, 85, pixels_per_frame=2),  # odd size: 4:4:4
            aux={
                "object_class": {"object": "dog"},
                "multiple_objects": {"object": "dog and person"},
                **top["aux"],
            },
            meta={"object": "dog", "objects": ["dog", "person"], "relation": top["meta"]},
        ),
        GritCase(
            "a red dog",
            lambda: s.scene_cut_clip(17, 64, 80, cut_at=9),
            aux={"color": {"color": "red"}},
            meta={"color": "red"},
        ),
        GritCase(
            "a green cat",
            lambda: s.noise_clip(16, 64, 64, seed=5),
            aux={"color": {"color": "green"}},
            meta={"color": "green"},
        ),
    ]


CASES: list[GritCase] = _cases()

#: What the DEFAULT test run checks against the fixture (our side only): the ObjectDet video
#: and the colour video with non-zero scores (an object in 2 frames, both objects in one, a
#: same-class pair; a colour frame), so the default run exercises every rule.
DEFAULT_FILES = ("a dog on the top of a person-0.mp4", "a green cat-0.mp4")


def write_videos(folder: Path, digest: Callable[[Path], str]) -> dict[str, str]:
    """Encode every case into ``folder`` (lossless H.264); each file's decoded-frames digest."""
    from vbench_cn import synthetic as s

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for case in CASES:
        path = folder / case.file
        s.write_video(path, case.make(), fps=case.fps)
        out[case.file] = digest(path)
    return out


def vbench_full_info(dimensions: list[str]) -> list[dict[str, Any]]:
    """VBench's prompt-info entries (``VBench_full_info.json`` format) for ``dimensions``."""
    entries = []
    for case in CASES:
        dims = [d for d in case.aux if d in dimensions]
        if dims:
            entries.append(
                {
                    "prompt_en": case.prompt,
                    "dimension": dims,
                    "auxiliary_info": {d: case.aux[d] for d in dims},
                }
            )
    return entries


def write_manifest(folder: Path, path: Path, files: tuple[str, ...] | None = None) -> Path:
    """Our JSONL manifest of the cases' videos in ``folder`` (prompt text and metadata)."""
    rows = [
        {
            "path": str(folder / c.file),
            "model": "parity",
            "prompt": c.prompt,
            "lang": "en",
            **c.meta,
        }
        for c in CASES
        if files is None or c.file in files
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path
