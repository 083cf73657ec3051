"""The auditdesk import graph, read statically with ``ast`` (nothing is imported or run).

Counting rules (tests/test_architecture.py relies on them):

* every ``import`` / ``from ... import`` counts, wherever it stands: at module level, inside a
  function (a *lazy* import is still a dependency: it only hides a circle until that function
  runs), inside ``try`` blocks;
* imports under ``if TYPE_CHECKING:`` do not count: they never run and only name types for the
  annotations;
* ``from auditdesk.pkg import name`` is an edge to ``auditdesk.pkg.name`` when that is a module,
  else to ``auditdesk.pkg``; an import of a package's submodule is not counted as an import of
  the package's ``__init__`` (Python runs it, but the code does not depend on it).
"""

from __future__ import annotations

import ast
from pathlib import Path


def module_files(src: Path, top: str = "auditdesk") -> dict[str, Path]:
    """Dotted module name -> file, for every .py under ``src/top``."""
    found: dict[str, Path] = {}
    for path in sorted((src / top).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every dotted name the module imports (external ones too), per the rules above."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                out.add(candidate if candidate in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def internal_graph(src: Path, top: str = "auditdesk") -> dict[str, set[str]]:
    """Module -> the modules of the same top package it imports."""
    modules = module_files(src, top)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for dotted in imported_names(name, path, modules):
            while dotted and dotted not in modules:
                dotted = dotted.rpartition(".")[0]
            if dotted and dotted != name:
                targets.add(dotted)
        graph[name] = targets
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def strong(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found
