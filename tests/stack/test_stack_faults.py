"""The faults production has, each survived on the production topology, through the scheduler
and the REST API: the MLflow server down when a task needs it (back: the run succeeds; never
back: the run fails naming the server and the day's predictions are untouched), a Celery worker
killed mid-task, the scheduler killed mid-run, S3 unreachable. Each night's output is compared
with an undisturbed run's; each test prints its recovery time (the README's figures).

The PostgreSQL restart is in `test_stack.py` (it needs no model)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from tests.integration.airflow_services import AirflowApi
from tests.stack.conftest import (
    FIRST_NIGHT,
    ServedStack,
    embedded_digest,
    night_run,
    predictions_digest,
    say,
    task_instances,
    wait_for_backfill,
)

pytestmark = [pytest.mark.stack, pytest.mark.integration, pytest.mark.slow]

T = TypeVar("T")
Key = tuple[str, int]  # a task instance: task id, map index


def _until(found: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = found()
        if value is not None and value is not False:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"not within {timeout:.0f} s: {what}")


def _tries(api: AirflowApi, dag_id: str, run_id: str, key: Key) -> list[dict]:
    task_id, map_index = key
    path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
    if map_index >= 0:
        path += f"/{map_index}"
    return list(api.call("GET", f"{path}/tries")["task_instances"])


def _last_tries(api: AirflowApi, dag_id: str, run_id: str) -> dict[Key, int]:
    """Each task instance's latest try number: what a new backfill's tries come after."""
    return {
        (t["task_id"], t["map_index"]): int(t["try_number"])
        for t in task_instances(api, dag_id, run_id)
    }


def _new_tries(api: AirflowApi, dag_id: str, run_id: str, before: dict[Key, int]) -> dict:
    """Every task instance's tries since `before`, oldest first."""
    return {
        key: sorted(
            (t for t in _tries(api, dag_id, run_id, key) if t["try_number"] > before.get(key, 0)),
            key=lambda t: t["try_number"],
        )
        for key in _last_tries(api, dag_id, run_id)
    }


