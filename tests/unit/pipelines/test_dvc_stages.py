"""`dvc status` sees every code change that can change a stage's output: DVC itself, on a
scratch repository holding this project's dvc.yaml, params.yaml and code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipelines.config import REPO_ROOT

STAGE_OUTPUTS = {
    "features": [
        "data/features/features.parquet",
        "data/features/features.parquet.build_seconds.json",
    ],
    "train": [
        "reports/train/metrics.json",
        *(f"reports/train/plots/{n}.png" for n in ("roc", "precision_recall", "calibration")),
        *(f"reports/train/curves/{n}.csv" for n in ("roc", "precision_recall", "calibration")),
        "reports/train/plots/feature_importance.png",
        "reports/train/feature_importance.csv",
        "reports/train/run.json",
    ],
    "reference": ["reports/reference/summary.json"],
}


@pytest.fixture
def scratch_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from dvc.repo import Repo

    monkeypatch.chdir(tmp_path)  # DVC resolves stage names against the working directory
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    for folder in ("pipelines", "features"):
        shutil.copytree(
            REPO_ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    (tmp_path / "data" / "snapshot").mkdir(parents=True)
    (tmp_path / "data" / "snapshot" / "flights.parquet").write_bytes(b"stand-in")
    for outputs in STAGE_OUTPUTS.values():
        for output in outputs:
            (tmp_path / output).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / output).write_text("{}" if output.endswith(".json") else "x")
    repo = Repo.init(str(tmp_path), no_scm=True)
    repo.commit("features", force=True)
    repo.commit("train", force=True)
    repo.commit("reference", force=True)
    yield tmp_path, repo
    repo.close()


def _stale(repo, stage: str) -> bool:
    return bool(repo.status([stage]))


@pytest.mark.parametrize(
    ("stage", "module"),
    [
        ("features", "pipelines/gate/contracts.py"),
        ("features", "pipelines/gate/validation.py"),
        ("features", "features/weather.py"),
        ("train", "pipelines/training/tracking.py"),
        ("train", "pipelines/training/train.py"),
        ("train", "pipelines/registry.py"),
        ("reference", "pipelines/monitoring/drift.py"),
        ("reference", "pipelines/monitoring/reference.py"),
    ],
)
def test_editing_a_module_makes_its_stage_stale(scratch_repo, stage: str, module: str):
    path, repo = scratch_repo
    assert not _stale(repo, stage)
    with open(path / module, "a") as handle:
        handle.write("\n# edited\n")
    assert _stale(repo, stage)


def test_every_module_a_stage_imports_is_one_of_its_dependencies():
    """Walk the imports from each stage's entry points: every project module reached must sit
    under a dependency of the stage, or an edit there would leave the stage wrongly fresh."""
    import ast

    entry = {
        "features": ["pipelines/training/dataset.py"],
        "train": ["pipelines/training/steps.py"],
        "reference": ["pipelines/monitoring/rebuild.py"],
        "snapshot": ["pipelines/data/snapshot.py"],
    }
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]

    def module_path(name: str) -> Path | None:
        for candidate in (
            REPO_ROOT / (name.replace(".", "/") + ".py"),
            REPO_ROOT / name.replace(".", "/") / "__init__.py",
        ):
            if candidate.exists():
                return candidate
        return None

    for stage, starts in entry.items():
        deps = [REPO_ROOT / d for d in stages[stage]["deps"]]
        seen: set[Path] = set()
        todo = [REPO_ROOT / s for s in starts]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            for node in ast.walk(ast.parse(current.read_text())):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                for name in names:
                    if name.split(".")[0] in ("pipelines", "features"):
                        found = module_path(name)
                        if found is not None:
                            todo.append(found)
        uncovered = sorted(
            str(p.relative_to(REPO_ROOT))
            for p in seen
            if p.name != "__init__.py" and not any(p == d or d in p.parents for d in deps)
        )
        assert uncovered == [], f"stage {stage!r} reads code it does not depend on: {uncovered}"
