"""Let ``vbench_cn.aggregate(...)`` and ``vbench_cn.compare(...)`` call the function of the
same-named module: importing a submodule binds its name on the package, which would
otherwise shadow the function the public API promises."""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, self.__name__.rsplit(".", 1)[1])(*args, **kwargs)


def make_callable(module_name: str) -> None:
    """Make ``module_name`` callable as its own same-named function."""
    sys.modules[module_name].__class__ = _CallableModule
