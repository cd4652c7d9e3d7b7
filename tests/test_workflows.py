"""The forge's workflows (`.github/workflows/`) checked without a forge: each validates
against GitHub's workflow schema (check-jsonschema's vendored copy), every action is pinned to
a major version, and every command a step runs exists in this repository: the make targets,
the scripts, the `mlops` commands and their options; `.ci/run` is the README's test command."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
VENV_BIN = Path(sys.executable).parent


def _steps() -> list[tuple[str, dict]]:
    found = []
    for path in WORKFLOWS:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            found += [(path.name, step) for step in job["steps"]]
    return found


def _commands(script: str) -> list[list[str]]:
    """Each simple command of a step's script (split on `&&`, `;`, `|`, lines, subshells)."""
    joined = script.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        for part in re.split(r"&&|;|\|\||\|", line):
            words = shlex.split(part.strip().strip("()").strip(), comments=True)
            words = [w for w in words if not w.startswith(">")]
            if words:
                commands.append(words)
    return commands


def _make_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-zA-Z][\w-]*):", text, re.MULTILINE))


def _mlops_options(command: str) -> set[str]:
    """The options `mlops <command> --help` lists (the real CLI, not a list kept by hand)."""
    result = subprocess.run(  # noqa: S603 - our own CLI
        [str(VENV_BIN / "mlops"), command, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": str(VENV_BIN), "TERM": "dumb"},
    )
    assert result.returncode == 0, f"mlops {command} does not exist: {result.stderr[-2000:]}"
    return set(re.findall(r"(--[a-z][a-z-]*)", result.stdout))


def test_there_are_workflows_for_pull_requests_and_main():
    names = {path.name for path in WORKFLOWS}
    assert {"pull-request.yml", "main.yml"} <= names


def test_each_workflow_validates_against_the_github_schema():
    result = subprocess.run(  # noqa: S603 - our own command
        [
            str(VENV_BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_refuses_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    steps:\n      - run: true\n")  # no runs-on
    result = subprocess.run(  # noqa: S603 - our own command
        [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", broken],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "runs-on" in result.stdout


def test_every_action_is_pinned_to_a_major_version():
    used = [step["uses"] for _, step in _steps() if "uses" in step]
    assert used and all(re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", u) for u in used), used


@pytest.mark.parametrize(
    ("workflow", "step"), _steps(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_command_a_step_runs_exists_here(workflow, step):
    if "run" not in step:
        return
    targets = _make_targets()
    for words in _commands(step["run"]):
        program, args = words[0], words[1:]
        if program == "make":
            named = [a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] != "-C"]
            assert named and set(named) <= targets, (workflow, words)
        elif program == "bash" or program == ".":
            assert (REPO_ROOT / args[0]).exists(), (workflow, words)
        elif program == "mlops":
            options = {a.split("=")[0] for a in args[1:] if a.startswith("--")}
            assert options <= _mlops_options(args[0]), (workflow, words)
        elif program == "dvc":
            assert (VENV_BIN / "dvc").exists()
        else:
            assert program in {"git", "gh", "cd", "cat"}, (workflow, words)


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("## Two commands", 1)[1].split("```", 2)[1]
    test_command = next(
        line.split("#")[0].strip() for line in block.splitlines() if line.startswith("make test")
    )
    ci = [
        line
        for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
        if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci == [test_command]
    for _, step in _steps():
        if "run" in step and ".ci/run" in step["run"]:
            assert step["run"].strip() == "bash .ci/run"
