"""The import graph flows one way (STYLE.md, "Imports follow the stage order").

    bottom:  features/, pipelines/{config,storage,registry,parallel,training_window,cli_options}.py,
             pipelines/{progress,run_cost}.py
    stages:  data → upstream → gate → training → promotion → scoring → serving → monitoring
             → retraining
    top:     pipelines/replay, pipelines/cli.py, orchestration/, dags/, benchmarks/

A stage may import an earlier stage and the bottom, never a later stage nor the top; the bottom
imports no stage; nothing but the top imports the top; no package and no file is part of an
import cycle. Every import counts, the ones inside functions too. Read with `ast`: the checker
is tested on small trees first, so it cannot pass by seeing nothing."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

STAGES = (
    "data",
    "upstream",
    "gate",
    "training",
    "promotion",
    "scoring",
    "serving",
    "monitoring",
    "retraining",
)
BOTTOM_MODULES = (
    "pipelines.config",
    "pipelines.storage",
    "pipelines.registry",
    "pipelines.parallel",
    "pipelines.training_window",
    "pipelines.cli_options",
    "pipelines.progress",
    "pipelines.run_cost",
)
TOP_PREFIXES = ("pipelines.replay", "pipelines.cli", "orchestration", "dags", "benchmarks")
ROOTS = ("pipelines", "features", "orchestration", "dags", "benchmarks")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path, folders: Iterable[str] = ROOTS) -> dict[str, set[str]]:
    """Each project module and the project modules it imports (`from p import m` is `p.m`
    when `p/m.py` exists, else `p`)."""
    files = {
        module_name(path, root): path
        for folder in folders
        if (root / folder).exists()
        for path in (root / folder).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    imported.add(child if child in files else node.module)
        graph[name] = {_known(m, files) for m in imported if _known(m, files)} - {name}
    return graph


def _known(module: str, files: dict[str, Path]) -> str:
    """The longest project module that `module` names ('' if it is not ours)."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in files:
            return candidate
    return ""


def layer(module: str) -> tuple[str, int]:
    """('bottom', 0), ('stage', index) or ('top', 0); features is bottom."""
    if module.startswith("features") or module in BOTTOM_MODULES or module == "pipelines":
        return "bottom", 0
    if any(module == p or module.startswith(p + ".") for p in TOP_PREFIXES):
        return "top", 0
    parts = module.split(".")
    if parts[0] == "pipelines" and len(parts) > 1 and parts[1] in STAGES:
        return "stage", STAGES.index(parts[1])
    return "unplaced", 0


def violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for source, targets in sorted(graph.items()):
        kind, index = layer(source)
        if kind == "unplaced":
            found.append(f"{source}: not placed in a layer (add it to this test's table)")
            continue
        for target in sorted(targets):
            their_kind, their_index = layer(target)
            if their_kind == "top" and kind != "top":
                found.append(f"{source} imports {target}: only the top imports the top")
            elif kind == "bottom" and their_kind == "stage":
                found.append(f"{source} imports {target}: the bottom imports no stage")
            elif kind == "stage" and their_kind == "stage" and their_index > index:
                found.append(
                    f"{source} imports {target}: stage {STAGES[index]} imports the later stage "
                    f"{STAGES[their_index]}"
                )
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                    found.append(sorted(component))
    return found


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Modules folded into their package (`pipelines.gate.x` → `pipelines.gate`)."""

    def package(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if parts[0] == "pipelines" and len(parts) > 2 else module

    folded: dict[str, set[str]] = {}
    for source, targets in graph.items():
        folded.setdefault(package(source), set()).update(package(t) for t in targets)
    return {k: v - {k} for k, v in folded.items()}


# --- the checker on small trees -------------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return import_graph(root)


CLEAN = {
    "pipelines/__init__.py": "",
    "pipelines/config.py": "",
    "pipelines/data/__init__.py": "",
    "pipelines/data/landing.py": "from pipelines.config import x\n",
    "pipelines/training/__init__.py": "",
    "pipelines/training/fit.py": "from pipelines.data import landing\n",
    "pipelines/replay/__init__.py": "",
    "pipelines/replay/loop.py": "from pipelines.training.fit import f\n",
}


def test_the_checker_passes_a_clean_tree(tmp_path: Path):
    graph = _tree(tmp_path, CLEAN)
    assert graph["pipelines.training.fit"] == {"pipelines.data.landing"}
    assert violations(graph) == [] and cycles(graph) == []


def test_the_checker_finds_a_back_import_inside_a_function(tmp_path: Path):
    graph = _tree(
        tmp_path,
        {
            **CLEAN,
            "pipelines/data/landing.py": "def f():\n    from pipelines.training import fit\n",
        },
    )
    assert violations(graph) == [
        "pipelines.data.landing imports pipelines.training.fit: stage data imports the later "
        "stage training"
    ]


def test_the_checker_finds_the_top_imported_from_below_and_a_file_cycle(tmp_path: Path):
    graph = _tree(
        tmp_path,
        {
            **CLEAN,
            "pipelines/config.py": "import pipelines.replay.loop\n",
            "pipelines/data/a.py": "from pipelines.data import b\n",
            "pipelines/data/b.py": "def g():\n    from pipelines.data.a import f\n",
        },
    )
    assert any("only the top imports the top" in v for v in violations(graph))
    assert ["pipelines.data.a", "pipelines.data.b"] in cycles(graph)


# --- this repository ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def repository() -> dict[str, set[str]]:
    return import_graph(REPO_ROOT)


def test_every_import_follows_the_layers(repository):
    assert violations(repository) == []


def test_no_file_is_part_of_an_import_cycle(repository):
    assert cycles(repository) == []


def test_no_package_is_part_of_an_import_cycle(repository):
    assert cycles(package_graph(repository)) == []
