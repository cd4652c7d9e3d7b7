"""The loop on the production topology, through the scheduler and Airflow's REST API only.

Three consecutive nights (2, 3 and 4 March 2013): each night `ingestion` gates, `batch_scoring`
scores (its shards mapped over both Celery workers), `monitoring` judges; the third night's
schedule arrives moved by three hours (an upstream fault), the verdict is `act`, the guard's
`retraining_requested` Asset event starts `training`, and the decision is recorded. Checked
from outside, as an operator would: Airflow's task instances over REST, the champion and the
decision over MLflow's authenticated REST API (the reader account), the predictions in S3.

Set-up, not under test: the `served_stack` fixture (the days landed, the first model trained
by a manual `training` run through the REST API)."""

from __future__ import annotations

from datetime import date

import pytest
import requests

from tests.integration.airflow_services import AirflowApi
from tests.stack.conftest import (
    FIRST_NIGHT,
    MODEL,
    NIGHTS,
    ServedStack,
    embedded_digest,
    night,
    predictions_digest,
    say,
    wait_for_runs,
)

pytestmark = [pytest.mark.stack, pytest.mark.integration, pytest.mark.slow]


def _requested_days(api: AirflowApi) -> list[str]:
    """The nights whose guard emitted `retraining_requested` (its Asset events, over REST)."""
    assets = api.call("GET", "/assets?name_pattern=retraining_requested")["assets"]
    (asset,) = [a for a in assets if a["name"] == "retraining_requested"]
    events = api.call("GET", f"/assets/events?asset_id={asset['id']}&limit=100")["asset_events"]
    return [str(event["extra"]["day"]) for event in events]


def _moved_schedule(params, day: date) -> None:  # type: ignore[no-untyped-def]
    """The night's landed schedule, every flight three hours later (an upstream fault that
    passes the gate: the times stay valid)."""
    from pipelines.data.landing import partition_uri, read_partition
    from pipelines.monitoring.backtest import _with_schedule_moved
    from pipelines.storage import write_parquet

    moved = _with_schedule_moved(read_partition(params.landing_root, "flights", day), 3)
    write_parquet(moved, partition_uri(params.landing_root, "flights", day))


def test_three_nights_on_celery_end_with_an_asset_triggered_retraining(
    served_stack: ServedStack, monkeypatch
):
    from pipelines.config import load_params

    stack, api = served_stack.stack, served_stack.api
    for name, value in stack.env.items():
        if name.startswith(("AWS_", "MLOPS_", "MLFLOW_")):
            monkeypatch.setenv(name, value)
    params = load_params(stack.workspace / "params.yaml")
    shard_workers: set[str] = set()
    for day in NIGHTS:
        if day != FIRST_NIGHT:
            if day == NIGHTS[-1]:
                _moved_schedule(params, day)
            night(api, "ingestion", day)
        scoring = night(api, "batch_scoring", day)
        shards = [t for t in scoring if t["map_index"] >= 0]
        assert len(shards) >= 2, [(t["task_id"], t["map_index"]) for t in scoring]
        shard_workers |= {str(t["hostname"]).rpartition("/")[2] for t in shards}
        if day == FIRST_NIGHT:  # in the bucket, and the same rows as the embedded default's
            assert any(f"date={day}" in key for key in _prediction_keys(stack.env))
            assert predictions_digest(stack, day) == embedded_digest(stack, day)
        night(api, "monitoring", day)
        say(f"night {day} done")
    assert shard_workers == {"worker-1", "worker-2"}, shard_workers

    requested = _requested_days(api)
    assert str(NIGHTS[-1]) in requested, requested  # the moved schedule is `act`: a request
    runs = wait_for_runs(api, "training", 1 + len(requested), timeout=1500)
    retraining = [r for r in runs if r["run_type"] == "asset_triggered"]
    assert retraining and {r["state"] for r in retraining} == {"success"}, runs

    # The decision and the champion, as a reader of MLflow sees them.
    mlflow = stack.env["MLFLOW_TRACKING_URI"] + "/api/2.0/mlflow"
    reader = ("reader", stack.secret("MLFLOW_READER_PASSWORD"))
    assert (
        requests.get(f"{mlflow}/registered-models/get", params={"name": MODEL}).status_code == 401
    )
    model = requests.get(f"{mlflow}/registered-models/get", params={"name": MODEL}, auth=reader)
    assert model.status_code == 200, model.text
    aliases = {a["alias"]: a["version"] for a in model.json()["registered_model"]["aliases"]}
    assert "champion" in aliases
    found = requests.get(
        f"{mlflow}/model-versions/search",
        params={"filter": f"name = '{MODEL}' and tag.`retraining.day` = '{NIGHTS[-1]}'"},
        auth=reader,
    )
    (version,) = found.json()["model_versions"]
    tags = {t["key"]: t["value"] for t in version.get("tags", [])}
    assert tags["decision"] in ("promoted", "rejected"), tags
    say(f"retraining decided: {tags['decision']}; champion v{aliases['champion']}")


def _prediction_keys(env: dict[str, str]) -> list[str]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    listed = s3.list_objects_v2(Bucket="mlops-predictions", Prefix="scoring/")
    return [item["Key"] for item in listed.get("Contents", [])]
