"""Every DAG imports cleanly and carries what on-call needs: tags, retries, docs, owners."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

DAGS_DIR = REPO_ROOT / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
HEAVY_MODULES = ("pandas", "sklearn", "mlflow", "dvc", "great_expectations", "evidently", "pyarrow")


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR), safe_mode=False)


def test_every_dag_file_imports_without_error(dagbag):
    assert dagbag.import_errors == {}
    assert DAG_FILES, "no DAG files found"
    assert {Path(dag.fileloc).name for dag in dagbag.dags.values()} == {p.name for p in DAG_FILES}


def test_every_dag_has_tags_docs_and_a_single_active_run(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 100, f"{dag_id} has no doc_md"
        assert dag.max_active_runs == 1, f"{dag_id} allows concurrent runs"


def test_every_task_retries_times_out_and_alerts_on_failure(dagbag):
    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
            assert task.retry_exponential_backoff >= 2, f"{dag_id}.{task.task_id}: no backoff"
            assert task.execution_timeout is not None, f"{dag_id}.{task.task_id} has no timeout"
            notifiers = [type(n).__name__ for n in (task.on_failure_callback or [])]
            assert "TaskFailureNotifier" in notifiers, f"{dag_id}.{task.task_id} fails silently"


def test_training_dag_shape(dagbag):
    dag = dagbag.dags["training"]
    assert [t.task_id for t in dag.topological_sort()] == [
        "resolve_trigger",
        "pull_data",
        "validate_snapshot",
        "build_features",
        "train_model",
        "build_reference",
        "register_model",
        "decide_promotion",
        "promote_champion",
    ]
    assert dag.get_task("promote_champion").pool == "promotion"


def test_training_runs_on_retraining_requests_and_monitoring_emits_them(dagbag):
    """The Asset link of the loop: `monitoring`'s guard task is the producer, `training` the
    consumer (no cron unless `retraining.fallback_cron` is set)."""
    from orchestration.assets import RETRAINING_REQUESTED

    training = dagbag.dags["training"]
    assert training.timetable.asset_condition == RETRAINING_REQUESTED
    guard = dagbag.dags["monitoring"].get_task("request_retraining")
    assert RETRAINING_REQUESTED in guard.outlets


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_parsing_is_cheap_and_imports_nothing_heavy(dag_file: Path, record_property):
    """The DAG processor parses files every few seconds: heavy imports belong inside tasks."""
    probe = (
        "import json, sys, time, runpy; import airflow.sdk; start = time.perf_counter(); "
        f"runpy.run_path({str(dag_file)!r}); elapsed = time.perf_counter() - start; "
        f"heavy = [m for m in {HEAVY_MODULES!r} if m in sys.modules]; "
        "print(json.dumps({'seconds': elapsed, 'heavy': heavy}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    record_property("parse_seconds", measured["seconds"])
    print(f"{dag_file.name}: parsed in {measured['seconds'] * 1000:.0f} ms")
    assert measured["heavy"] == [], f"{dag_file.name} imports {measured['heavy']} at parse time"


def test_ingestion_dag_gates_both_landed_contracts_daily(dagbag):
    dag = dagbag.dags["ingestion"]
    assert {t.task_id for t in dag.tasks} == {"gate_scheduled_flights", "gate_outcomes"}
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"  # a real data interval


def test_batch_scoring_waits_gates_then_scores_shards_with_pinned_models(dagbag):
    dag = dagbag.dags["batch_scoring"]
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.max_active_runs == 1  # one run per day at a time: shards and staging are per day
    score = dag.get_task("score_shard")
    assert type(score).__name__.endswith("MappedOperator"), "one mapped task per shard"
    assert score.upstream_task_ids == {"resolve_models", "plan_shards"}
    assert dag.get_task("plan_shards").upstream_task_ids == {"wait_for_flights"}
    assert dag.get_task("publish_predictions").upstream_task_ids == {
        "resolve_models",
        "score_shard",
    }
    assert dag.get_task("resolve_models").upstream_task_ids == {"wait_for_flights"}
    assert dag.get_task("wait_for_flights").__class__.__name__ == "GateVerdictSensor"


def test_scoring_reads_the_validated_asset_that_only_ingestion_produces(dagbag):
    """One owner gates each landed batch: no scoring task validates, ingestion emits events."""
    from orchestration.assets import VALIDATED_FLIGHTS, VALIDATED_OUTCOMES

    scoring, ingestion = dagbag.dags["batch_scoring"], dagbag.dags["ingestion"]
    assert not [t.task_id for t in scoring.tasks if "gate" in t.task_id]
    assert VALIDATED_FLIGHTS in scoring.get_task("plan_shards").inlets
    assert ingestion.get_task("gate_scheduled_flights").outlets == [VALIDATED_FLIGHTS]
    assert ingestion.get_task("gate_outcomes").outlets == [VALIDATED_OUTCOMES]


def test_the_verdict_sensor_keeps_airflow_sensor_semantics(dagbag):
    """timeout, soft_fail, mode and poke mean what they mean for any Airflow sensor."""
    from orchestration.landing_sensor import GateVerdictSensor
    from tests.factories import repository_params

    sensor = dagbag.dags["batch_scoring"].get_task("wait_for_flights")
    assert sensor.timeout == repository_params().scoring.wait_for_data_hours * 3600
    assert sensor.deferrable and sensor.poke_interval == 60
    assert "poke" in GateVerdictSensor.__dict__, "the check is poke(), not a custom execute loop"
    plain = GateVerdictSensor(
        task_id="t",
        contract="scheduled_flights",
        deferrable=False,
        mode="reschedule",
        soft_fail=True,
    )
    assert plain.mode == "reschedule" and plain.soft_fail and not plain.deferrable


def _imports(path: Path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _top_level_imports(path: Path) -> set[str]:
    import ast

    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_layering_holds():
    """features/ never imports pipelines/; neither imports airflow; DAG files import only
    airflow.sdk and orchestration/ at module level, and pipelines inside tasks."""
    for path in (REPO_ROOT / "features").rglob("*.py"):
        assert not [m for m in _imports(path) if m.split(".")[0] in ("pipelines", "airflow")], path
    for path in (REPO_ROOT / "pipelines").rglob("*.py"):
        assert not [m for m in _imports(path) if m.split(".")[0] == "airflow"], path
    for path in DAG_FILES:
        top = {m for m in _top_level_imports(path) if m not in ("__future__",)}
        allowed = {"airflow.sdk", "datetime"} | {m for m in top if m.startswith("orchestration")}
        assert top <= allowed, f"{path.name} imports {sorted(top - allowed)} at module level"
