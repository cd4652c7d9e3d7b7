"""The training DAG through Airflow (`airflow dags test`) against a real MLflow server:
pulls the DVC version, trains, logs, registers, and the lineage on the version is right."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

import mlflow
from mlflow import MlflowClient
from pipelines.data.versioning import git_revision
from pipelines.registry import ModelVersionRef
from tests.conftest import REPO_ROOT
from tests.integration.conftest import REGISTERED_MODEL, Workspace, airflow_dags_test

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def training_run(workspace: Workspace, mlflow_server: str, airflow_db) -> dict:
    workspace.forget_local_data()  # the DAG must fetch the data from the DVC remote
    # as the trigger form sends it: a reason, the other fields empty (the fixed window)
    conf = '{"reason": "the first model of the test window", "as_of": null}'
    result = airflow_dags_test(workspace, mlflow_server, "training", "--conf", conf)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "state=success" in output, output[-8000:]
    client = MlflowClient(tracking_uri=mlflow_server)
    versions = client.search_model_versions(f"name = '{REGISTERED_MODEL}'")
    latest = max(versions, key=lambda v: int(v.version))
    return {
        "client": client,
        "version": latest,
        "run": client.get_run(latest.run_id),
        "output": output,
    }


def test_data_was_pulled_from_the_remote(training_run, workspace: Workspace):
    assert (workspace.path / "data" / "snapshot" / "flights.parquet").exists()


def test_version_carries_the_dvc_data_version_and_code_version(training_run, workspace: Workspace):
    tags = training_run["version"].tags
    assert tags["data.dvc_md5"] == workspace.locked_snapshot_md5()
    assert tags["data.git_rev"] == workspace.head()
    assert tags["data.git_dirty"] == "false"
    assert tags["code.git_rev"] == git_revision(REPO_ROOT).git_rev
    assert tags["split.holdout_start"] == "2013-02-15" and tags["split.train_end"] == "2013-02-14"
    run_tags = training_run["run"].data.tags
    assert run_tags["airflow.dag_id"] == "training"
    assert run_tags["run.reason"] == "the first model of the test window"  # the form's reason
    assert run_tags["params.git_dirty"] == "false"  # a committed params.yaml: promotable
    assert run_tags["code.source_dirty"] == "false"  # the suite runs on a committed tree
    assert run_tags["data.dvc_md5"] == tags["data.dvc_md5"]
    description = training_run["version"].description
    assert "holdout_roc_auc" in description and tags["data.dvc_md5"] in description


def test_gate_results_are_logged_with_the_run(training_run):
    client, run = training_run["client"], training_run["run"]
    assert run.data.tags["data.validation"] == "passed_with_warnings"  # the 1,048 mph wind
    path = client.download_artifacts(run.info.run_id, "data_validation.json")
    reports = json.loads(Path(path).read_text())["reports"]
    assert {r["contract"] for r in reports} == {
        "scheduled_flights",
        "outcomes",
        "reference_airlines",
        "reference_airports",
        "reference_planes",
        "reference_weather",
    }
    assert all(r["status"] == "passed" for r in reports)


def test_metrics_and_baselines_are_logged_and_sane(training_run):
    metrics = training_run["run"].data.metrics
    for prefix in ("holdout", "baseline_logreg", "baseline_base_rate"):
        for name in ("roc_auc", "pr_auc", "log_loss", "brier"):
            assert math.isfinite(metrics[f"{prefix}_{name}"]), f"{prefix}_{name}"
    assert metrics["baseline_base_rate_roc_auc"] == 0.5
    assert metrics["holdout_roc_auc"] > 0.55
    assert metrics["holdout_brier"] < metrics["baseline_base_rate_brier"]
    params, tags = training_run["run"].data.params, training_run["run"].data.tags
    assert params["model"] == tags["model.family"]
    chosen = json.loads(tags["model.hyperparameters"])
    assert {k: str(v) for k, v in chosen.items()} == {
        k.removeprefix("hp."): v for k, v in params.items() if k.startswith("hp.")
    }


def test_the_family_and_its_settings_are_chosen_on_time_aware_folds_as_nested_runs(
    training_run,
):
    """`train.search`: every trial is a nested run under the training run; the winner's
    family and configuration are on the run and the version; no fold validates on a day
    before it trains, nor on the holdout."""
    client, run, version = training_run["client"], training_run["run"], training_run["version"]
    path = client.download_artifacts(run.info.run_id, "search.json")
    result = json.loads(Path(path).read_text())
    assert result["family"] == run.data.tags["model.family"]
    assert set(result["family_scores"]) == {"hist_gradient_boosting", "logistic_regression"}
    for fold in result["folds"]:
        assert fold["train_days"][1] < fold["validate_days"][0]
        assert fold["validate_days"][1] < run.data.tags["split.holdout_start"]
    children = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'",
        max_results=500,
    )
    assert len(children) == len(result["trials"]) > 2
    assert {c.data.params["family"] for c in children} == set(result["family_scores"])
    assert all(f"validation_{result['metric']}" in c.data.metrics for c in children)
    winners = [c for c in children if c.data.tags.get("search.winner") == "true"]
    assert winners and {c.data.params["family"] for c in winners} == {result["family"]}
    assert version.tags["model.family"] == result["family"]
    assert json.loads(version.tags["model.hyperparameters"]) == result["hyperparameters"]
    assert version.tags["model.search"].startswith(f"{result['family']} wins on")


def test_the_model_is_calibrated_on_days_after_its_fit_and_decides_at_its_cost_threshold(
    training_run,
):
    """`train.calibration`: the newest training days calibrate (the fit and the search's folds
    end before them, the holdout starts after); the threshold chosen there is on the version,
    and calibration error before and after is on the run."""
    client, run, version = training_run["client"], training_run["run"], training_run["version"]
    metrics, tags = run.data.metrics, run.data.tags
    first, last = tags["model.calibration"].split(" on ")[1].split(" ")[0].split("..")
    assert first <= last == tags["split.train_end"] < tags["split.holdout_start"]
    result = json.loads(Path(client.download_artifacts(run.info.run_id, "search.json")).read_text())
    assert all(fold["validate_days"][1] < first for fold in result["folds"])
    assert 0 < metrics["calibration_rows"] < metrics["train_rows"]
    assert metrics["fit_rows"] + metrics["calibration_rows"] == metrics["train_rows"]
    assert 0 <= metrics["holdout_ece"] < 0.2 and 0 <= metrics["holdout_ece_uncalibrated"] < 0.5
    threshold = float(version.tags["model.decision_threshold"])
    assert threshold == pytest.approx(metrics["decision_threshold"], rel=1e-5)
    assert ModelVersionRef.of(version, None).decision_threshold == threshold
    assert "Decides late at" in version.description


def test_plots_and_model_artifacts_are_stored(training_run):
    client, run = training_run["client"], training_run["run"]
    names = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert names == {
        f"plots/{n}.png" for n in ("roc", "precision_recall", "calibration", "feature_importance")
    }


def test_the_run_stores_its_monitoring_reference_and_its_holdout_by_week(training_run):
    """What the monitoring DAG and the retraining policy read from every training run."""
    client, run = training_run["client"], training_run["run"]
    stored = {a.path for a in client.list_artifacts(run.info.run_id, "monitoring_reference")}
    assert stored == {
        f"monitoring_reference/{n}"
        for n in ("sample.parquet", "calibration.parquet", "daily_scores.parquet", "reference.json")
    }
    assert 0 <= run.data.metrics["monitoring_false_alarm_watch_or_act"] <= 1
    weeks = client.get_metric_history(run.info.run_id, "staleness_roc_auc")
    assert [m.step for m in sorted(weeks, key=lambda m: m.step)][0] == 1
    assert all(0.3 < m.value < 1 for m in weeks)


def test_registered_model_loads_and_scores_probabilities(
    training_run, mlflow_server: str, workspace: Workspace
):
    mlflow.set_tracking_uri(mlflow_server)
    version = training_run["version"]
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED_MODEL}/{version.version}")
    signature_inputs = model.metadata.get_input_schema().input_names()
    from features.build import build_features, model_inputs
    from pipelines.config import load_params
    from pipelines.data import snapshot

    params = load_params(workspace.path / "params.yaml")
    tables = snapshot.read_snapshot(workspace.path / "data" / "snapshot")
    day = tables["flights"].loc[tables["flights"]["flight_date"] == "2013-02-20"]
    features = model_inputs(
        build_features(day, tables["weather"], params.features), params.features
    )
    assert list(features.columns) == signature_inputs
    probabilities = model.predict(features)
    late = probabilities.iloc[:, 1] if hasattr(probabilities, "iloc") else probabilities[:, 1]
    assert len(late) == len(day) and ((late >= 0) & (late <= 1)).all()


def test_the_train_model_task_links_to_its_mlflow_run(training_run, workspace: Workspace):
    """The task's "MLflow run" extra link, as the api-server builds it from the run's XCom."""
    script = (
        "import sys\n"
        "from airflow.models.dagrun import DagRun\n"
        "from airflow.models.taskinstancekey import TaskInstanceKey\n"
        "from airflow.utils.session import create_session\n"
        "sys.path.insert(0, 'orchestration/plugins')\n"
        "from monitoring_pages import DataDocsLink, MlflowRunLink\n"
        "with create_session() as session:\n"
        "    run = session.query(DagRun).filter_by(dag_id='training')"
        ".order_by(DagRun.id.desc()).first()\n"
        "    run_id = run.run_id\n"
        "key = TaskInstanceKey('training', 'train_model', run_id, 1, -1)\n"
        "print(MlflowRunLink().get_link(None, ti_key=key))\n"
        "print(DataDocsLink().get_link(None, ti_key=key))\n"
    )
    result = workspace.run(f"{sys.executable}", "-c", script)
    mlflow_link, docs_link = result.stdout.strip().splitlines()[-2:]
    run = training_run["run"]
    assert mlflow_link.endswith(f"/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}")
    assert docs_link == "/monitoring/data_docs/index.html"
