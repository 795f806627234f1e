"""Write a rendered site into a folder without touching anything the build did not write.

The build keeps a list of the files it wrote in ``<out>/.vbench-cn-site.json``. A rebuild
overwrites those, deletes the ones the new site no longer has, and nothing else: a folder
that is not empty and holds no such list is refused (``--out .`` at a repository root used
to remove its ``dimensions/`` specs), so is a file of someone else's where the site would
write one. Paths in the list are checked to stay inside the folder, so an edited list
cannot make a rebuild delete elsewhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

#: The build's list of the files it wrote, at the top of the output folder.
SITE_MARKER = ".vbench-cn-site.json"


class SiteError(ValueError):
    """The site cannot be written there; the message is one line naming the path."""


def check_site_target(out: Path) -> None:
    """Refuse, before any work, a target that is a file or a foreign non-empty folder."""
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out}: exists and is not a folder; choose a folder for the site")
    if out.is_dir() and _owned(out) is None and any(out.iterdir()):
        raise SiteError(
            f"{out}: folder is not empty and holds no vbench-cn site ({SITE_MARKER}); "
            "build into a new or empty folder"
        )


def write_site(out: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` (relative POSIX path → bytes) into ``out``; remove only stale own files.

    Raises:
        SiteError: ``out`` is a file, a foreign non-empty folder, or a file the build did
            not write sits where the site writes one. Nothing is written then.
    """
    check_site_target(out)
    previous = _owned(out) or set()
    for rel in sorted(files):
        path = out / rel
        if not _is_safe(rel, out):
            raise SiteError(f"{path}: leads outside {out} (a symbolic link?); build elsewhere")
        if rel not in previous and (path.exists() or path.is_symlink()):
            raise SiteError(
                f"{path}: exists and was not written by vbench-cn; move it or build elsewhere"
            )
    out.mkdir(parents=True, exist_ok=True)
    # The list first names every file that may exist after a crash, so a rebuild can clean up.
    _write_marker(out, previous | set(files))
    for rel, data in sorted(files.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    for rel in sorted(previous - set(files)):
        path = out / rel
        if path.is_file() and not path.is_symlink():
            path.unlink()
            _remove_empty_parents(path.parent, out)
    _write_marker(out, set(files))


def _owned(out: Path) -> set[str] | None:
    """The files a previous build listed (safe relative paths only), or None without a list."""
    marker = out / SITE_MARKER
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    listed = data.get("files") if isinstance(data, dict) else None
    if not isinstance(listed, list):
        return set()
    return {rel for rel in listed if isinstance(rel, str) and _is_safe(rel, out)}


def _is_safe(rel: str, out: Path) -> bool:
    """A plain relative path that stays inside ``out`` (no ``..``, not absolute, no link out)."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or not pure.parts or any(p in ("", ".", "..") for p in pure.parts):
        return False
    if "\\" in rel or rel == SITE_MARKER:
        return False
    try:
        (out / rel).resolve().relative_to(out.resolve())
    except ValueError:
        return False
    return True


def _write_marker(out: Path, files: Iterable[str]) -> None:
    text = json.dumps({"generator": "vbench-cn", "files": sorted(files)}, indent=1) + "\n"
    tmp = out / f"{SITE_MARKER}.tmp"
    tmp.write_text(text, encoding="utf-8", newline="\n")
    os.replace(tmp, out / SITE_MARKER)


def _remove_empty_parents(folder: Path, out: Path) -> None:
    """Remove folders emptied by deleting stale pages, up to (not including) ``out``."""
    out = out.resolve()
    folder = folder.resolve()
    while folder != out and out in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (someone's file) or gone: stop here
            return
        folder = folder.parent
