"""The import graph of the library (models/, datamodules/, music/, metrics/, callbacks/ and cli.py), read with ``ast``
from the source: no import cycles, and no upward imports (design.md; "one concept per file"):

- ``models.nn`` (building blocks) imports nothing else of ``models`` (no paper);
- ``music`` (MIDI only) imports nothing of models, datamodules, metrics or callbacks;
- ``datamodules`` and ``metrics`` import no ``models``;
- code shared by the DataModules (``datamodules.base``, ``recordings``, ``midi``, ...) imports no dataset's module
  (``datamodules.urmp``, ...: the names of the synthetic writer registry); a dataset's own modules, its variants
  (``urmp_features``), its preparation (``datamodules.prepare``) and its synthetic writer may;
- library code imports nothing from tests, experiments, scripts or benchmarks.

Imports inside functions count for the layering (they run too, only later); cycles are looked for among the imports
that run when a module is loaded (module level, outside ``if TYPE_CHECKING:``)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ("models", "datamodules", "music", "metrics", "callbacks", "cli.py")
NOT_LIBRARY = ("tests", "experiments", "scripts", "benchmarks")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. "datamodules.urmp"
    target: str  # the imported project module, e.g. "datamodules.midi"
    line: int
    at_load: bool  # runs when ``source`` is loaded: module level, not in a function or under TYPE_CHECKING

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({module_path(self.source)}:{self.line})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def library_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for entry in LIBRARY:
        path = ROOT / entry
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            files[module_name(file)] = file
    return files


def module_path(module: str) -> str:
    return str(library_files()[module].relative_to(ROOT))


def is_project(module: str) -> bool:
    top = module.split(".")[0]
    return top in {Path(e).stem for e in LIBRARY} or top in NOT_LIBRARY


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, path: Path) -> list[Import]:
    """Every import of a project module in ``path``; ``from a.b import c`` names module ``a.b.c`` when it exists."""
    known = library_files()
    found: list[Import] = []

    def visit(node: ast.AST, at_load: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                visit(child, False)
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if is_project(alias.name):
                        found.append(Import(module, alias.name, child.lineno, at_load))
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(module, path.name == "__init__.py", child)
                if not is_project(base):
                    continue
                for alias in child.names:
                    target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                    found.append(Import(module, target, child.lineno, at_load))
            else:
                visit(child, at_load)

    visit(ast.parse(path.read_text(), filename=str(path)), True)
    return found


@cache
def all_imports() -> tuple[Import, ...]:
    return tuple(edge for module, path in library_files().items() for edge in imports_of(module, path))


def cycles(edges: list[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a sorted list."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        if source != target:
            graph.setdefault(source, set()).add(target)
            graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
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

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _dataset_names() -> set[str]:
    """The datasets: the keys of ``WRITERS`` in datamodules/synthetic/__init__.py (read from the source)."""
    tree = ast.parse((ROOT / "datamodules" / "synthetic" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "WRITERS":
            return {key.value for key in node.value.keys}  # type: ignore[union-attr]
    raise AssertionError("datamodules/synthetic/__init__.py defines no WRITERS registry")


DATASETS = _dataset_names()


def _shared_datamodule_code(module: str) -> bool:
    parts = module.split(".")
    if parts[0] != "datamodules" or _in(module, "datamodules.prepare") or _in(module, "datamodules.synthetic"):
        return False
    return len(parts) < 2 or not any(parts[1] == name or parts[1].startswith(name + "_") for name in DATASETS)


LAYERS = [
    ("models.nn knows no paper", lambda s, t: _in(s, "models.nn") and _in(t, "models") and not _in(t, "models.nn")),
    (
        "music knows MIDI only",
        lambda s, t: _in(s, "music") and any(_in(t, p) for p in ("models", "datamodules", "metrics", "callbacks")),
    ),
    ("datamodules import no models", lambda s, t: _in(s, "datamodules") and _in(t, "models")),
    ("metrics import no models", lambda s, t: _in(s, "metrics") and _in(t, "models")),
    (
        "code shared by the DataModules imports no dataset's module",
        lambda s, t: _shared_datamodule_code(s) and any(_in(t, f"datamodules.{name}") for name in DATASETS),
    ),
    ("library code imports no tests/experiments/scripts/benchmarks", lambda s, t: t.split(".")[0] in NOT_LIBRARY),
]


def test_the_library_is_found() -> None:
    modules = library_files()
    assert {"cli", "models.nn.stgcn", "datamodules.urmp", "music.events", "metrics.fad"} <= modules.keys()
    targets = {edge.target for edge in all_imports()}
    assert "music.events" in targets and "datamodules.synthetic" in targets


def test_no_import_cycle_among_module_level_imports() -> None:
    load_edges = [(e.source, e.target) for e in all_imports() if e.at_load]
    found = cycles(load_edges)
    report = []
    for component in found:
        members = set(component)
        report += [str(e) for e in all_imports() if e.at_load and e.source in members and e.target in members]
    assert not found, "import cycles among module-level imports:\n" + "\n".join(report)


@pytest.mark.parametrize(("rule", "forbidden"), LAYERS, ids=[rule for rule, _ in LAYERS])
def test_layering(rule: str, forbidden) -> None:
    violations = [str(edge) for edge in all_imports() if forbidden(edge.source, edge.target)]
    assert not violations, f"{rule}; these imports go upward:\n" + "\n".join(violations)


def test_checks_see_function_level_imports_cycles_and_relative_imports(tmp_path: Path) -> None:
    assert cycles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]
    assert cycles([("a", "b"), ("b", "c")]) == []
    assert {"urmp", "audeo", "mv100k"} <= DATASETS
    assert _shared_datamodule_code("datamodules.recordings")
    assert not _shared_datamodule_code("datamodules.urmp_features")
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nimport music.events\nfrom . import roll\n"
        "if TYPE_CHECKING:\n    from models.nn import stgcn\n"
        "def f():\n    from tests.helpers import tiny\n"
    )
    found = {(e.target, e.at_load) for e in imports_of("music.mod", source)}
    assert found == {("music.events", True), ("music.roll", True), ("models.nn.stgcn", False), ("tests.helpers", False)}
