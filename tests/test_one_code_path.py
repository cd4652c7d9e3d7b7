"""One step, many callers: the DAGs, the CLI, the replay and the backtest call the same step
functions, and nobody else holds a private copy of a step.

Read from the source (`ast`), so a copy added anywhere, or a caller that stops calling the shared
step, turns this red. The behavioural side, that the nightly path and the replay give the same
nights, is `tests/integration/test_one_loop.py`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

#: Each step: the module that owns it, and the inner functions (qualified) only it may call.
STEPS = {
    "fit_candidate": (
        "pipelines/training/candidate.py",
        {"pipelines.training.candidate.fit_and_score"},
    ),
    "judge_night": (
        "pipelines/monitoring/judge.py",
        {"pipelines.monitoring.verdict.decide_verdict"},
    ),
    "compare": ("pipelines/promotion/compare.py", {"pipelines.promotion.rules.decide"}),
    "decide_retraining": ("pipelines/retraining/guard.py", set()),
}

#: Who must call which step (directly, or through the named edge function).
CALLERS = [
    ("dags/training.py", "train_and_log"),
    ("pipelines/training/steps.py:_fit_and_log", "fit_candidate"),  # inside train_and_log's meter
    ("dags/training.py", "evaluate_challenger"),
    ("pipelines/promotion/champion.py:evaluate_challenger", "compare"),
    ("dags/monitoring.py", "monitor_day"),
    ("pipelines/monitoring/nightly.py:_monitor_day", "judge_night"),  # inside monitor_day's meter
    ("dags/monitoring.py", "decide_retraining"),
    ("pipelines/replay/nights.py:monitor_night", "judge_night"),
    ("pipelines/replay/nights.py:monitor_night", "night_inputs"),
    ("pipelines/replay/nights.py:train_candidate", "fit_candidate"),
    ("pipelines/replay/nights.py:decide_candidate", "compare"),
    ("pipelines/replay/nights.py:retraining_reason", "decide_retraining"),
    ("pipelines/monitoring/backtest.py:run_backtest", "fit_candidate"),
    ("pipelines/monitoring/backtest.py:run_backtest", "judge_night"),
    ("pipelines/promotion/holdout.py:holdout_figures", "fit_candidate"),
    ("pipelines/promotion/pull_request.py:sample_run", "fit_candidate"),
]

SOURCES = [
    path
    for folder in ("pipelines", "features", "dags", "orchestration", "benchmarks")
    for path in sorted((REPO_ROOT / folder).rglob("*.py"))
]


def called_names(node: ast.AST) -> set[str]:
    """The names a piece of code calls (`f(...)`, `module.f(...)`)."""
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            if isinstance(call.func, ast.Name):
                names.add(call.func.id)
            elif isinstance(call.func, ast.Attribute):
                names.add(call.func.attr)
    return names


def qualified_calls(tree: ast.AST) -> set[str]:
    """The calls of a module, resolved through its imports (`from m import f; f()` and
    `from p import m; m.f()` are both `m.f`); calls of names not imported stay bare."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name
    found = set()
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        if isinstance(call.func, ast.Name):
            found.add(aliases.get(call.func.id, call.func.id))
        elif isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
            base = aliases.get(call.func.value.id, call.func.value.id)
            found.add(f"{base}.{call.func.attr}")
    return found


def defined_functions(tree: ast.AST) -> dict[str, ast.AST]:
    return {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _code(where: str) -> ast.AST:
    path, _, function = where.partition(":")
    tree = ast.parse((REPO_ROOT / path).read_text())
    if not function:
        return tree
    functions = defined_functions(tree)
    assert function in functions, f"{path} no longer defines {function}"
    return functions[function]


@pytest.mark.parametrize(("where", "step"), CALLERS)
def test_each_caller_calls_the_shared_step(where: str, step: str):
    assert step in called_names(_code(where)), f"{where} does not call {step}"


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_step_is_defined_once_and_its_insides_called_only_there(step: str):
    owner, inner = STEPS[step]
    defining = [
        str(p.relative_to(REPO_ROOT))
        for p in SOURCES
        if step in defined_functions(ast.parse(p.read_text()))
    ]
    assert defining == [owner], f"{step} defined in {defining}, not only in {owner}"
    for path in SOURCES:
        relative = str(path.relative_to(REPO_ROOT))
        if relative == owner:
            continue
        called = inner & qualified_calls(ast.parse(path.read_text()))
        assert not called, f"{relative} calls {sorted(called)}, the inside of {step}"


def test_the_replay_and_the_backtest_define_no_step_of_their_own():
    """Their modules only hand frames to the stages: no verdict, fit, reference or decision."""
    forbidden = {
        "decide_verdict",
        "fit_model",
        "fit_and_score",
        "build_reference",
        "decide",
        "drifted",
        "estimated_metrics",
    }
    modules = [*sorted((REPO_ROOT / "pipelines/replay").glob("*.py"))]
    modules.append(REPO_ROOT / "pipelines/monitoring/backtest.py")
    for path in modules:
        tree = ast.parse(path.read_text())
        used = called_names(tree) & forbidden
        assert not used, f"{path.relative_to(REPO_ROOT)} calls {sorted(used)} itself"


def test_the_checker_sees_a_private_copy(tmp_path: Path):
    """The test above is not vacuous: a module calling a step's inside is found."""
    source = "from pipelines.monitoring.verdict import decide_verdict\n"
    source += "from pipelines.promotion import rules\n"
    source += "def my_night(s, p):\n    return decide_verdict(s, p), rules.decide(s)\n"
    calls = qualified_calls(ast.parse(source))
    assert "pipelines.monitoring.verdict.decide_verdict" in calls
    assert "pipelines.promotion.rules.decide" in calls
    assert not any(c.endswith("judge_night") for c in calls)
