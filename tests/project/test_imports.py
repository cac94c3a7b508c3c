"""No import circle among the project's modules (issue 20): each room stands on the ones below
it, so that a module can be read, tested and moved without the rest of the house.

Every `import` counts, at module level or inside a function (a lazy import is still a
dependency, only a later one). A package's __init__ counts as its own module.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

from tests.conftest import REPO

SOURCE = REPO / "src"


def modules(root: Path) -> dict[str, Path]:
    """Each module of the `opendata` package by its dotted name."""
    found = {}
    for path in sorted((root / "opendata").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The project's modules that `name` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    wanted: list[str] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            wanted.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            wanted.append(base)
            wanted.extend(f"{base}.{alias.name}" for alias in node.names)
    found = set()
    for target in wanted:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def circles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_of_the_project_imports_itself_round_a_circle() -> None:
    known = modules(SOURCE)
    assert "opendata.publish" in known and "opendata.engine.checks" in known
    edges = {name: imports(name, path, known) for name, path in known.items()}
    assert circles(edges) == []


def test_the_check_finds_a_circle_through_a_lazy_import(tmp_path: Path) -> None:
    """A circle closed by an import inside a function, or through a package's __init__, is
    found: the check above can fail."""
    package = tmp_path / "opendata"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from opendata.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from opendata import a\n")
    (package / "sub" / "__init__.py").write_text("from opendata.sub.core import x\n")
    (package / "sub" / "core.py").write_text("from opendata.sub import helper\n")
    (package / "sub" / "helper.py").write_text("")
    known = modules(tmp_path)
    edges = {name: imports(name, path, known) for name, path in known.items()}
    assert circles(edges) == [["opendata.a", "opendata.b"], ["opendata.sub", "opendata.sub.core"]]
