"""Weights registry: one typed entry per checkpoint file, verified by sha256 before every load.

Each :class:`Weights` entry names a file VBench (or vbench-cn) uses, where it comes from,
its full sha256 when known, its licence and the architecture it fits (``build()``, random
init). Files live in :func:`weights_home` (``$VBENCH_CN_HOME``, default
``~/.cache/vbench_cn``), in a ``--weights-dir`` (our flat layout or VBench's cache layout)
or at an explicit per-backbone override path.

Why not ``torch.hub.load_state_dict_from_url``: it checks a hash only when downloading,
never re-checks a cached file, and unpickles with ``weights_only=False``. Here the sha256
of a file is computed before every load (the result is cached in a small JSON keyed on
path, size and mtime), a pinned file with another digest is refused, and files are read
with safetensors, ``torch.load(weights_only=True)`` or, for OpenAI's TorchScript CLIP
archives, a restricted tensor reader that executes nothing (:mod:`vbench_cn._torchscript`).
Where the upstream digest is unknown the entry's ``sha256`` is None: ``weights verify``
reports it as "unpinned" and every record still carries the computed digest
(``"name@<sha256[:12]>"``).

Offline (``VBENCH_CN_OFFLINE=1``, ``HF_HUB_OFFLINE=1`` or no network) a missing file is one
line: ``dino_vitb16: missing <path> (sha256 …); download <url> or pass --weights-dir``.

This module is the mechanism only. The entries live beside their architectures, in
``vbench_cn/features/<backbone>.py``; importing :mod:`vbench_cn.features` (as the runner and
the CLI do) lets a lookup by name find an entry whose module is not imported yet.
"""

from __future__ import annotations

import fnmatch
import hashlib
import http.client
import json
import logging
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import torch

from vbench_cn.download import parse_hf_source
from vbench_cn.registry import Registry

if TYPE_CHECKING:
    from torch import nn

    from vbench_cn.download import Progress

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_CACHE_FILE = "sha256-cache.json"
#: torch's weights_only refusal names the global: "Unsupported global: GLOBAL argparse.Namespace".
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")

StateDict = dict[str, torch.Tensor]


class LoadOptions(Protocol):
    """What loading reads of its options (:class:`vbench_cn.features.ExtractorOptions`)."""

    device: torch.device
    random_weights: bool
    weights_dir: str | None
    weights_overrides: dict[str, str]
    seed: int


class WeightsError(Exception):
    """A checkpoint cannot be used; the message is one line naming the entry and the file."""


class WeightsMissing(WeightsError):
    """The checkpoint is not on disk and may not (or could not) be downloaded."""


@dataclass(frozen=True)
class Weights:
    """One checkpoint file and the architecture it fits.

    Attributes:
        name: registry key, lower_snake (``dino_vitb16``); used by extractors and records.
        build: returns the real architecture with random init (no download).
        source: ``https://…`` URL, or ``hf://<org>/<repo>/<path>@<revision>``.
        filename: file name in our cache (``<home>/<filename>``).
        sha256: full 64-hex digest of the file, or None where upstream publishes none.
        size_bytes: file size when known, else None.
        license: licence of the weights (SPDX id or a short phrase).
        transforms: the input transform the weights expect, in words.
        meta: ``num_params`` (tested against ``build()``), ``paper``, ``vbench_file``,
            ``vbench_cache_path`` (path under VBench's cache dir), ``used_by``.
        convert: maps what the file holds (after a safe load) onto ``build()``'s state dict.
        archive_member: when ``source`` is a zip, the member to extract.
        randomize: extra adjustment of a random-init model (``--random-weights``), e.g. to
            keep a random head in a realistic output range.
        pickled: kinds of :data:`SAFE_GLOBALS` the real file pickles besides tensors
            (``"argparse"``, ``"numpy_scalars"``); everything else is refused.
        unpinned_reason: why ``sha256`` is None: the sources searched for a digest.
    """

    name: str
    build: Callable[[], nn.Module]
    source: str
    filename: str
    sha256: str | None
    size_bytes: int | None
    license: str
    transforms: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    convert: Callable[[Any], StateDict] | None = None
    archive_member: str | None = None
    randomize: Callable[[nn.Module, torch.Generator], None] | None = None
    pickled: tuple[str, ...] = ()
    unpinned_reason: str = ""

    @property
    def url(self) -> str:
        """A browsable download address (hf:// sources expanded to their resolve URL)."""
        hf = parse_hf_source(self.source)
        if hf:
            return f"https://huggingface.co/{hf[0]}/resolve/{hf[2]}/{hf[1]}"
        return self.source


