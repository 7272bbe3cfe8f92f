"""Import direction inside the package: a ground floor, no arrow back up, no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import returnrisk

ROOT = Path(returnrisk.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The returnrisk modules ``path`` imports when it is loaded (function-level imports excluded)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("returnrisk"))
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("returnrisk"):
                for alias in node.names:   # `from package import submodule` imports the submodule
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
            for child in ("body", "orelse", "handlers", "finalbody"):
                if isinstance(getattr(node, child, None), list) and not isinstance(node, ast.ImportFrom):
                    visit(getattr(node, child))

    visit(tree.body)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    return {name: _imports(path, set(files)) - {name} for name, path in files.items()}


def test_the_arrow_lookup_helpers_are_ground_floor(graph):
    assert "returnrisk.features.lookup" not in graph
    assert graph["returnrisk.arrow_lookup"] == set()


def test_the_data_contract_does_not_import_the_features(graph):
    upward = {(m, i) for m, imports in graph.items() if m.startswith("returnrisk.data")
              for i in imports if i.startswith("returnrisk.features")}
    assert upward == set()


def test_scoring_is_one_package_and_fixes_derive_no_features_themselves(graph):
    assert not any(m.startswith(("returnrisk.advice", "returnrisk.scoring_input")) for m in graph)
    derivation = {"returnrisk.features.derive", "returnrisk.features.lines", "returnrisk.features.snapshot"}
    assert {(m, i) for m, imports in graph.items() if m.startswith("returnrisk.fixes")
            for i in imports & derivation} == set()
    assert "returnrisk.scoring.batch" in graph["returnrisk.fixes.impact"]
    assert not any(i.startswith("returnrisk.fixes") for m, imports in graph.items()
                   if m.startswith("returnrisk.scoring") for i in imports)


def test_no_import_cycle(graph):
    """No module reaches itself through the imports run when it loads (an import of a package
    counts as an import of its ``__init__`` and so of what that re-exports)."""
    done: set[str] = set()
    cycles: list[list[str]] = []

    def walk(path: list[str]) -> None:
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt in graph and nxt not in done:
                walk(path + [nxt])
        done.add(path[-1])

    for name in sorted(graph):
        if name not in done:
            walk([name])
    assert cycles == []


#: The layers, lowest first (docs/architecture.md). A package may import its own layer and the
#: layers below, never one above — lazy imports inside functions included.
LAYERS = (
    {"returnrisk", "taxonomy", "sizes", "evidence", "errors", "timeutil", "config", "arrow_lookup", "strict_json",
     "io_files", "charts"},
    {"data", "db", "reasons", "demo", "importers"},
    {"features"},
    {"model"},
    {"scoring"},
    {"tracking", "fixes", "operations", "capture", "monitoring"},
    # cluster: a training run on Dask (shares pipeline's log and gate); lifecycle: fix statuses, effects, alerts
    {"pipeline", "dashboard", "portal", "cluster", "lifecycle"},
    {"serving"},
    {"cli", "__main__"},   # __main__: `python -m returnrisk` runs the CLI
)
_LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _all_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("returnrisk"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("returnrisk"):
            found.add(node.module)
            if node.module == "returnrisk":
                found.update(f"returnrisk.{a.name}" for a in node.names)
    return found


def test_every_package_has_a_layer():
    packages = {_package(_module_name(p)) for p in ROOT.rglob("*.py")}
    missing = sorted(packages - set(_LEVEL))
    assert not missing, f"packages {missing} have no layer: add them to LAYERS here and to docs/architecture.md"


def test_dependencies_point_down_the_layers():
    """The one rule of dependency direction: nothing imports a layer above its own."""
    upward = []
    for path in ROOT.rglob("*.py"):
        source = _package(_module_name(path))
        for target in {_package(m) for m in _all_imports(path)}:
            if target in _LEVEL and source in _LEVEL and _LEVEL[target] > _LEVEL[source]:
                upward.append(f"{path.relative_to(ROOT).as_posix()} ({source}, layer {_LEVEL[source]}) imports "
                              f"{target} (layer {_LEVEL[target]})")
    assert not upward, "\n".join(sorted(upward))
