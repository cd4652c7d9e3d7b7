"""The loop on the production topology, through the scheduler and Airflow's REST API only.

Three consecutive nights (2, 3 and 4 March 2013): each night `ingestion` gates, `batch_scoring`
scores (its shards mapped over both Celery workers), `monitoring` judges; the third night's
schedule arrives moved by three hours (an upstream fault), the verdict is `act`, the guard's
`retraining_requested` Asset event starts `training`, and the decision is recorded. Checked
from outside, as an operator would: Airflow's task instances over REST, the champion and the
decision over MLflow's authenticated REST API (the reader account), the predictions in S3.

Set-up, not under test: the days are landed (`mlops land`, into S3) and the nights before the
first model gated in-process (what `ingestion` did every night before; 60 nights through the
scheduler would take most of the suite's budget); the first model is a manual `training` run
through the REST API, as an operator starts one."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
import yaml

from tests.integration.airflow_services import AirflowApi
from tests.integration.conftest import run
from tests.stack.conftest import MODEL, Stack

pytestmark = [pytest.mark.stack, pytest.mark.integration, pytest.mark.slow]

FIRST_NIGHT = date(2013, 3, 2)
NIGHTS = [FIRST_NIGHT + timedelta(days=i) for i in range(3)]
DAGS = ("ingestion", "batch_scoring", "monitoring", "training")


def _say(line: str) -> None:
    print(f"[stack {time.strftime('%H:%M:%S')}] {line}", flush=True)


def _eager_guard(workspace: Path) -> None:
    """One `act` night requests a retraining (the guard's k and n are 1, no cooldown)."""
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["retraining"].update(window_days=60, holdout_days=7)
    params["retraining"]["guard"].update(
        act_nights=1, of_last_nights=1, cooldown_days=0, min_new_labelled_flights=500
    )
    params["train"]["search"]["enabled"] = False
    params["scoring"]["wait_for_data_hours"] = 0.01
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _runs(api: AirflowApi, dag_id: str) -> list[dict]:
    return list(api.call("GET", f"/dags/{dag_id}/dagRuns?limit=100")["dag_runs"])


def _wait_for_runs(api: AirflowApi, dag_id: str, count: int, timeout: float) -> list[dict]:
    """Until `dag_id` has `count` runs, none queued or running; fails with the tasks' states."""
    deadline = time.monotonic() + timeout
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = _runs(api, dag_id)
        if len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs):
            return runs
        time.sleep(3)
    raise TimeoutError(f"{dag_id}: {[(r['dag_run_id'], r['state']) for r in runs]}")


def _night(api: AirflowApi, dag_id: str, night: date) -> list[dict]:
    """One night of a nightly DAG (a backfill of its run for `night`); its task instances."""
    backfill = api.backfill_night(dag_id, night)
    deadline = time.monotonic() + 900
    while not api.call("GET", f"/backfills/{backfill}").get("completed_at"):
        assert time.monotonic() < deadline, f"{dag_id} {night}: backfill {backfill} not done"
        time.sleep(3)
    (run,) = [  # the run whose data interval ends at the night's local midnight
        r
        for r in _runs(api, dag_id)
        if r["run_type"] == "backfill" and r["data_interval_end"].startswith(night.isoformat())
    ]
    instances = api.call("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")
    tasks = instances["task_instances"]
    failed = [(t["task_id"], t["map_index"], t["state"]) for t in tasks if t["state"] != "success"]
    assert run["state"] == "success", f"{dag_id} {night}: {run['state']}, not done: {failed}"
    return list(tasks)


def _requested_days(api: AirflowApi) -> list[str]:
    """The nights whose guard emitted `retraining_requested` (its Asset events, over REST)."""
    assets = api.call("GET", "/assets?name_pattern=retraining_requested")["assets"]
    (asset,) = [a for a in assets if a["name"] == "retraining_requested"]
    events = api.call("GET", f"/assets/events?asset_id={asset['id']}&limit=100")["asset_events"]
    return [str(event["extra"]["day"]) for event in events]


