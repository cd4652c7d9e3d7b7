"""Retrainings refused in a row, read from a real MLflow registry: the notifier fires once
(with every reason), a re-run does not repeat it, and a promotion ends the run."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from mlflow import MlflowClient
from tests.factories import repository_params

pytestmark = pytest.mark.integration

MODEL = "refusals-e2e"


def _decide(client: MlflowClient, decision: str) -> str:
    """A version whose decision was `decision` (the tags `apply_decision` sets)."""
    experiment = client.get_experiment_by_name(MODEL) or client.get_experiment(
        client.create_experiment(MODEL)
    )
    run = client.create_run(experiment.experiment_id)
    version = client.create_model_version(
        MODEL, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
    )
    client.set_model_version_tag(MODEL, version.version, "decision", decision)
    client.set_model_version_tag(MODEL, version.version, "decision.reason", f"{decision} why")
    return str(version.version)


def test_three_refusals_alert_once_and_a_promotion_ends_the_run(mlflow_server: str, tmp_path: Path):
    from pipelines.monitoring.alerts import read_alerts
    from pipelines.retraining.refusals import alert_on_refusals

    base = repository_params()
    params = dataclasses.replace(
        base,
        workspace=tmp_path,
        mlflow=dataclasses.replace(base.mlflow, tracking_uri=mlflow_server, registered_model=MODEL),
    )
    client = MlflowClient(tracking_uri=mlflow_server)
    client.create_registered_model(MODEL)
    day = date(2013, 6, 1)
    _decide(client, "promoted")
    refused = [_decide(client, "rejected") for _ in range(2)]
    assert alert_on_refusals(params, day) is None  # two in a row: the rule at work
    refused.append(_decide(client, "rejected"))
    alert = alert_on_refusals(params, day)
    assert alert is not None and alert["versions"] == refused
    assert alert["reasons"][refused[-1]] == "rejected why"
    assert alert_on_refusals(params, day) is None  # a re-run of the task does not repeat it
    log = read_alerts(str(tmp_path / params.monitoring.alerts_path))
    assert [a["kind"] for a in log] == ["retraining_refused"]
    _decide(client, "promoted")
    assert alert_on_refusals(params, day) is None
