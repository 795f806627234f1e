"""The package's layers point one way: no import cycle, features below scorers, runner on top.

The graph is read from the source with :mod:`ast` (nothing is imported, torch included):
every ``import`` and ``from ... import`` anywhere in a module counts, inside functions and
``if TYPE_CHECKING:`` blocks too, since a lazy or type-only import is still a dependency a
reader has to follow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "vbench_cn"

#: Modules the runner is built on; none of them may import it (directly or through others).
BELOW_RUNNER = (
    "vbench_cn.features",
    "vbench_cn.scorers",
    "vbench_cn.weights",
    "vbench_cn.registry",
    "vbench_cn.specs",
    "vbench_cn.reference",
    "vbench_cn.video",
    "vbench_cn.results",
    "vbench_cn.manifest",
)


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """``vbench_cn/features/__init__.py`` -> ``vbench_cn.features``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(name: str, modules: Iterable[str]) -> str | None:
    """The longest module of the package that ``name`` is or lies in, or None (outside it)."""
    known = set(modules)
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> modules of the package it imports (``from pkg import sub`` resolves to ``sub``)."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name if is_package else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                wanted = [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in wanted:
                found = _resolve(target, files)
                if found is not None and found != name:
                    targets.add(found)
        graph[name] = targets
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(graph: Mapping[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for succ in graph.get(todo.pop(), ()):
            if succ not in seen:
                seen.add(succ)
                todo.append(succ)
    return seen


def _in(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


GRAPH = import_graph()


def test_the_graph_is_read() -> None:
    """Guards the checks below against an empty or misread graph."""
    assert "vbench_cn.runner" in GRAPH
    assert "vbench_cn.features.dino" in GRAPH
    assert "vbench_cn.features" in GRAPH["vbench_cn.runner.core"]
    assert "vbench_cn.runner.core" in GRAPH["vbench_cn.runner"]  # the package's interface
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_inside_the_package() -> None:
    found = cycles(GRAPH)
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_features_never_import_scorers() -> None:
    bad = sorted(
        f"{mod} -> {dep}"
        for mod, deps in GRAPH.items()
        if _in(mod, "vbench_cn.features")
        for dep in deps
        if _in(dep, "vbench_cn.scorers")
    )
    assert not bad, "features must not import scorers: " + ", ".join(bad)


def test_weights_and_the_registry_stay_below_the_features() -> None:
    for low in ("vbench_cn.weights", "vbench_cn.registry"):
        up = sorted(d for d in reachable(GRAPH, low) if _in(d, "vbench_cn.features"))
        assert not up, f"{low} imports {', '.join(up)}"


def test_nothing_below_the_runner_imports_it() -> None:
    below = [m for m in GRAPH if any(_in(m, p) for p in BELOW_RUNNER)]
    assert below
    bad = sorted(m for m in below if any(_in(d, "vbench_cn.runner") for d in reachable(GRAPH, m)))
    assert not bad, "these modules import the runner: " + ", ".join(bad)
