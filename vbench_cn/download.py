"""Fetching checkpoint files over HTTP: resumable, digest-checked, through mirrors, with progress.

Where a file comes from:

* ``hf://org/repo/path@rev`` sources: ``$HF_ENDPOINT/org/repo/resolve/rev/path``, the
  Hugging Face endpoint as ``huggingface_hub`` resolves it (so ``HF_ENDPOINT=https://hf-mirror.com``
  reaches a mirror), with its request headers (a logged-in token reaches gated repositories).
* plain URLs: the URL itself, or ``$VBENCH_CN_MIRROR/<file name of the URL>`` when that
  variable names a mirror (a web or ``file://`` folder holding the upstream files under their
  own names, e.g. ``models.zip``, ``dino_vitbase16_pretrain.pth``).

Why not ``hf_hub_download`` or ``torch.hub.download_url_to_file`` whole: torch.hub restarts
from zero after a broken transfer and knows no mirror; the hub client wants the Hub's
metadata headers and its own cache layout. Here one path serves both: bytes go to
``<dest>.part``; a retry asks for the rest (``Range``) and appends when the server answers
206, starts over on 200; the finished file is hashed, and a file whose sha256 differs from
the pinned one is deleted with a message saying so. A zip source is fetched whole and the
member the registry names is extracted. A failure is one line with the URL and where to put
the file by hand.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Bytes read per chunk.
CHUNK = 1 << 20
#: Seconds a connection may stay silent before the download fails (``$VBENCH_CN_TIMEOUT``).
DEFAULT_TIMEOUT = 60.0

Progress = Callable[[int, int | None], None]

_HF_RE = re.compile(r"^hf://(?P<repo>[^/]+/[^/]+)/(?P<path>[^@]+?)(?:@(?P<rev>[^@/]+))?$")


def parse_hf_source(source: str) -> tuple[str, str, str] | None:
    """``hf://org/repo/path@rev`` -> ``(org/repo, path, rev)`` (rev ``main`` when absent)."""
    m = _HF_RE.match(source)
    return (m["repo"], m["path"], m["rev"] or "main") if m else None


def hf_endpoint() -> str:
    """The Hugging Face endpoint: ``$HF_ENDPOINT`` as ``huggingface_hub`` reads it, else the Hub."""
    env = os.environ.get("HF_ENDPOINT")
    if env:
        return env.rstrip("/")
    try:
        from huggingface_hub import constants

        return str(constants.ENDPOINT).rstrip("/")
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return "https://huggingface.co"


def resolve_url(source: str) -> str:
    """Where a registry ``source`` (``hf://…`` or a URL) is fetched from, mirrors applied."""
    hf = parse_hf_source(source)
    if hf is not None:
        repo, path, rev = hf
        return f"{hf_endpoint()}/{repo}/resolve/{rev}/{path}"
    mirror = os.environ.get("VBENCH_CN_MIRROR", "").strip()
    if mirror:
        return f"{mirror.rstrip('/')}/{remote_name(source)}"
    return source


def remote_name(source: str) -> str:
    """The upstream file name of a source URL (the archive for zip members)."""
    return Path(source.split("?", 1)[0]).name


def _timeout() -> float:
    try:
        return float(os.environ.get("VBENCH_CN_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def _headers(url: str) -> dict[str, str]:
    headers = {"User-Agent": "vbench-cn"}
    if url.startswith(hf_endpoint() + "/"):
        try:
            from huggingface_hub.utils import build_hf_headers

            headers.update(build_hf_headers())
        except Exception:  # noqa: BLE001 - headers are a courtesy; anonymous access still works
            pass
    return headers


def fetch(url: str, target: Path, *, progress: Progress | None = None) -> Path:
    """Download ``url`` to ``target``, resuming from ``<target>.part`` when one is there.

    Raises:
        OSError: on HTTP errors (``urllib.error.HTTPError``), refused connections and
            timeouts; the ``.part`` file stays so that the next call resumes.
    """
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    headers = _headers(url)
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=_timeout())  # noqa: S310
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not have:
            raise
        part.unlink()  # the range no longer fits the file: start again
        return fetch(url, target, progress=progress)
    with response:
        resumed = have > 0 and response.status == 206
        length = response.headers.get("Content-Length")
        total = int(length) + (have if resumed else 0) if length else None
        done = have if resumed else 0
        with open(part, "ab" if resumed else "wb") as out:
            if progress:
                progress(done, total)
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                out.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
    if total is not None and done != total:
        raise ConnectionError(f"connection closed after {done} of {total} bytes")
    os.replace(part, target)
    return target


def extract_member(archive: Path, member: str, dest: Path) -> Path:
    """Copy ``member`` of the zip ``archive`` to ``dest`` (through ``<dest>.part``)."""
    part = dest.with_name(dest.name + ".part")
    with zipfile.ZipFile(archive) as zf, zf.open(member) as src, open(part, "wb") as out:
        shutil.copyfileobj(src, out, CHUNK)
    os.replace(part, dest)
    return dest


def describe_error(exc: BaseException) -> str:
    """A short cause for one-line messages: ``HTTP 404 Not Found``, ``timed out``, ..."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"timed out after {_timeout():g} s"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


class RichProgress:
    """A rich progress bar (bytes, total, rate, time left) for one file at a time."""

    def __init__(self, console: Any = None) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        if console is None:
            from rich.console import Console

            console = Console(stderr=True)

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )

    def __enter__(self) -> RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def start(self, label: str) -> Progress:
        """A callback for :func:`fetch` drawing ``label``'s bar from its first byte on."""
        tasks: list[Any] = []

        def update(done: int, total: int | None) -> None:
            if not tasks:
                tasks.append(self._progress.add_task(label, total=total))
            self._progress.update(tasks[0], completed=done, total=total)

        return update


def rate_summary(size: int, seconds: float) -> str:
    """``"12.3 MB in 4.0 s, 3.1 MB/s"``: the line printed after each download."""
    mb = size / 1e6
    return f"{mb:.1f} MB in {seconds:.1f} s, {mb / max(seconds, 1e-6):.1f} MB/s"
