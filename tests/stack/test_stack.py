"""The production topology as it runs: who may do what, where it listens, and nights gated by
Airflow's own CeleryExecutor on both workers with every shared location on S3."""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from tests.integration.airflow_services import AirflowApi
from tests.stack.conftest import MODEL, Stack

pytestmark = [pytest.mark.stack, pytest.mark.integration, pytest.mark.slow]


def _group_members(pgid: int) -> list[int]:
    import psutil

    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                members.append(process.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def test_every_service_listens_on_loopback_only(stack: Stack):
    import psutil

    postmaster = int((stack.state / "postgres" / "postmaster.pid").read_text().split()[0])
    groups = {**stack.pids(), "postgres": os.getpgid(postmaster)}
    listening: dict[str, set[str]] = {}
    for name, pgid in groups.items():
        for pid in _group_members(pgid):
            try:
                connections = psutil.Process(pid).net_connections(kind="inet")
            except psutil.Error:
                continue
            for connection in connections:
                if connection.status == psutil.CONN_LISTEN:
                    listening.setdefault(name, set()).add(connection.laddr.ip)
    assert {"postgres", "redis", "s3", "mlflow", "airflow-api-server"} <= set(listening)
    exposed = {name: ips for name, ips in listening.items() if ips - {"127.0.0.1"}}
    assert not exposed, f"listening beyond 127.0.0.1: {exposed}"


def test_secrets_are_generated_long_and_readable_only_by_their_owner(stack: Stack):
    """The JWT, Flask and database secrets come from the environment the stack generated:
    long enough to resist guessing (32+ characters), in files only their owner can read."""
    secrets = dict(
        line.split("=", 1) for line in (stack.state / "secrets.env").read_text().splitlines()
    )
    assert {
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_API_SECRET_KEY",
        "MLFLOW_FLASK_SERVER_SECRET_KEY",
    } <= set(secrets)
    short = [name for name, value in secrets.items() if len(value) < 32]
    assert not short, f"secrets shorter than 32 characters: {short}"
    for path in (
        stack.state / "secrets.env",
        stack.state / "client.env",
        Path(stack.env["STACK_AIRFLOW_PASSWORDS_FILE"]),
    ):
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"


def test_mlflow_lets_nobody_in_anonymously_and_readers_only_read(stack: Stack):
    base = stack.env["MLFLOW_TRACKING_URI"]
    pipeline = ("pipeline", stack.secret("MLFLOW_PIPELINE_PASSWORD"))
    reader = ("reader", stack.secret("MLFLOW_READER_PASSWORD"))
    search = f"{base}/api/2.0/mlflow/registered-models/search"
    assert requests.get(search, timeout=30).status_code == 401
    assert requests.get(search, auth=("reader", "wrong"), timeout=30).status_code == 401
    assert requests.get(search, auth=reader, timeout=30).status_code == 200

    # MLflow's basic-auth lets any account create a registered model of its own (it manages
    # what it creates); scoring reads only the configured one, created by the pipeline.
    name = f"{MODEL}-access"
    api = f"{base}/api/2.0/mlflow"
    made = requests.post(f"{api}/registered-models/create", json={"name": name}, auth=pipeline)
    assert made.status_code == 200, made.text
    version = {"name": name, "source": "mlflow-artifacts:/0/x/artifacts/model"}
    registered = requests.post(f"{api}/model-versions/create", json=version, auth=reader)
    assert registered.status_code == 403, registered.text
    alias = {"name": name, "alias": "champion", "version": "1"}
    moved = requests.post(f"{api}/registered-models/alias", json=alias, auth=reader)
    assert moved.status_code == 403, moved.text
    deleted = requests.delete(f"{api}/registered-models/delete", json={"name": name}, auth=reader)
    assert deleted.status_code == 403, deleted.text
    read = requests.get(f"{api}/registered-models/get", params={"name": name}, auth=reader)
    assert read.status_code == 200, read.text


def test_airflow_lets_nobody_in_anonymously_and_a_viewer_cannot_trigger(stack: Stack):
    base = stack.env["AIRFLOW__API__BASE_URL"]
    assert requests.get(f"{base}/api/v2/dags", timeout=30).status_code == 401
    login = requests.post(
        f"{base}/auth/token",
        json={"username": "viewer", "password": stack.airflow_password("viewer")},
        timeout=30,
    )
    assert login.status_code in (200, 201), login.text
    viewer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert requests.get(f"{base}/api/v2/dags", headers=viewer, timeout=30).status_code == 200
    triggered = requests.post(
        f"{base}/api/v2/dags/ingestion/dagRuns",
        json={"logical_date": None},
        headers=viewer,
        timeout=30,
    )
    assert triggered.status_code == 403, triggered.text
    assert requests.get(f"{base}/api/v2/connections", headers=viewer, timeout=30).status_code == 403
    runbook = f"{base}/monitoring/runbooks/drift-alert.md"  # the on-call pages: Airflow's login
    assert requests.get(runbook, timeout=30).status_code == 401
    page = requests.get(runbook, headers=viewer, timeout=30)
    assert page.status_code == 200 and "Runbook: drift alert" in page.text
    wrong = requests.post(
        f"{base}/auth/token", json={"username": "admin", "password": "admin"}, timeout=30
    )
    assert wrong.status_code == 401, "the default admin password must not work"


def _wait_for_backfill(api: AirflowApi, backfill_id: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.call("GET", f"/backfills/{backfill_id}").get("completed_at"):
            return
        time.sleep(3)
    raise TimeoutError(f"backfill {backfill_id} not done within {timeout} s")


def _s3_keys(bucket: str, prefix: str) -> list[str]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def test_nights_are_gated_by_celery_workers_into_s3(stack: Stack, monkeypatch):
    """Three nights of `ingestion` through the scheduler and the REST API (backfills): each
    night's two gate tasks run on the Celery workers, both of which take work, and the
    validated days are in the stack's bucket, not on a worker's disk."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, stack.env[name])
    first, last = date(2013, 3, 1), date(2013, 3, 3)
    stack.run(
        "mlops",
        "land",
        "--start",
        (first - timedelta(days=1)).isoformat(),
        "--end",
        last.isoformat(),
    )
    assert not (stack.workspace / "data" / "landing").exists(), "landing must be on S3"

    api = AirflowApi(stack.env, ("admin", stack.airflow_password("admin")))
    api.call("PATCH", "/dags/ingestion", {"is_paused": False})
    api.wait_for_dags(("ingestion",))
    night = first
    while night <= last:
        _wait_for_backfill(api, api.backfill_night("ingestion", night), timeout=600)
        night += timedelta(days=1)

    instances = api.call("GET", "/dags/ingestion/dagRuns/~/taskInstances?limit=100")
    done = [ti for ti in instances["task_instances"] if ti["dag_run_id"].startswith("backfill")]
    assert len(done) == 6 and {ti["state"] for ti in done} == {"success"}, done
    workers = {str(ti["hostname"]).rpartition("/")[2] for ti in done}
    assert workers == {"worker-1", "worker-2"}, workers

    validated = _s3_keys("mlops-validated", "validated/")
    for day in (first, first + timedelta(days=1), last):
        assert any(f"date={day.isoformat()}" in key for key in validated), (day, validated[:20])
    assert not Path(stack.workspace, "data", "validated").exists()


def test_a_postgresql_restart_between_two_runs_leaves_both_successful(stack: Stack):
    """PostgreSQL (Airflow's metadata, Celery's results, MLflow's backend) restarts between two
    nights of `ingestion`: the scheduler, api-server and workers reconnect and both succeed."""
    api = AirflowApi(stack.env, ("admin", stack.airflow_password("admin")))
    first, second = date(2013, 3, 1), date(2013, 3, 2)  # landed and gated by the test above
    _wait_for_backfill(api, api.backfill_night("ingestion", first), timeout=600)
    began = time.monotonic()
    stack.service("restart", "postgres")
    _wait_for_backfill(api, api.backfill_night("ingestion", second), timeout=600)
    runs = api.call("GET", "/dags/ingestion/dagRuns?run_type=backfill&limit=100")["dag_runs"]
    for night in (first, second):
        (run,) = [r for r in runs if r["data_interval_end"].startswith(night.isoformat())]
        assert run["state"] == "success", run
    seconds = time.monotonic() - began
    print(f"[stack] PostgreSQL restarted; the next night succeeded {seconds:.0f} s later")
