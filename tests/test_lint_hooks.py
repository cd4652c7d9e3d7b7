"""The pre-commit hooks are `make lint` and the test command's lint: one list of checks, each
run from the tool pinned in uv.lock, and they really refuse what they are there to refuse."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

CONFIG = REPO_ROOT / ".pre-commit-config.yaml"
VENV_BIN = Path(sys.executable).parent


def _hooks() -> list[dict]:
    repos = yaml.safe_load(CONFIG.read_text())["repos"]
    return [hook for repo in repos for hook in repo["hooks"]]


def _run_hook(hook_id: str, *files: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(  # noqa: S603 - our own command
        [str(VENV_BIN / "pre-commit"), "run", hook_id, "--files", *map(str, files)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_make_lint_and_the_test_command_run_exactly_the_hooks():
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n\t(.*)$", makefile, re.MULTILINE)
    assert recipe is not None and "pre-commit run --all-files" in recipe.group(1)
    assert "pre-commit run --all-files" in (REPO_ROOT / "scripts" / "test.sh").read_text()


def test_every_hook_is_local_and_runs_a_tool_installed_from_the_lockfile():
    repos = yaml.safe_load(CONFIG.read_text())["repos"]
    assert [repo["repo"] for repo in repos] == ["local"]  # nothing fetched when a hook runs
    ids = {hook["id"] for hook in _hooks()}
    assert {"ruff-check", "ruff-format", "mypy", "bandit", "check-yaml"} <= ids
    assert "check-added-large-files" in ids
    lock = (REPO_ROOT / "uv.lock").read_text()
    for hook in _hooks():
        assert hook["language"] == "system", hook["id"]
        executable = hook["entry"].split()[0]
        assert executable.startswith(".venv/bin/"), hook["entry"]
        assert (VENV_BIN / Path(executable).name).exists(), f"{executable} is not installed"
    for package in ("ruff", "mypy", "bandit", "pre-commit", "pre-commit-hooks"):
        assert f'\nname = "{package}"\n' in lock, f"{package} is not pinned in uv.lock"


@pytest.mark.parametrize(
    ("hook_id", "source", "expected"),
    [
        # Airflow 3 removed `schedule_interval`: the AIR rules catch it in a DAG file
        (
            "ruff-check",
            "from airflow.sdk import DAG\n\n"
            'with DAG(dag_id="x", schedule_interval="@daily") as dag:\n    pass\n',
            "AIR301",
        ),
        ("ruff-format", "x  =  {'a':1}\n", "would be reformatted"),
        ("check-yaml", "a: [1, 2\n", "while parsing"),
    ],
)
def test_a_hook_refuses_what_it_is_there_to_refuse(tmp_path, hook_id, source, expected):
    name = "bad.yaml" if hook_id == "check-yaml" else "bad_dag.py"
    bad = tmp_path / name
    bad.write_text(source)
    result = _run_hook(hook_id, bad)
    assert result.returncode != 0, result.stdout
    assert expected in result.stdout, result.stdout


def test_a_commit_of_a_large_file_is_refused_by_the_installed_hook(tmp_path):
    """As a developer meets it: the hooks installed in a clone, `git commit` of a 1.6 MB
    file fails and nothing is committed."""
    clone = tmp_path / "clone"
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@localhost",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@localhost",
    }

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own command
            ["git", *args], cwd=clone, env=env, capture_output=True, text=True, timeout=300
        )

    clone.mkdir()
    git("init", "--quiet")
    (clone / ".pre-commit-config.yaml").write_text(CONFIG.read_text())
    (clone / ".venv").symlink_to(VENV_BIN.parent)  # the hooks run .venv/bin/<tool>
    (clone / ".gitignore").write_text(".venv\n")
    subprocess.run(  # noqa: S603 - our own command
        [str(VENV_BIN / "pre-commit"), "install"], cwd=clone, env=env, check=True, timeout=300
    )
    (clone / "model.bin").write_bytes(b"\1" * 1600 * 1024)
    git("add", ".")
    refused = git("commit", "-m", "a model in git")
    assert refused.returncode != 0
    assert "model.bin (1600 KB) exceeds 1500 KB" in refused.stdout + refused.stderr
    assert git("rev-parse", "--verify", "HEAD").returncode != 0  # nothing was committed
