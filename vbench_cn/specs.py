"""Dimension specs: one TOML file per dimension (``dimensions/<id>.toml``), loaded and checked.

A spec is data: which scorer, which feature extractor ("backbone"), which frames, which
parameters, how to normalise and weigh the score. ``params`` are bound to the scorer's
keyword-only arguments when the spec loads, so a typo fails at once naming the file, the
field and the nearest valid name.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vbench_cn._resources import dimensions_dir
from vbench_cn._text import did_you_mean
from vbench_cn.video import Sampling

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Category = Literal["quality", "semantic", "fidelity", "duration", "control", "language"]
CATEGORIES: tuple[str, ...] = ("quality", "semantic", "fidelity", "duration", "control", "language")
PARITY = ("vbench", "substitute", "new")
#: What a dimension scores: each video, or a model's whole set of videos (FVD, FID, ...).
LEVELS = ("video", "set")
AGGREGATES = ("mean", "weighted")
#: The ``prompts`` value of a dimension scored on every prompt rather than on one suite tag.
ANY_PROMPTS = "any"
EXPECTS_KEYS = (
    "min_frames",
    "max_frames",
    "min_fps",
    "max_fps",
    "min_duration_seconds",
    "max_duration_seconds",
    "min_side",
    "max_side",
    "samples_per_prompt",
)
_FIELDS = {
    "id",
    "version",
    "name",
    "category",
    "description",
    "scorer",
    "backbone",
    "sampling",
    "params",
    "prompts",
    "normalization",
    "weight",
    "higher_is_better",
    "parity",
    "level",
    "aggregate",
    "vbench_name",
    "text",
    "expects",
    "source",
    "groups",
    "category_gate",
    "alternative_of",
}


class SpecError(ValueError):
    """A dimension spec is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class DimensionSpec:
    """One dimension, as declared in its TOML file."""

    id: str
    version: int
    name: Mapping[str, str]
    category: str
    description: Mapping[str, str]
    scorer: str
    backbone: str | None
    sampling: Sampling
    params: Mapping[str, Any]
    prompts: str
    normalization: tuple[float, float]
    weight: float
    higher_is_better: bool
    parity: str
    level: str
    aggregate: str
    vbench_name: str | None
    text: str | None
    expects: Mapping[str, float]
    source: str
    groups: tuple[str, ...]
    #: Gates its category: category = this normalised score x the others' weighted mean.
    category_gate: bool
    path: str
    sha256: str
    #: the dimension this spec is a documented alternative of (another backbone for the same
    #: question); such a spec runs only when named (by id or group), never by category or "all"
    alternative_of: str | None = None

    def normalize(self, score: float) -> float:
        """VBench's ``(s - min) / (max - min)``, not clipped (``scripts/cal_final_score.py``)."""
        lo, hi = self.normalization
        value = (score - lo) / (hi - lo)
        return value if self.higher_is_better else 1.0 - value

    def label(self, lang: str = "en") -> str:
        """The dimension's display name in ``lang`` (``en`` or ``zh``)."""
        return self.name.get(lang) or self.name.get("en") or self.id


def _err(path: Path | str, field_name: str, message: str) -> SpecError:
    return SpecError(f"{path}: {field_name}: {message}")


def _bilingual(path: Path, data: Mapping[str, Any], key: str) -> dict[str, str]:
    value = data.get(key)
    if (
        not isinstance(value, Mapping)
        or not isinstance(value.get("en"), str)
        or not isinstance(value.get("zh"), str)
    ):
        raise _err(path, key, 'must be a table with "en" and "zh" strings')
    return {"en": value["en"], "zh": value["zh"]}


