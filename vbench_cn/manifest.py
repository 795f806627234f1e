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
import dataclasses
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vbench_cn.video import VIDEO_EXTENSIONS, is_video_file, sniff_video

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
        """Index one prompt (an object with id, tags, meta and ``text(lang)``).

        A prompt may lack a language (VBench's prompts are English only).
        """
        self.by_id[prompt.id] = prompt
        for lang in ("en", "zh"):
            text = _text_in(prompt, lang)
            if text:
                self.by_text.setdefault(_normalize_text(text), (prompt, lang))

    def info(self, prompt: Any, lang: str) -> PromptInfo:
        """The :class:`PromptInfo` of a suite prompt in ``lang`` (English when it has no other)."""
        return PromptInfo(
            prompt.id,
            _text_in(prompt, lang) or _text_in(prompt, "en"),
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


def _text_in(prompt: Any, lang: str) -> str:
    """A prompt's text in ``lang``, or ``""`` when it has none in that language."""
    try:
        return prompt.text(lang) or ""
    except ValueError:
        return ""


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


@dataclass
class Scan:
    """What a scan of the inputs found: the videos, and every file passed over, with why.

    ``sniffed`` are files read as videos by their content although their name does not say
    (``clip.dat``, an MPEG-PS without an extension); ``skipped`` are ``(path, reason)``.
    """

    items: list[VideoItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    sniffed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self, named: int = 5) -> list[str]:
        """One line per reason, naming the first ``named`` files; empty when nothing to say."""
        lines = []
        by_reason: dict[str, list[str]] = {}
        for path, reason in self.skipped:
            by_reason.setdefault(reason, []).append(path)
        for reason, paths in by_reason.items():
            lines.append(f"skipped {len(paths)} files ({reason}): {_names(paths, named)}")
        if self.sniffed:
            found = [f"{p} ({kind})" for p, kind in self.sniffed]
            lines.append(
                f"read {len(found)} files as video by their content: {_names(found, named)}"
            )
        return lines

    def nothing_found(self, inputs: Sequence[str | os.PathLike[str]]) -> str:
        """The one-line message when no video was found: what was there and what is read."""
        where = ", ".join(map(str, inputs))
        seen = f"; passed over {_names([p for p, _ in self.skipped], 5)}" if self.skipped else ""
        return (
            f"no video files found in {where}{seen}. Read: {' '.join(VIDEO_EXTENSIONS)}, and"
            " other files whose content is a video container"
        )


def _names(paths: Sequence[str], named: int) -> str:
    shown = ", ".join(paths[:named])
    return shown + (f" and {len(paths) - named} more" if len(paths) > named else "")


def scan(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    model: str | None = None,
    index: PromptIndex | None = None,
    default_lang: str = "en",
) -> Scan:
    """Find videos under files/folders, and say what was passed over.

    With ``model`` every video belongs to it. Without it, a folder whose entries are
    folders is read as one model per sub-folder; otherwise the folder's name is the model.
    A ``.csv``/``.jsonl`` input is read as an explicit manifest. In folders, a file is a
    video by its extension (:data:`~vbench_cn.video.VIDEO_EXTENSIONS`) or, failing that, by
    its first bytes (:func:`~vbench_cn.video.sniff_video`); a file named on the command
    line is always tried.
    """
    index = index if index is not None else PromptIndex.default()
    result = Scan()
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
            direct = [p for p in path.iterdir() if p.is_file() and _is_video(p, None)]
            if model is None and subdirs and not direct:
                roots = [(sub, sub.name) for sub in subdirs]
                loose = sorted(p for p in path.iterdir() if p.is_file())
                result.skipped += [(str(p), "not a video; models are sub-folders") for p in loose]
            else:
                roots = [(path, model or path.resolve().name)]
            for root, root_model in roots:
                for f in _videos_under(root, result):
                    items.append(_item(f, root, root_model, index, default_lang))
    seen: dict[tuple[str, str], VideoItem] = {}
    for it in items:
        key = (it.model, os.path.realpath(it.path))
        first = seen.setdefault(key, it)
        if first is not it and (first.prompt, first.sample) != (it.prompt, it.sample):
            raise ManifestError(
                f"{it.path}: given twice for model {it.model} with different prompts or samples "
                f"({_describe(first)} / {_describe(it)}); keep one"
            )
    result.items = distinct_keys(list(seen.values()))
    return result


def distinct_keys(items: Sequence[VideoItem]) -> list[VideoItem]:
    """Give different files that would share a record key (``model/x-0.mp4`` from two
    folders or manifest rows) keys that keep their folders, from their common ancestor.

    Keys that are already unique are left as they are, so resumed runs keep theirs.
    """
    by_key: dict[tuple[str, str], list[int]] = {}
    for i, it in enumerate(items):
        by_key.setdefault((it.model, it.rel_path), []).append(i)
    out = list(items)
    for (model, _), where in by_key.items():
        if len(where) < 2:
            continue
        paths = [os.path.abspath(items[i].path) for i in where]
        root = os.path.commonpath([os.path.dirname(p) for p in paths])
        for i, path in zip(where, paths, strict=True):
            rel = Path(os.path.relpath(path, root)).as_posix()
            out[i] = dataclasses.replace(items[i], rel_path=f"{model}/{rel}")
    keys = [(it.model, it.rel_path) for it in out]
    if len(set(keys)) != len(keys):  # e.g. a folder name that equals a file's relative path
        clash = next(k for k in keys if keys.count(k) > 1)
        raise ManifestError(f"two videos share the record key {clash[1]}; rename one of them")
    return out


def _describe(item: VideoItem) -> str:
    text = item.prompt.text if item.prompt else None
    return f"prompt {text!r}, sample {item.sample}"


def discover(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    model: str | None = None,
    index: PromptIndex | None = None,
    default_lang: str = "en",
) -> list[VideoItem]:
    """The videos :func:`scan` finds (see there), without the report of what it passed over."""
    return scan(inputs, model=model, index=index, default_lang=default_lang).items


def _is_video(path: Path, result: Scan | None) -> bool:
    """A video by name, else by content; ``result`` (when given) learns why not, or what."""
    if path.name.startswith("."):
        if result is not None:
            result.skipped.append((str(path), "hidden"))
        return False
    if is_video_file(path):
        return True
    kind = sniff_video(path)
    if result is not None:
        if kind is None:
            result.skipped.append((str(path), "not a video by name or content"))
        else:
            result.sniffed.append((str(path), kind))
    return kind is not None


def _videos_under(folder: Path, result: Scan) -> list[Path]:
    found = []
    for p in folder.rglob("*"):
        if p.is_symlink() and not p.exists():  # a dangling link or a loop: say so
            result.skipped.append((str(p), "broken link"))
        elif p.is_file() and _is_video(p, result):
            found.append(p)
    return sorted(found)


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
    seen: dict[tuple[str, str], tuple[int, VideoItem]] = {}
    for line_no, row in rows:
        where = f"{path}:{line_no}"
        _check_types(row, where)
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
            sample = int(str(sample_raw).strip()) if sample_raw not in (None, "") else None
        except ValueError:
            raise ManifestError(f"{where}: sample must be an integer, got {sample_raw!r}") from None
        if sample is not None and sample < 0:
            raise ManifestError(f"{where}: sample must be 0 or more, got {sample}")
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
        item = VideoItem(str(video), model, f"{model}/{video.name}", sample, prompt)
        key = (model, os.path.realpath(video))
        if key in seen:
            first_line, first = seen[key]
            if (first.prompt, first.sample) != (item.prompt, item.sample):
                raise ManifestError(
                    f"{where}: {row['path']} is already listed at line {first_line} for model "
                    f"{model} with another prompt or sample ({_describe(first)} / "
                    f"{_describe(item)}); one row per video and model"
                )
            continue  # the same row twice
        seen[key] = (line_no, item)
        items.append(item)
    return items


#: Standard manifest columns and the JSON types they take (CSV cells are text).
_COLUMN_TYPES: dict[str, tuple[type, ...]] = {
    "path": (str,),
    "model": (str,),
    "prompt_id": (str,),
    "prompt": (str,),
    "lang": (str,),
    "sample": (int, str),
}


def _check_types(row: dict[str, Any], where: str) -> None:
    """A JSONL value of the wrong type is refused, not turned into its string."""
    for column, types in _COLUMN_TYPES.items():
        value = row.get(column)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            kind = " or ".join("text" if t is str else "an integer" for t in types)
            raise ManifestError(
                f"{where}: {column} must be {kind}, got {type(value).__name__} {value!r:.60}"
            )
    tags = row.get("tags")
    if isinstance(tags, str) and tags[:1] == "[":
        return  # a CSV cell holding a JSON list, decoded later
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise ManifestError(f"{where}: tags must be a list of text, got {tags!r:.60}")


def _maybe_json(value: Any) -> Any:
    """CSV cells holding JSON (lists, objects) are decoded; other strings are kept."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value
