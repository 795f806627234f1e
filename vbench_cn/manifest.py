"""Manifest: find the videos of one or more models and tie each to its prompt.

Three ways to say which prompt a video was made from:

* our prompt ids: ``{prompt_id}-{i}.mp4`` or ``{prompt_id}-{lang}-{i}.mp4`` (``sc-0001-zh-0.mp4``);
* VBench's naming: ``{prompt text}-{i}.mp4``, matched against the suite in both languages
  (or against VBench's own prompt-info file, ``--prompt-suite``);
* an explicit manifest (CSV or JSONL) with columns ``path, model, prompt_id, prompt, lang,
  sample`` and any prompt metadata (``object``, ``color``, ``expected_text``, ...).

Videos whose prompt is unknown are kept (prompt-free dimensions still apply) and flagged.
"""

from __future__ import annotations

import csv
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vbench_cn.video import is_video_file

_ID_NAME = re.compile(r"^(?P<id>[a-z]{2}-\d{4})(?:-(?P<lang>zh|en))?-(?P<sample>\d+)$")
_TEXT_NAME = re.compile(r"^(?P<text>.+?)-(?P<sample>\d+)$")
_MANIFEST_COLUMNS = {"path", "model", "prompt_id", "prompt", "lang", "sample"}


class ManifestError(ValueError):
    """The manifest or video list is unusable; the message names the file and the cause."""


@dataclass(frozen=True)
class PromptInfo:
    """The prompt a video was generated from, in the language it was given to the model."""

    id: str | None
    text: str
    lang: str
    tags: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    known: bool = True  # False when the prompt is not in the suite (custom prompt)


@dataclass(frozen=True)
class VideoItem:
    """One video to score."""

    path: str
    model: str
    rel_path: str
    sample: int | None
    prompt: PromptInfo | None

    @property
    def prompt_id(self) -> str | None:
        """The suite prompt id, if known."""
        return self.prompt.id if self.prompt else None


def _normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"\s+", " ", text)


class PromptIndex:
    """Look up suite prompts by id and by text (both languages)."""

    def __init__(self, prompts: Iterable[Any] = ()) -> None:
        self.by_id: dict[str, Any] = {}
        self.by_text: dict[str, tuple[Any, str]] = {}
        for p in prompts:
            self.add(p)

    def add(self, prompt: Any) -> None:
        """Index one prompt (an object with id, tags, meta and ``text(lang)``)."""
        self.by_id[prompt.id] = prompt
        for lang in ("en", "zh"):
            text = prompt.text(lang)
            if text:
                self.by_text.setdefault(_normalize_text(text), (prompt, lang))

    def info(self, prompt: Any, lang: str) -> PromptInfo:
        """The :class:`PromptInfo` of a suite prompt in ``lang``."""
        return PromptInfo(
            prompt.id,
            prompt.text(lang) or prompt.text("en"),
            lang,
            tuple(prompt.tags),
            dict(prompt.meta),
            True,
        )

    @classmethod
    def default(cls, vbench_prompt_info: str | None = None) -> PromptIndex:
        """The built-in suite, plus VBench's prompt-info file when given."""
        index = cls()
        try:
            from vbench_cn.prompts import load_suite
        except ImportError:  # pragma: no cover - the suite ships with the package
            load_suite = None  # type: ignore[assignment]
        if load_suite is not None:
            for p in load_suite():
                index.add(p)
        if vbench_prompt_info:
            from vbench_cn.prompts import load_vbench_prompt_info

            for p in load_vbench_prompt_info(vbench_prompt_info):
                index.add(p)
        return index


def parse_video_name(
    stem: str, index: PromptIndex, default_lang: str
) -> tuple[PromptInfo | None, int | None]:
    """Prompt and sample index from a file stem; unknown prompt texts become custom prompts."""
    m = _ID_NAME.match(stem)
    if m and m.group("id") in index.by_id:
        lang = m.group("lang") or default_lang
        return index.info(index.by_id[m.group("id")], lang), int(m.group("sample"))
    m = _TEXT_NAME.match(stem)
    text, sample = (m.group("text"), int(m.group("sample"))) if m else (stem, None)
    hit = index.by_text.get(_normalize_text(text))
    if hit:
        prompt, lang = hit
        return index.info(prompt, lang), sample
    lang = "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"
    return PromptInfo(None, text, lang, (), {}, known=False), sample


