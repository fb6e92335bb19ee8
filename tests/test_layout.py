"""The package's layout: no import cycles between freezeg's modules, and every package folder a package.

Imports are read with `ast`, nothing is executed. Every import statement counts, wherever it is:
at module level, under `if TYPE_CHECKING:`, inside functions and try blocks. `from pkg import name`
counts as importing the submodule pkg.name where there is one, else pkg itself.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import ROOT

SRC = ROOT / "src"
PACKAGE = "freezeg"


@dataclass(frozen=True)
class Edge:
    """`importer` imports `imported` at file:line."""

    importer: str
    imported: str
    file: Path
    line: int

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported} ({self.file.relative_to(ROOT)}:{self.line})"


def module_files(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the package (packages by their __init__)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(module: str, path: Path, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> list[str]:
    """The freezeg modules one import statement names (absolute dotted names; others are left out)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE]
    if node.level:  # relative: from the module's package, one level up per extra dot
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        if node.level - 1 >= len(package):
            raise AssertionError(f"{path.relative_to(ROOT)}:{node.lineno}: relative import beyond the top-level package")
        base = ".".join(package[: len(package) - (node.level - 1)] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
        if base.split(".")[0] != PACKAGE:
            return []
    # `from base import name`: the submodule base.name where there is one, else base (a name defined in it).
    names = {f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names}
    return sorted(names)


def import_graph(package_dir: Path) -> dict[str, list[Edge]]:
    """Each module's imports of other freezeg modules, from its source."""
    modules = module_files(package_dir)
    graph: dict[str, list[Edge]] = {}
    unknown = []
    for module, path in modules.items():
        edges = graph.setdefault(module, [])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in imported_names(module, path, node, modules):
                if name not in modules:
                    unknown.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
                elif name != module:
                    edges.append(Edge(module, name, path, node.lineno))
    assert not unknown, "imports of freezeg modules that do not exist:\n" + "\n".join(unknown)
    return graph


def strongly_connected(graph: dict[str, list[Edge]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (iterative: no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted({e.imported for e in graph[start]})))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted({e.imported for e in graph[nxt]}))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return components


def a_cycle(graph: dict[str, list[Edge]], component: list[str]) -> list[Edge]:
    """One shortest cycle through the component's first module, as the import statements that make it."""
    members, start = set(component), component[0]
    came_by: dict[str, Edge] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for edge in graph[node]:
                if edge.imported == start:
                    path = [edge]
                    while path[0].importer != start:
                        path.insert(0, came_by[path[0].importer])
                    return path
                if edge.imported in members and edge.imported not in came_by:
                    came_by[edge.imported] = edge
                    following.append(edge.imported)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a strongly connected component always has one


def cycle_report(graph: dict[str, list[Edge]]) -> str:
    lines = []
    for component in strongly_connected(graph):
        lines.append(f"cycle between {', '.join(component)}:")
        lines.extend(f"    {edge}" for edge in a_cycle(graph, component))
    return "\n".join(lines)


def test_no_import_cycles_between_modules():
    report = cycle_report(import_graph(SRC / PACKAGE))
    assert not report, "import cycles in src/freezeg (move the shared code down a level, or split a module):\n" + report


def missing_inits(package_dir: Path) -> list[str]:
    """Folders with Python files in or below them (so: packages) that have no __init__.py."""
    folders = {p.parent for p in package_dir.rglob("*.py")}
    folders |= {parent for folder in folders for parent in folder.parents if package_dir in parent.parents}
    return sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").is_file())


def test_every_package_folder_has_an_init():
    missing = missing_inits(SRC / PACKAGE)
    assert not missing, "package folders without an __init__.py: " + ", ".join(missing)


# The checker itself, on small made-up packages.


def write_package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / PACKAGE


@pytest.fixture()
def at(tmp_path, monkeypatch):
    """Made-up packages under tmp_path, reported relative to it."""
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    return lambda files: write_package(tmp_path, files)


def test_cycles_through_every_kind_of_import_are_found_and_named(at):
    package = at({
        "__init__.py": "",
        "a/__init__.py": "",
        "a/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..b import y\n",
        "b/__init__.py": "",
        "b/y.py": "def f():\n    from freezeg.c import z\n",
        "c/__init__.py": "",
        "c/z.py": "from ..a import x\n",  # the submodule a.x, not the package a
        "d.py": "import freezeg.e\n",
        "e.py": "from . import d\n",
        "f.py": "from .a import x\n",  # into a cycle, not part of one
    })
    report = cycle_report(import_graph(package))
    assert "cycle between freezeg.a.x, freezeg.b.y, freezeg.c.z:" in report
    assert "freezeg.a.x -> freezeg.b.y (freezeg/a/x.py:3)" in report
    assert "freezeg.b.y -> freezeg.c.z (freezeg/b/y.py:2)" in report
    assert "freezeg.c.z -> freezeg.a.x (freezeg/c/z.py:1)" in report
    assert "cycle between freezeg.d, freezeg.e:" in report
    assert "freezeg.f" not in report


def test_names_from_a_package_and_other_packages_make_no_cycle(at):
    package = at({
        "__init__.py": "from .a import thing\n",  # the package imports a submodule that ...
        "a.py": "import os\nimport numpy\nfrom freezeg.b import helper\nthing = helper\n",
        "b.py": "def helper():\n    pass\n",
    })
    graph = import_graph(package)
    assert {e.imported for e in graph["freezeg"]} == {"freezeg.a"}
    assert {e.imported for e in graph["freezeg.a"]} == {"freezeg.b"}
    assert cycle_report(graph) == ""


def test_imports_of_missing_modules_fail(at):
    package = at({"__init__.py": "", "a.py": "from .gone import x\n"})
    with pytest.raises(AssertionError, match=r"freezeg/a.py:1: freezeg.gone"):
        import_graph(package)


def test_folders_without_an_init_are_named(at):
    package = at({"__init__.py": "", "ok/__init__.py": "", "ok/m.py": "", "loose/m.py": "",
                  "deep/er/__init__.py": "", "deep/er/m.py": "", "data/weights.pt": ""})
    assert missing_inits(package) == ["freezeg/deep", "freezeg/loose"]
