"""The floors of the house, read from the source with `ast`: no import cycle between recops
modules, the command line only in recops/cli, and a store that knows nothing above it.

Every import counts, at any depth: one inside a function runs as surely as one at the top, only
later. `from package import name` imports the module package.name when there is one, else the
package itself; importing a module runs its package's `__init__`, which is not counted as an
import of the package (a package's `__init__` may import its own modules, as long as they do not
import it back).
"""

from __future__ import annotations

import ast
from pathlib import Path

import recops

ROOT = Path(recops.__file__).resolve().parent
STORE_MAY_IMPORT = {"recops.errors", "recops.records", "recops.shapes", "recops.stream"}
STORE_MUST_NOT_IMPORT = {"typer", "deepface", "recops.model_names", "recops.models"}


def _module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = ("recops",) + path.relative_to(ROOT).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


MODULES = _module_names()


def _imports(name: str, path: Path) -> set[str]:
    """Every module `name` imports (third-party ones by their full dotted name)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    edges = {
        name: sorted(target for target in targets if target in graph and target != name)
        for name, targets in graph.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for name in sorted(edges):
        if name not in index:
            visit(name)
    return sorted(components)


def test_the_graph_sees_relative_lazy_and_submodule_imports():
    assert "recops.store.tree" in GRAPH["recops.store.dataset"], "from .tree import Tree"
    assert "recops.shapes" in GRAPH["recops.store.segments"], "from .. import shapes, inside a function"
    assert "recops.cli.common" in GRAPH["recops.cli.init"]
    assert "typer" in GRAPH["recops.cli.common"]


def test_every_import_of_recops_names_a_module_of_it():
    # A lazy import is run only when its function is: a module moved without it is found here.
    missing = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        for target in targets
        if _within(target, "recops") and target not in MODULES
    )
    assert not missing, "imports of recops modules that do not exist:\n" + "\n".join(missing)


def test_no_import_cycles():
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles between recops modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles_not_chains():
    graph = {"a": {"b"}, "b": {"c", "typer"}, "c": {"a", "c"}, "d": {"a"}, "e": {"e"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_the_command_line_stays_in_recops_cli():
    offenders = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if not _within(name, "recops.cli")
        for target in targets
        if _within(target, "typer") or _within(target, "recops.cli")
    )
    assert not offenders, "modules outside recops/cli that import the command line:\n" + "\n".join(offenders)


def test_the_store_knows_nothing_above_it():
    offenders = []
    for name, targets in GRAPH.items():
        if not _within(name, "recops.store"):
            continue
        for target in targets:
            banned = any(_within(target, top) for top in STORE_MUST_NOT_IMPORT)
            above = _within(target, "recops") and not _within(target, "recops.store") and target not in STORE_MAY_IMPORT
            if banned or above:
                offenders.append(f"{name} imports {target}")
    assert not offenders, "store modules that import beyond the store:\n" + "\n".join(sorted(offenders))