#: Every checkpoint. Entries are registered by the modules that define the architectures
#: (``vbench_cn.features`` hands this registry their names, imported on a lookup that misses)
#: and by plugins of the ``vbench_cn.weights`` entry-point group.
WEIGHTS: Registry[Weights] = Registry("weights", group="vbench_cn.weights")


def register_weights(weights: Weights) -> Weights:
    """Add an entry; a second, different entry under the same name is an error."""
    if not _NAME_RE.match(weights.name):
        raise ValueError(f"weights name {weights.name!r} must be lower_snake")
    if weights.sha256 is not None and not _SHA_RE.match(weights.sha256):
        raise ValueError(f"{weights.name}: sha256 must be 64 lowercase hex digits or None")
    if weights.sha256 is None and not weights.unpinned_reason:
        raise ValueError(f"{weights.name}: an unpinned entry must say why (unpinned_reason)")
    unknown = set(weights.pickled) - set(SAFE_GLOBALS)
    if unknown:
        raise ValueError(f"{weights.name}: unknown pickled kinds {sorted(unknown)}")
    return WEIGHTS.register(weights.name, weights)


def get_weights(name: str) -> Weights:
    """The entry called ``name``; unknown names fail with a did-you-mean."""
    return WEIGHTS[name]


def list_weights(include: str | None = None) -> list[Weights]:
    """Every entry, sorted by name; ``include`` is an fnmatch pattern (``"clip*"``)."""
    return [WEIGHTS[n] for n in WEIGHTS.names() if include is None or fnmatch.fnmatch(n, include)]


def strip_module_prefix(raw: Any) -> StateDict:
    """A checkpoint saved from ``DataParallel`` (keys ``module.*``, maybe under ``params``)."""
    if isinstance(raw, dict) and "params" in raw and isinstance(raw["params"], dict):
        raw = raw["params"]
    if not isinstance(raw, dict):
        raise WeightsError("checkpoint is not a dict")
    return {k.removeprefix("module."): v for k, v in raw.items()}


# --------------------------------------------------------------------------- where files are


