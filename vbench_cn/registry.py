"""One registry mechanism, for scorers, feature extractors and weights: names to objects.

A :class:`Registry` learns its entries in four ways:

* ``register(name, obj)``: at the definition (the decorators ``@scorer`` and
  ``@register_extractor`` and ``register_weights`` call it);
* ``lazy({name: "package.module:attr"})``: the module is imported on the first lookup of
  that name, so listing names imports nothing;
* ``add_modules([...])``: modules that register entries when imported; they are imported on
  the first lookup of a name the registry does not know yet, or when every name is listed;
* entry points of the registry's ``group`` (plugins): ``name = "package.module:attr"`` is a
  lazy entry, ``name = "package.module"`` a module that registers its entries when imported.

Lookups are dict-like (``registry[name]``, ``name in registry``, iteration over the sorted
names); an unknown name raises ``KeyError("unknown <kind> 'x'; did you mean y?")``.
Assigning (``registry[name] = obj``) replaces an entry without the checks of ``register``;
it is meant for tests and deliberate overrides.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from vbench_cn._text import did_you_mean

log = logging.getLogger(__name__)

T = TypeVar("T")


def _import_target(target: str | EntryPoint) -> Any:
    """The object a ``"module:attr"`` string or an entry point names (imports its module)."""
    if isinstance(target, EntryPoint):
        return target.load()
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


class Registry(MutableMapping[str, T], Generic[T]):
    """Names to objects of one kind (``"scorer"``, ``"feature extractor"``, ``"weights"``).

    Args:
        kind: what an entry is, for error messages.
        group: entry-point group of plugins (``vbench_cn.scorers``...), or None.
        modules: modules that register entries when imported (see :meth:`add_modules`).
    """

    def __init__(self, kind: str, *, group: str | None = None, modules: Iterable[str] = ()):
        self.kind = kind
        self.group = group
        self._entries: dict[str, T] = {}
        self._lazy: dict[str, str | EntryPoint] = {}
        self._modules: list[str] = []
        self._imported: set[str] = set()
        self._plugins_loaded = group is None
        self.add_modules(modules)

    # -- adding entries

    def register(self, name: str, obj: T) -> T:
        """Add ``obj`` under ``name``; another object under a taken name is an error.

        A lazy entry that names this very object (``"module:qualname"``) is replaced by it,
        so a module may both be listed lazily and register its classes when imported.
        """
        current = self._entries.get(name, self._lazy.get(name))
        if current is not None and current != obj and current != _qualified(obj):
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._lazy.pop(name, None)
        self._entries[name] = obj
        return obj

    def lazy(self, targets: Mapping[str, str]) -> None:
        """Add lazy entries ``{name: "package.module:attr"}`` (imported on first lookup)."""
        for name, target in targets.items():
            if ":" not in target:
                raise ValueError(f"{self.kind} {name!r}: {target!r} is not 'module:attr'")
            current = self._entries.get(name, self._lazy.get(name))
            if current is not None and current != target and _qualified(current) != target:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            if name not in self._entries:
                self._lazy[name] = target

    def add_modules(self, modules: Iterable[str]) -> None:
        """Modules that register entries when imported (imported when a name is missing)."""
        self._modules.extend(m for m in modules if m not in self._modules)

    # -- lookups

    def __getitem__(self, name: str) -> T:
        if name not in self._entries and name not in self._lazy:
            self._load_sources()
        if name in self._entries:
            return self._entries[name]
        if name in self._lazy:
            obj = _import_target(self._lazy[name])
            self._lazy.pop(name, None)
            self._entries.setdefault(name, obj)
            return self._entries[name]
        raise KeyError(f"unknown {self.kind} {name!r}{did_you_mean(name, self.names())}")

    def __contains__(self, name: object) -> bool:
        if name in self._entries or name in self._lazy:
            return True
        self._load_sources()
        return name in self._entries or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def names(self) -> list[str]:
        """Every known name, sorted (lazy entries are listed without being imported)."""
        self._load_sources()
        return sorted(set(self._entries) | set(self._lazy))

    def __setitem__(self, name: str, obj: T) -> None:
        self._lazy.pop(name, None)
        self._entries[name] = obj

    def __delitem__(self, name: str) -> None:
        if name not in self._entries and name not in self._lazy:
            raise KeyError(name)
        self._entries.pop(name, None)
        self._lazy.pop(name, None)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} loaded, {len(self._lazy)} lazy)"

    # -- sources

    def _load_sources(self) -> None:
        """Import the registering modules not imported yet, then the plugins (once)."""
        for module in self._modules:
            if module not in self._imported:
                self._imported.add(module)
                _import_module(module, self.kind)
        if not self._plugins_loaded:
            self._plugins_loaded = True
            for ep in entry_points(group=str(self.group)):
                self._add_plugin(ep)

    def _add_plugin(self, ep: EntryPoint) -> None:
        if ep.attr:
            if ep.name in self._entries or ep.name in self._lazy:
                log.error("%s plugin %s: the name is taken; ignored", self.kind, ep.value)
            else:
                self._lazy[ep.name] = ep
            return
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not break the built-ins
            log.error("%s plugin %s failed to load: %s", self.kind, ep.name, exc)


def _qualified(obj: Any) -> str | None:
    """``"module:qualname"`` of a class or function, None for other objects."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}:{qualname}" if module and qualname else None


def _import_module(module: str, kind: str) -> None:
    """Import a registering module; one whose third-party library is absent is left out."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        missing = exc.name or ""
        if missing == module or not missing.startswith("vbench_cn"):
            log.debug("%s: cannot import %s: %s", kind, module, exc)
            return
        raise