def parse_spec(
    data: Mapping[str, Any], path: Path | str, *, check_registries: bool = True
) -> DimensionSpec:
    """Validate one spec's parsed TOML and return it; raise :class:`SpecError` on any problem."""
    path = Path(path)
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise _err(path, unknown[0], f"unknown field{did_you_mean(unknown[0], _FIELDS)}")
    for req in ("id", "version", "name", "category", "scorer", "description"):
        if req not in data:
            raise _err(path, req, "missing required field")
    spec_id = data["id"]
    if spec_id != path.stem:
        raise _err(path, "id", f"{spec_id!r} must equal the file name {path.stem!r}")
    if not isinstance(data["version"], int) or data["version"] < 1:
        raise _err(path, "version", "must be a positive integer")
    if data["category"] not in CATEGORIES:
        raise _err(path, "category", f"{data['category']!r} not one of {', '.join(CATEGORIES)}")
    parity = data.get("parity", "new")
    if parity not in PARITY:
        raise _err(path, "parity", f"{parity!r} not one of {', '.join(PARITY)}")
    level = data.get("level", "video")
    if level not in LEVELS:
        raise _err(path, "level", f"{level!r} not one of {', '.join(LEVELS)}")
    aggregate = data.get("aggregate", "mean")
    if aggregate not in AGGREGATES:
        raise _err(path, "aggregate", f"{aggregate!r} not one of {', '.join(AGGREGATES)}")
    try:
        sampling = Sampling.from_spec(dict(data.get("sampling", {})))
    except (ValueError, TypeError) as exc:
        raise _err(path, "sampling", str(exc)) from None
    norm = data.get("normalization", {"min": 0.0, "max": 1.0})
    try:
        lo, hi = float(norm["min"]), float(norm["max"])
    except (KeyError, TypeError, ValueError):
        raise _err(path, "normalization", "must be a table {min = number, max = number}") from None
    if not hi > lo:
        raise _err(path, "normalization", f"max ({hi}) must be greater than min ({lo})")
    weight = data.get("weight", 1.0)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
        raise _err(path, "weight", "must be a non-negative number")
    expects = dict(data.get("expects", {}))
    for key, value in expects.items():
        if key not in EXPECTS_KEYS:
            raise _err(path, f"expects.{key}", f"unknown key{did_you_mean(key, EXPECTS_KEYS)}")
        if not isinstance(value, (int, float)):
            raise _err(path, f"expects.{key}", "must be a number")
    category_gate = data.get("category_gate", False)
    if not isinstance(category_gate, bool):
        raise _err(path, "category_gate", "must be true or false")
    params = dict(data.get("params", {}))
    backbone = data.get("backbone")
    if check_registries:
        from vbench_cn.scorers import get_scorer

        try:
            entry = get_scorer(data["scorer"])
        except KeyError as exc:
            raise _err(path, "scorer", str(exc.args[0])) from None
        for key in params:
            if key not in entry.params:
                raise _err(
                    path,
                    f"params.{key}",
                    f"not an argument of scorer {entry.name}{did_you_mean(key, entry.params)}",
                )
        if backbone is not None:
            from vbench_cn.features import list_extractors

            names = list_extractors()
            if backbone not in names:
                raise _err(
                    path,
                    "backbone",
                    f"unknown feature extractor {backbone!r}{did_you_mean(backbone, names)}",
                )
    raw_bytes = path.read_bytes() if path.exists() else repr(sorted(data.items())).encode()
    return DimensionSpec(
        id=spec_id,
        version=data["version"],
        name=_bilingual(path, data, "name"),
        category=data["category"],
        description=_bilingual(path, data, "description"),
        scorer=data["scorer"],
        backbone=backbone,
        sampling=sampling,
        params=params,
        prompts=str(data.get("prompts", ANY_PROMPTS)),
        normalization=(lo, hi),
        weight=float(weight),
        higher_is_better=bool(data.get("higher_is_better", True)),
        parity=parity,
        level=level,
        aggregate=aggregate,
        vbench_name=data.get("vbench_name"),
        text=data.get("text"),
        expects=expects,
        source=str(data.get("source", "")),
        groups=tuple(data.get("groups", ())),
        category_gate=category_gate,
        alternative_of=data.get("alternative_of"),
        path=str(path),
        sha256=hashlib.sha256(raw_bytes).hexdigest(),
    )


def load_spec(path: str | Path, *, check_registries: bool = True) -> DimensionSpec:
    """Read and validate one spec file (``check_registries``: as :func:`parse_spec`)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: invalid TOML ({exc})") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_spec(data, path, check_registries=check_registries)


def load_specs(
    extra_dirs: Iterable[str | Path] = (), *, check_registries: bool = True
) -> dict[str, DimensionSpec]:
    """All specs: the built-in ones plus those in ``extra_dirs`` (later dirs override).

    ``check_registries=False`` checks the data only, without importing the scorer and
    extractor modules (and so torch): what listing dimensions or prompts needs.
    """
    specs: dict[str, DimensionSpec] = {}
    for directory in [dimensions_dir(), *map(Path, extra_dirs)]:
        if not Path(directory).is_dir():
            raise SpecError(f"{directory}: dimensions folder not found")
        for path in sorted(Path(directory).glob("*.toml")):
            spec = load_spec(path, check_registries=check_registries)
            specs[spec.id] = spec
    gates: dict[str, str] = {}
    for spec in specs.values():
        if spec.category_gate and gates.setdefault(spec.category, spec.id) != spec.id:
            raise _err(
                spec.path, "category_gate", f"{gates[spec.category]} already gates {spec.category}"
            )
    return specs


def select_specs(
    specs: Mapping[str, DimensionSpec], names: Iterable[str] | None
) -> list[DimensionSpec]:
    """Resolve dimension names, categories (``quality``) or groups to specs, in order.

    ``None`` or ``["all"]`` selects every spec but the alternatives (``alternative_of``),
    which run only when named by id or group. Unknown names raise ``KeyError`` with a
    did-you-mean suggestion.
    """
    names = [n.strip() for n in (names or ["all"]) if n.strip()]
    chosen: dict[str, DimensionSpec] = {}
    for name in names:
        if name == "all":
            chosen.update({k: s for k, s in specs.items() if s.alternative_of is None})
        elif name in specs:
            chosen[name] = specs[name]
        else:
            matched = {
                k: s
                for k, s in specs.items()
                if name in s.groups or (s.category == name and s.alternative_of is None)
            }
            if not matched:
                options = [*specs, *CATEGORIES, *{g for s in specs.values() for g in s.groups}]
                raise KeyError(f"unknown dimension {name!r}{did_you_mean(name, options)}")
            chosen.update(matched)
    return list(chosen.values())