def discover(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    model: str | None = None,
    index: PromptIndex | None = None,
    default_lang: str = "en",
) -> list[VideoItem]:
    """Find videos under files/folders.

    With ``model`` every video belongs to it. Without it, a folder whose entries are
    folders is read as one model per sub-folder; otherwise the folder's name is the model.
    A ``.csv``/``.jsonl`` input is read as an explicit manifest.
    """
    index = index if index is not None else PromptIndex.default()
    items: list[VideoItem] = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            raise ManifestError(f"{path}: no such file or folder")
        if path.is_file() and path.suffix.lower() in (".csv", ".jsonl"):
            items.extend(
                read_manifest(path, index=index, default_model=model, default_lang=default_lang)
            )
        elif path.is_file():
            items.append(
                _item(path, path.parent, model or path.parent.name or "model", index, default_lang)
            )
        else:
            subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
            direct = sorted(p for p in path.iterdir() if p.is_file() and is_video_file(p))
            if model is None and subdirs and not direct:
                for sub in subdirs:
                    for f in _videos_under(sub):
                        items.append(_item(f, sub, sub.name, index, default_lang))
            else:
                for f in _videos_under(path):
                    items.append(_item(f, path, model or path.resolve().name, index, default_lang))
    seen: set[tuple[str, str]] = set()
    unique = []
    for it in items:
        key = (it.model, os.path.realpath(it.path))
        if key not in seen:
            seen.add(key)
            unique.append(it)
    return unique


def _videos_under(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and is_video_file(p) and not p.name.startswith(".")
    )


def _item(path: Path, root: Path, model: str, index: PromptIndex, lang: str) -> VideoItem:
    prompt, sample = parse_video_name(path.stem, index, lang)
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = path.name
    return VideoItem(str(path), model, f"{model}/{rel}", sample, prompt)


def read_manifest(
    path: str | os.PathLike[str],
    *,
    index: PromptIndex | None = None,
    default_model: str | None = None,
    default_lang: str = "en",
) -> list[VideoItem]:
    """Read an explicit CSV or JSONL manifest; relative paths are relative to the manifest."""
    path = Path(path)
    index = index if index is not None else PromptIndex.default()
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = [(i + 2, dict(r)) for i, r in enumerate(csv.DictReader(fh))]
        else:
            with open(path, encoding="utf-8") as fh:
                for i, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise ManifestError(f"{path}:{i}: invalid JSON ({exc.msg})") from None
                    if not isinstance(obj, dict):
                        raise ManifestError(f"{path}:{i}: each line must be a JSON object")
                    rows.append((i, obj))
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: not UTF-8 text") from None
    items = []
    for line_no, row in rows:
        where = f"{path}:{line_no}"
        if not row.get("path"):
            raise ManifestError(f"{where}: missing 'path'")
        video = Path(str(row["path"]))
        if not video.is_absolute():
            video = path.parent / video
        model = str(row.get("model") or default_model or "").strip()
        if not model:
            raise ManifestError(f"{where}: missing 'model' (or pass --model)")
        lang = str(row.get("lang") or default_lang)
        if lang not in ("en", "zh"):
            raise ManifestError(f"{where}: lang must be 'en' or 'zh', got {lang!r}")
        sample_raw = row.get("sample")
        try:
            sample = int(sample_raw) if sample_raw not in (None, "") else None
        except (TypeError, ValueError):
            raise ManifestError(f"{where}: sample must be an integer, got {sample_raw!r}") from None
        extra = {k: v for k, v in row.items() if k not in _MANIFEST_COLUMNS and v not in (None, "")}
        extra = {k: _maybe_json(v) for k, v in extra.items()}
        pid = row.get("prompt_id") or None
        if pid and pid in index.by_id:
            base = index.info(index.by_id[pid], lang)
            prompt: PromptInfo | None = PromptInfo(
                base.id,
                str(row.get("prompt") or base.text),
                lang,
                base.tags,
                {**base.meta, **extra},
                True,
            )
        elif row.get("prompt") or extra:
            prompt = PromptInfo(
                pid,
                str(row.get("prompt") or ""),
                lang,
                tuple(extra.pop("tags", ()) or ()),
                extra,
                known=False,
            )
        else:
            prompt, sample2 = parse_video_name(video.stem, index, lang)
            sample = sample if sample is not None else sample2
        rel = f"{model}/{video.name}"
        items.append(VideoItem(str(video), model, rel, sample, prompt))
    return items


def _maybe_json(value: Any) -> Any:
    """CSV cells holding JSON (lists, objects) are decoded; other strings are kept."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