def _log(api: AirflowApi, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
    path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
    return json.dumps(api.call("GET", f"{path}?full_content=true"))


def _running(api: AirflowApi, dag_id: str, run_id: str, task_id: str | None = None) -> dict | None:
    """A task instance of the run (of `task_id`, if given) running on a worker now, if any."""
    for instance in task_instances(api, dag_id, run_id):
        if instance["state"] == "running" and instance.get("hostname"):
            if task_id is None or instance["task_id"] == task_id:
                return instance
    return None


def _kill(pgid: int) -> None:
    """SIGKILL a service's process group and everything it started, as when its machine or
    container dies (a task's runner has a process group of its own)."""
    import psutil

    try:
        tree = [psutil.Process(pgid), *psutil.Process(pgid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    for process in tree:
        with contextlib.suppress(psutil.Error):
            process.kill()


def _scoring_run_id(served: ServedStack) -> str:
    return str(night_run(served.api, "batch_scoring", FIRST_NIGHT)["dag_run_id"])


@pytest.fixture(scope="module")
def undisturbed(served_stack: ServedStack) -> list[str]:
    """The first night's predictions as an undisturbed run gives them: `mlops score` with the
    same champion into a local folder (the embedded default)."""
    return embedded_digest(served_stack.stack, FIRST_NIGHT)


def test_mlflow_down_when_scoring_needs_it_is_retried_until_it_is_back(
    served_stack: ServedStack, undisturbed: list[str]
):
    stack, api = served_stack.stack, served_stack.api
    stack.service("stop", "mlflow")
    try:
        backfill = api.backfill_night("batch_scoring", FIRST_NIGHT)
        run_id = _until(
            lambda: _scoring_run_id(served_stack) if _has_backfill_run(api) else None,
            300,
            "the backfill's run",
        )
        _until(
            lambda: any(
                t["task_id"] == "resolve_models" and t["state"] == "up_for_retry"
                for t in task_instances(api, "batch_scoring", run_id)
            ),
            300,
            "resolve_models failing a try while MLflow is down",
        )
    finally:
        stack.service("start", "mlflow")
    back = time.monotonic()
    wait_for_backfill(api, backfill)
    recovered = time.monotonic() - back
    run = night_run(api, "batch_scoring", FIRST_NIGHT)
    assert run["state"] == "success", run
    (resolve,) = [
        t for t in task_instances(api, "batch_scoring", run_id) if t["task_id"] == "resolve_models"
    ]
    assert resolve["try_number"] >= 2, resolve
    assert predictions_digest(stack, FIRST_NIGHT) == undisturbed
    say(f"MLflow down: the night succeeded {recovered:.0f} s after MLflow was back")


def _has_backfill_run(api: AirflowApi) -> bool:
    try:
        night_run(api, "batch_scoring", FIRST_NIGHT)
    except ValueError:
        return False
    return True


def test_mlflow_that_never_comes_back_fails_the_night_naming_it_and_keeps_the_predictions(
    served_stack: ServedStack, undisturbed: list[str]
):
    stack, api = served_stack.stack, served_stack.api
    run_id = _scoring_run_id(served_stack)
    before = _last_tries(api, "batch_scoring", run_id)
    stack.service("stop", "mlflow")
    try:
        began = time.monotonic()
        wait_for_backfill(api, api.backfill_night("batch_scoring", FIRST_NIGHT))
        gave_up = time.monotonic() - began
        run = night_run(api, "batch_scoring", FIRST_NIGHT)
        assert run["state"] == "failed", run
        tries = _new_tries(api, "batch_scoring", run_id, before)[("resolve_models", -1)]
        assert [t["state"] for t in tries] == ["failed"] * 4, tries  # retries=3, then on-call
        gaps = [  # the delay doubles from one try to the next (5-10 s, 10-20 s, 20-40 s here)
            _seconds(tries[i + 1]["start_date"]) - _seconds(tries[i]["end_date"])
            for i in range(len(tries) - 1)
        ]
        assert gaps[-1] > gaps[0], gaps
        log = _log(api, "batch_scoring", run_id, "resolve_models", tries[-1]["try_number"])
        server = stack.env["MLFLOW_TRACKING_URI"]
        assert f"the MLflow registry at {server} did not answer" in log, log[-3000:]
        assert predictions_digest(stack, FIRST_NIGHT) == undisturbed, "predictions were touched"
        say(f"MLflow never back: the night failed after {gave_up:.0f} s, {len(tries)} tries")
    finally:
        stack.service("start", "mlflow")


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_a_worker_killed_mid_task_has_the_task_retried_on_the_other_and_the_day_unchanged(
    served_stack: ServedStack, undisturbed: list[str]
):
    stack, api = served_stack.stack, served_stack.api
    run_id = _scoring_run_id(served_stack)
    before = _last_tries(api, "batch_scoring", run_id)
    backfill = api.backfill_night("batch_scoring", FIRST_NIGHT)
    victim = _until(  # a shard: the longest task, so it is still running when the kill lands
        lambda: _running(api, "batch_scoring", run_id, "score_shard"), 600, "a shard running"
    )
    worker = str(victim["hostname"]).rpartition("/")[2]  # worker-N
    _kill(stack.pids()[f"airflow-{worker}"])
    killed = time.monotonic()
    try:
        wait_for_backfill(api, backfill)
        recovered = time.monotonic() - killed
    finally:
        stack.service("start", f"airflow-{worker}")
    run = night_run(api, "batch_scoring", FIRST_NIGHT)
    assert run["state"] == "success", run
    key = (victim["task_id"], victim["map_index"])
    tries = _new_tries(api, "batch_scoring", run_id, before)[key]
    assert len(tries) >= 2 and tries[-1]["state"] == "success", tries
    assert tries[0]["hostname"].endswith(worker), tries[0]
    assert not tries[-1]["hostname"].endswith(worker), "retried on the other worker"
    assert predictions_digest(stack, FIRST_NIGHT) == undisturbed
    say(f"{worker} killed during {key}: the night succeeded {recovered:.0f} s later")


def test_a_scheduler_killed_mid_run_and_restarted_completes_the_run_with_each_task_once(
    served_stack: ServedStack, undisturbed: list[str]
):
    stack, api = served_stack.stack, served_stack.api
    run_id = _scoring_run_id(served_stack)
    before = _last_tries(api, "batch_scoring", run_id)
    backfill = api.backfill_night("batch_scoring", FIRST_NIGHT)
    _until(lambda: _running(api, "batch_scoring", run_id), 600, "a task running")
    _kill(stack.pids()["airflow-scheduler"])
    killed = time.monotonic()
    time.sleep(5)
    stack.service("start", "airflow-scheduler")
    wait_for_backfill(api, backfill)
    recovered = time.monotonic() - killed
    run = night_run(api, "batch_scoring", FIRST_NIGHT)
    assert run["state"] == "success", run
    tries = _new_tries(api, "batch_scoring", run_id, before)
    twice = {key: [t["state"] for t in found] for key, found in tries.items() if len(found) != 1}
    assert not twice, f"tasks that did not run exactly once: {twice}"
    assert predictions_digest(stack, FIRST_NIGHT) == undisturbed
    say(f"scheduler killed mid-run: the night succeeded {recovered:.0f} s later")


def _bucket_state(env: dict[str, str], bucket: str) -> dict[str, str]:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"]: item["ETag"] for page in pages for item in page.get("Contents", [])}


def test_s3_unreachable_fails_the_gate_after_its_retries_and_writes_nothing(
    served_stack: ServedStack,
):
    """The S3 server stops answering (frozen: connections are accepted, never answered, as
    behind a network partition; moto keeps its objects in memory, so it is not restarted): the
    night's gate fails after its retries naming the endpoint, no object changed; once S3
    answers again the same night succeeds."""
    stack, api = served_stack.stack, served_stack.api
    buckets = ("mlops-validated", "mlops-quarantine")
    stored = {bucket: _bucket_state(stack.env, bucket) for bucket in buckets}
    run_id = str(night_run(api, "ingestion", FIRST_NIGHT)["dag_run_id"])
    before = _last_tries(api, "ingestion", run_id)
    s3 = stack.pids()["s3"]
    os.killpg(s3, signal.SIGSTOP)
    try:
        wait_for_backfill(api, api.backfill_night("ingestion", FIRST_NIGHT))
        run = night_run(api, "ingestion", FIRST_NIGHT)
        assert run["state"] == "failed", run
        tries = _new_tries(api, "ingestion", run_id, before)[("gate_scheduled_flights", -1)]
        assert [t["state"] for t in tries] == ["failed"] * 3, tries  # retries=2
        log = _log(api, "ingestion", run_id, "gate_scheduled_flights", tries[-1]["try_number"])
        assert stack.env["AWS_ENDPOINT_URL"] in log, log[-3000:]
    finally:
        os.killpg(s3, signal.SIGCONT)
    back = time.monotonic()
    for bucket in buckets:
        assert _bucket_state(stack.env, bucket) == stored[bucket], f"{bucket} changed"
    wait_for_backfill(api, api.backfill_night("ingestion", FIRST_NIGHT))
    assert night_run(api, "ingestion", FIRST_NIGHT)["state"] == "success"
    recovered = time.monotonic() - back
    say(f"S3 unreachable: the gate failed naming it; the night succeeded {recovered:.0f} s after")
