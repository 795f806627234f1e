"""Read the tensors of a TorchScript archive without running TorchScript or pickle code.

OpenAI's CLIP checkpoints (``ViT-B-32.pt``, ``ViT-L-14.pt``) are TorchScript archives: a
zip holding ``<root>/data.pkl`` (the module tree, pickled), ``<root>/data/<key>`` (raw tensor
storages) and ``<root>/code/`` (TorchScript source). ``torch.load(weights_only=True)``
refuses such archives and ``torch.jit.load`` deserialises the code too. Weights are all we
need, so this module walks ``data.pkl`` with a restricted unpickler: it resolves only
tensor rebuilding, storage types, ``OrderedDict`` and TorchScript's own container helpers,
turns every ``__torch__.*`` class into an inert attribute holder, and reads storages
straight from the zip. Any other global makes it fail, so no code from the file runs.
The unpickler understands the format that ``torch.jit.save`` writes (protocol 2,
``BINPERSID`` storages ``('storage', <Type>Storage, key, location, numel)``).
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from typing import Any

import torch

_STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


class TorchScriptError(ValueError):
    """The file is not a TorchScript archive this reader understands (message: one line)."""


class _ScriptObject:
    """Inert stand-in for a ``__torch__.*`` class: keeps the attributes, runs nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.attrs: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.attrs = dict(state)
        elif isinstance(state, tuple) and state and isinstance(state[0], dict):
            self.attrs = dict(state[0])


def _script_class(qualname: str) -> type:
    return type(qualname.rsplit(".", 1)[-1], (_ScriptObject,), {"qualname": qualname})


def _rebuild_tensor(
    storage: torch.Tensor, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> torch.Tensor:
    return storage.as_strided(size, stride, offset)


def _identity(value: Any, *_: Any) -> Any:
    return value


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, root: str) -> None:
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._root = root
        self._storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("__torch__"):
            return _script_class(f"{module}.{name}")
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch.jit._pickle" and name in (
            "restore_type_tag",
            "build_intlist",
            "build_tensorlist",
            "build_doublelist",
            "build_boollist",
        ):
            return _identity
        raise pickle.UnpicklingError(
            f"global {module}.{name} is not allowed in a weights-only read"
        )

    def persistent_load(self, pid: Any) -> torch.Tensor:
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        dtype, key = pid[1], str(pid[2])
        if not isinstance(dtype, torch.dtype):
            raise pickle.UnpicklingError(f"unsupported storage type {dtype!r}")
        if key not in self._storages:
            raw = bytearray(self._archive.read(f"{self._root}/data/{key}"))
            flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.zeros(0, dtype=dtype)
            self._storages[key] = flat
        return self._storages[key]


def is_torchscript_archive(path: str) -> bool:
    """True if ``path`` is a zip with a TorchScript layout (``constants.pkl`` and ``code/``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names)


def read_torchscript_tensors(path: str) -> dict[str, torch.Tensor]:
    """Every tensor attribute of the archived module tree, by dotted path (no code executed).

    Parameters, buffers and plain tensor attributes are all returned (the archive does not
    say which is which outside its code); the caller keeps the keys its architecture expects.

    Args:
        path: a file written by ``torch.jit.save`` (e.g. OpenAI's ``ViT-B-32.pt``).

    Returns:
        ``{"visual.conv1.weight": tensor, ...}`` in the archive's dtype (OpenAI: float16).
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise TorchScriptError(f"{path}: not a TorchScript archive ({exc})") from None
    with archive:
        pkl = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if not pkl:
            raise TorchScriptError(f"{path}: no data.pkl at the top of the archive")
        root = pkl[0].split("/", 1)[0]
        try:
            tree = _Unpickler(archive.read(pkl[0]), archive, root).load()
        except (pickle.UnpicklingError, KeyError, EOFError, TypeError, RuntimeError) as exc:
            raise TorchScriptError(f"{path}: cannot read data.pkl ({exc})") from None
    out: dict[str, torch.Tensor] = {}
    _collect(tree, "", out)
    return out


def _collect(node: Any, prefix: str, out: dict[str, torch.Tensor]) -> None:
    if isinstance(node, _ScriptObject):
        for key, value in node.attrs.items():
            _collect(value, f"{prefix}{key}.", out)
    elif isinstance(node, torch.Tensor):
        out[prefix[:-1]] = node.clone()
    elif isinstance(node, dict) and prefix == "":
        for key, value in node.items():
            _collect(value, f"{key}.", out)