def weights_home() -> Path:
    """``$VBENCH_CN_HOME`` or ``~/.cache/vbench_cn``: where downloads go."""
    env = os.environ.get("VBENCH_CN_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vbench_cn"


def offline() -> bool:
    """True when the network must not be used (``VBENCH_CN_OFFLINE=1`` or ``HF_HUB_OFFLINE=1``)."""
    return any(
        os.environ.get(k, "").strip().lower() in ("1", "true", "yes")
        for k in ("VBENCH_CN_OFFLINE", "HF_HUB_OFFLINE")
    )


def destination(name: str) -> Path:
    """Where :func:`download` puts the file of ``name``."""
    return weights_home() / get_weights(name).filename


def candidates(name: str, options: LoadOptions | None = None) -> list[Path]:
    """Paths searched for ``name``, in order.

    An override alone if given; else the weights dir (``<dir>/<filename>``, then VBench's
    ``<dir>/<vbench_cache_path>``), our home, and torch.hub's checkpoint cache (URL sources
    whose file name is kept). Every file found is still verified by sha256 before use.
    """
    w = get_weights(name)
    paths: list[Path] = []
    if options is not None and name in options.weights_overrides:
        return [Path(options.weights_overrides[name]).expanduser()]
    if options is not None and options.weights_dir:
        root = Path(options.weights_dir).expanduser()
        paths.append(root / w.filename)
        if w.meta.get("vbench_cache_path"):
            paths.append(root / str(w.meta["vbench_cache_path"]))
    paths.append(weights_home() / w.filename)
    if (
        parse_hf_source(w.source) is None
        and w.archive_member is None
        and Path(w.source).name == w.filename
    ):
        # torch.hub's cache (where e.g. VBench's DINO hub call really keeps its weights)
        paths.append(Path(torch.hub.get_dir()) / "checkpoints" / w.filename)
    return paths


def locate(name: str, options: LoadOptions | None = None) -> Path | None:
    """The first existing file for ``name`` (see :func:`candidates`), or None.

    An override path that does not exist is an error rather than a silent fallback.
    """
    paths = candidates(name, options)
    if options is not None and name in options.weights_overrides:
        if not paths[0].is_file():
            raise WeightsError(f"{name}: override {paths[0]}: file not found")
        return paths[0]
    for path in paths:
        if path.is_file():
            return path
    return None


def _missing_message(w: Weights, dest: Path, cause: str | None = None) -> str:
    digest = f"sha256 {w.sha256[:12]}…" if w.sha256 else "sha256 unpinned"
    tail = f" ({cause})" if cause else ""
    return f"{w.name}: missing {dest} ({digest}); download {w.url} or pass --weights-dir{tail}"


# --------------------------------------------------------------------------- sha256


def _cache_path() -> Path:
    return weights_home() / _CACHE_FILE


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(data: dict[str, Any]) -> None:
    path = _cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home only costs re-hashing next time
        log.debug("cannot write %s: %s", path, exc)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, cached by (absolute path, size, mtime) in ``<home>/sha256-cache.json``."""
    path = Path(path)
    st = path.stat()
    key = str(path.resolve())
    cache = _read_cache()
    hit = cache.get(key)
    if (
        isinstance(hit, dict)
        and hit.get("size") == st.st_size
        and hit.get("mtime_ns") == st.st_mtime_ns
    ):
        return str(hit["sha256"])
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    cache = _read_cache()
    cache[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": value}
    _write_cache(cache)
    return value


def check_file(name: str, path: Path, *, pinned: bool = True) -> str:
    """Compute ``path``'s sha256 and, when ``pinned`` and the entry has a digest, require it.

    Returns:
        The file's full sha256.
    """
    w = get_weights(name)
    got = file_sha256(path)
    if pinned and w.sha256 is not None and got != w.sha256:
        raise WeightsError(
            f"{name}: {path}: sha256 {got[:12]}… does not match the pinned {w.sha256[:12]}…; "
            f"delete it and run `vbench-cn weights download {name}`"
        )
    return got


VerifyStatus = Literal["ok", "unpinned", "missing", "mismatch"]


@dataclass(frozen=True)
class Verification:
    """Result of :func:`verify` for one entry."""

    name: str
    status: VerifyStatus
    path: str | None
    sha256: str | None
    message: str = ""


def verify(name: str, options: LoadOptions | None = None) -> Verification:
    """Check the file of ``name`` on disk: ok, unpinned (no reference digest), missing, mismatch."""
    w = get_weights(name)
    try:
        path = locate(name, options)
    except WeightsError as exc:
        return Verification(name, "missing", None, None, str(exc))
    if path is None:
        return Verification(
            name, "missing", None, None, _missing_message(w, weights_home() / w.filename)
        )
    got = file_sha256(path)
    if w.sha256 is None:
        return Verification(
            name, "unpinned", str(path), got, "no published sha256; computed digest shown"
        )
    if got != w.sha256:
        return Verification(name, "mismatch", str(path), got, f"expected {w.sha256}")
    return Verification(name, "ok", str(path), got)


# --------------------------------------------------------------------------- download


def download(name: str, *, force: bool = False, progress: Progress | None = None) -> Path:
    """Fetch the file of ``name`` into :func:`weights_home`, verify it, return its path.

    A file already there that verifies is returned without touching the network. A broken
    transfer leaves ``<file>.part`` for the next call to resume (:mod:`vbench_cn.download`);
    a download whose sha256 differs from the pinned one is deleted and refused.
    """
    from vbench_cn import download as dl

    w = get_weights(name)
    dest = weights_home() / w.filename
    if dest.is_file() and not force:
        check_file(name, dest)
        return dest
    if offline():
        raise WeightsMissing(_missing_message(w, dest, "offline"))
    url = dl.resolve_url(w.source)
    target = dest if w.archive_member is None else dest.parent / dl.remote_name(w.source)
    try:
        got = dl.fetch(url, target, progress=progress)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, 404, timeout, cut
        digest = f" (sha256 {w.sha256})" if w.sha256 else ""
        raise WeightsMissing(
            f"{name}: cannot download {url} ({dl.describe_error(exc)}); "
            f"put the file at {dest}{digest} by hand, or pass --weights-dir"
        ) from None
    if w.archive_member:
        try:
            dl.extract_member(got, w.archive_member, dest)
        except (zipfile.BadZipFile, KeyError) as exc:
            got.unlink()
            raise WeightsError(
                f"{name}: {url}: cannot extract {w.archive_member} ({_first_line(exc)}); "
                f"deleted {got}"
            ) from None
        got.unlink()
    sha = file_sha256(dest)
    if w.sha256 is not None and sha != w.sha256:
        dest.unlink()
        raise WeightsError(
            f"{name}: downloaded file has sha256 {sha[:12]}…, expected {w.sha256[:12]}…; "
            f"deleted {dest} (corrupt or changed upstream: {url})"
        )
    return dest


def ensure(name: str, options: LoadOptions | None = None) -> Path:
    """The path of ``name``'s file: found locally, else downloaded (unless offline)."""
    path = locate(name, options)
    if path is not None:
        return path
    return download(name)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else ""


# --------------------------------------------------------------------------- loading


def _argparse_globals() -> list[Any]:
    import argparse

    return [argparse.Namespace]


def _numpy_scalar_globals() -> list[Any]:
    """What a pickled numpy scalar (``np.float64(0.7)``, ``np.int64(3)``) refers to.

    The scalar reconstructor is named ``numpy.core.multiarray.scalar`` in files written
    with numpy 1.x and ``numpy._core.multiarray.scalar`` with numpy 2.x; both names map
    to the installed function. Dtypes are pickled as ``numpy.dtype`` plus their class.
    """
    import numpy as np

    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    dtype_classes = [getattr(np.dtypes, n) for n in dir(np.dtypes) if n.endswith("DType")]
    return [
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        np.dtype,
        *dtype_classes,
    ]


#: Benign objects a checkpoint may pickle besides tensors and containers, by kind; an entry
#: names the kinds its real file holds (``Weights.pickled``) and nothing else is allowed.
SAFE_GLOBALS: dict[str, Callable[[], list[Any]]] = {
    "argparse": _argparse_globals,  # training arguments saved beside the weights
    "numpy_scalars": _numpy_scalar_globals,  # epoch counters, best metrics
}


def read_file(
    path: str | os.PathLike[str], pickled: tuple[str, ...] = (), *, mmap: bool = False
) -> Any:
    """Read a checkpoint without executing code from it.

    ``.safetensors`` via safetensors; TorchScript archives via the restricted reader in
    :mod:`vbench_cn._torchscript`; anything else with ``torch.load(weights_only=True)``,
    which refuses every global but tensors and containers unless allowed here: ``pickled``
    names kinds of :data:`SAFE_GLOBALS` (never arbitrary classes, never
    ``weights_only=False``). With ``mmap`` a zip-format ``torch.save`` file is
    memory-mapped: tensors are read from disk only when used, so a checkpoint holding an
    optimiser state costs only the model's bytes (legacy-format files are read whole).
    """
    path = os.fspath(path)
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    from vbench_cn._torchscript import is_torchscript_archive, read_torchscript_tensors

    if is_torchscript_archive(path):
        return read_torchscript_tensors(path)
    allowed = [g for kind in pickled for g in SAFE_GLOBALS[kind]()]
    with torch.serialization.safe_globals(allowed):
        if mmap and zipfile.is_zipfile(path):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return torch.load(path, map_location="cpu", weights_only=True)


def _resolve(name: str, options: LoadOptions | None) -> tuple[Path, str]:
    """The file a load of ``name`` reads (located or downloaded) and its verified sha256.

    An override file is used whatever its digest (it is recorded); files found elsewhere
    must match a pinned digest.
    """
    path = ensure(name, options)
    is_override = options is not None and name in options.weights_overrides
    return path, check_file(name, path, pinned=not is_override)


def weights_identity(name: str, options: LoadOptions | None = None) -> str:
    """``"name@<sha256[:12]>"`` of the file a load would read, or ``"random"``; loads nothing.

    What a record's ``weights`` field will say, known before the model is built: a resumed
    run compares it with the records it holds, and a missing checkpoint fails here, before
    the first video, with the line that says where to get it.
    """
    if options is not None and options.random_weights:
        return "random"
    _, sha = _resolve(name, options)
    return f"{name}@{sha[:12]}"


def load_state_dict(
    name: str, options: LoadOptions | None = None, *, mmap: bool = False
) -> tuple[StateDict, str]:
    """Locate (or download), verify and safely read ``name``'s checkpoint (``mmap``: read_file).

    Returns:
        ``(state_dict, weights_id)``: the state dict after the entry's ``convert`` and
        ``"name@<sha256[:12]>"`` of the file actually read (see :func:`_resolve`).
    """
    w = get_weights(name)
    path, sha = _resolve(name, options)
    is_override = options is not None and name in options.weights_overrides
    if is_override and w.sha256 is not None and sha != w.sha256:
        log.warning(
            "%s: override %s has sha256 %s…, not the pinned %s…",
            name,
            path,
            sha[:12],
            w.sha256[:12],
        )
    try:
        raw = read_file(path, w.pickled, mmap=mmap)
    except Exception as exc:
        refused = _REFUSED_GLOBAL.search(str(exc))
        if refused:  # torch's message is many lines; name the object it refused
            cause = f"it pickles {refused[1]}, which {name} does not allow"
        else:
            cause = f"{type(exc).__name__}: {_first_line(exc)}"
        raise WeightsError(f"{name}: {path}: cannot read checkpoint ({cause})") from None
    state = w.convert(raw) if w.convert else raw
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{name}: {path}: does not hold a flat state dict of tensors")
    return state, f"{name}@{sha[:12]}"


def randomize_(module: nn.Module, seed: int) -> nn.Module:
    """Give every constant float tensor of ``module`` seeded noise, in place.

    Norm weights (all ones), biases and cls tokens (all zeros) are constant after the usual
    init; an implementation that dropped a bias or a norm would then match a reference by
    accident (see docs/vbench-offline.md). Ones become ``1 + 0.1·N(0,1)``, other
    constants ``c + 0.02·N(0,1)``; BatchNorm running variances stay positive.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        named = list(module.named_parameters()) + list(module.named_buffers())
        for key, tensor in named:
            if not tensor.is_floating_point() or tensor.numel() == 0:
                continue
            flat = tensor.detach().reshape(-1)
            if tensor.numel() > 1 and not bool((flat == flat[0]).all()):
                continue
            noise = torch.randn(tensor.shape, generator=gen, dtype=torch.float32).to(tensor.dtype)
            if key.endswith("running_var"):
                tensor.copy_(1.0 + 0.1 * noise.abs())
            elif tensor.numel() > 1 and float(flat[0]) == 1.0:
                tensor.add_(0.1 * noise)
            else:
                tensor.add_(0.02 * noise)
    return module


def build_random(name: str, seed: int = 0) -> nn.Module:
    """``build()`` under a seed derived from ``seed`` and ``name``, then :func:`randomize_`."""
    w = get_weights(name)
    seed = (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**31)
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        module = w.build()
    randomize_(module, seed)
    if w.randomize is not None:
        w.randomize(module, torch.Generator().manual_seed(seed + 1))
    return module


def load_model(name: str, options: LoadOptions | None = None) -> tuple[nn.Module, str]:
    """Build ``name``'s architecture with verified weights (or seeded random ones).

    Returns:
        ``(module.eval() on options.device, weights_id)``, weights_id being
        ``"name@<sha256[:12]>"`` or ``"random"`` when ``options.random_weights``.
    """
    device = options.device if options is not None else torch.device("cpu")
    if options is not None and options.random_weights:
        return build_random(name, options.seed).eval().to(device), "random"
    state, weights_id = load_state_dict(name, options)
    module = get_weights(name).build()
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = state_dict_mismatch(module, state) or _first_line(exc)
        raise WeightsError(f"{name}: checkpoint does not fit the architecture ({detail})") from None
    return module.eval().to(device), weights_id


def state_dict_mismatch(module: nn.Module, state: StateDict, shown: int = 3) -> str:
    """Why ``state`` does not load into ``module``, on one line: missing, unexpected and
    mis-shaped keys, the first ``shown`` of each with their counts; "" when it fits.

    torch's own message spans a line per key, and its first line names none of them. A
    checkpoint saved through a wrapper (``module.``, ``model.``) is said so in one word.

    Example:
        >>> net = torch.nn.Linear(2, 3)
        >>> state = {"module.weight": torch.zeros(3, 2), "bias": torch.zeros(4)}
        >>> for part in state_dict_mismatch(net, state).split("; "):
        ...     print(part)
        1 missing: weight
        1 unexpected: module.weight
        1 of another shape: bias (4,) not (3,)
        checkpoint keys carry the prefix 'module.'
    """
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} not {tuple(expected[k].shape)}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    parts = [
        f"{len(keys)} {label}: {', '.join(keys[:shown])}{', ...' if len(keys) > shown else ''}"
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("of another shape", shapes),
        )
        if keys
    ]
    if missing and unexpected:
        prefix = os.path.commonprefix(unexpected)
        prefix = prefix[: prefix.rfind(".") + 1]
        if prefix and {k[len(prefix) :] for k in unexpected} >= set(missing):
            parts.append(f"checkpoint keys carry the prefix {prefix!r}")
    return "; ".join(parts)