def _moved_schedule(params, night: date) -> None:  # type: ignore[no-untyped-def]
    """The night's landed schedule, every flight three hours later (an upstream fault that
    passes the gate: the times stay valid)."""
    from pipelines.data.landing import partition_uri, read_partition
    from pipelines.monitoring.backtest import _with_schedule_moved
    from pipelines.storage import write_parquet

    moved = _with_schedule_moved(read_partition(params.landing_root, "flights", night), 3)
    write_parquet(moved, partition_uri(params.landing_root, "flights", night))


def test_three_nights_on_celery_end_with_an_asset_triggered_retraining(stack: Stack, monkeypatch):
    from pipelines.config import load_params
    from pipelines.data.landing import days
    from pipelines.gate.quarantine import gate_landed_batch

    for name, value in stack.env.items():
        if name.startswith(("AWS_", "MLOPS_", "MLFLOW_")):
            monkeypatch.setenv(name, value)
    _eager_guard(stack.workspace)
    stack.run("git", "commit", "--quiet", "-am", "the stack test's params")
    began = time.monotonic()
    stack.run("mlops", "land", "--start", "2013-01-01", "--end", NIGHTS[-1].isoformat())
    params = load_params(stack.workspace / "params.yaml")
    for day in days(date(2013, 1, 1), FIRST_NIGHT - timedelta(days=1)):
        gate_landed_batch(params, "scheduled_flights", day)
        if day > date(2013, 1, 1):
            gate_landed_batch(params, "outcomes", day - timedelta(days=1))
    _say(
        f"landed and gated to {FIRST_NIGHT - timedelta(days=1)} in {time.monotonic() - began:.0f} s"
    )

    api = AirflowApi(stack.env, ("admin", stack.airflow_password("admin")))
    for dag_id in DAGS:
        api.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
    api.wait_for_dags(DAGS)
    _night(api, "ingestion", FIRST_NIGHT)
    api.trigger("training", {"as_of": FIRST_NIGHT.isoformat(), "holdout_days": 7})
    (first,) = _wait_for_runs(api, "training", 1, timeout=1200)
    assert first["state"] == "success", first
    _say("first model trained and promoted through `training` on Celery")

    shard_workers: set[str] = set()
    for night in NIGHTS:
        if night != FIRST_NIGHT:
            if night == NIGHTS[-1]:
                _moved_schedule(params, night)
            _night(api, "ingestion", night)
        scoring = _night(api, "batch_scoring", night)
        shards = [t for t in scoring if t["map_index"] >= 0]
        assert len(shards) >= 2, [(t["task_id"], t["map_index"]) for t in scoring]
        shard_workers |= {str(t["hostname"]).rpartition("/")[2] for t in shards}
        if night == FIRST_NIGHT:
            _same_rows_as_the_embedded_default(stack, night)
        _night(api, "monitoring", night)
        _say(f"night {night} done")
    assert shard_workers == {"worker-1", "worker-2"}, shard_workers

    requested = _requested_days(api)
    assert str(NIGHTS[-1]) in requested, requested  # the moved schedule is `act`: a request
    runs = _wait_for_runs(api, "training", 1 + len(requested), timeout=1500)
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
    _say(f"retraining decided: {tags['decision']}; champion v{aliases['champion']}")


def _same_rows_as_the_embedded_default(stack: Stack, night: date) -> None:
    """The night's predictions are in the bucket, and `mlops score` into a local folder (the
    embedded default's storage) with the same champion gives the same rows (the digest of
    `mlops predictions` covers every column but the scoring run id)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=stack.env["AWS_ENDPOINT_URL"])
    listed = s3.list_objects_v2(Bucket="mlops-predictions", Prefix="scoring/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert any(f"date={night}" in key for key in keys), keys[:20]
    digest = ["mlops", "predictions", "--start", str(night), "--end", str(night + timedelta(1))]
    on_stack = stack.run(*digest).stdout.strip().split("\t")[:4]
    local = {**stack.env, "MLOPS_OUTPUT_ROOT": str(stack.workspace / "embedded-predictions")}
    run(["mlops", "score", "--date", str(night), "--run-id", "embedded"], stack.workspace, local)
    embedded = run(digest, stack.workspace, local).stdout.strip().split("\t")[:4]
    assert on_stack == embedded, (on_stack, embedded)
