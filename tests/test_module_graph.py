"""digitlib's modules import one another without a circle, counting imports inside functions.

A circle hidden by a function-level import or a TYPE_CHECKING block still ties the modules together: neither can
be understood, tested or moved without the other.  This walks the source (no imports run) and fails on any cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "digitlib"


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(path, package): path for path in package.rglob("*.py")}


def imported(tree: ast.AST, known: set[str], here: str) -> set[str]:
    """The digitlib modules a module's source imports anywhere in it (``from digitlib import x`` names the
    submodule x when there is one, else the package itself)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative: resolve against this module's package
                base = ".".join(here.split(".")[: -node.level] + [node.module])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return {name for name in found if name in known and name != here}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    known = modules(package)
    return {name: imported(ast.parse(path.read_text()), set(known), name) for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None (depth-first search with colours)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_digitlib_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_walk_sees_imports_inside_functions_and_type_checking_blocks(tmp_path):
    package = tmp_path / "digitlib"
    (package / "reading").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "reading" / "__init__.py").write_text("")
    (package / "reading" / "classifier.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from digitlib.reading.reader import Reading\n"
    )
    (package / "reading" / "reader.py").write_text("def read():\n    from digitlib.reading import classifier\n")
    graph = import_graph(package)
    assert graph["digitlib.reading.reader"] == {"digitlib.reading.classifier"}
    assert find_cycle(graph) in (
        ["digitlib.reading.classifier", "digitlib.reading.reader", "digitlib.reading.classifier"],
        ["digitlib.reading.reader", "digitlib.reading.classifier", "digitlib.reading.reader"],
    )


@pytest.mark.parametrize(
    "graph, expected", [({"a": {"b"}, "b": {"c"}, "c": set()}, None), ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"])]
)
def test_find_cycle(graph, expected):
    assert find_cycle(graph) == expected
