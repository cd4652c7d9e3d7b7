"""The scoring sensor against stored gate verdicts: waits while there is none, passes on a
published day, fails at once on a quarantined one, and says "data is late" on timeout."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pendulum
import pytest

from pipelines.config import REPO_ROOT, load_params
from pipelines.storage import write_text

DAY = date(2013, 2, 17)


@pytest.fixture
def sensor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import dataclasses

    from orchestration import clock
    from orchestration.landing_sensor import GateVerdictSensor

    params = dataclasses.replace(load_params(REPO_ROOT / "params.yaml"), workspace=tmp_path)
    monkeypatch.setattr(clock, "settings", lambda: params)
    context = {"data_interval_end": pendulum.datetime(2013, 2, 17, 5, tz="UTC")}
    task = GateVerdictSensor(task_id="wait", contract="scheduled_flights", timeout=60)
    return task, context, params


def _store(params, status: str, failures: list[dict]) -> None:
    from pipelines.gate.quarantine import result_uri

    summary = {
        "contract": "scheduled_flights",
        "batch": f"date={DAY}",
        "status": status,
        "rows": 900,
        "quarantined_rows": 0,
        "evaluated_expectations": 20,
        "failures": failures,
        "validated_path": "data/validated/flights/date=2013-02-17/part-0.parquet",
    }
    write_text(json.dumps(summary), result_uri(params, "scheduled_flights", f"date={DAY}"))


def test_no_verdict_yet_keeps_waiting(sensor):
    task, context, _ = sensor
    assert task.poke(context) is False


def test_a_published_day_passes(sensor):
    task, context, params = sensor
    _store(params, "passed", [])
    assert task.poke(context) is True


def test_a_quarantined_day_fails_at_once_with_the_failures_and_the_release_command(sensor):
    from airflow.sdk.exceptions import AirflowFailException

    task, context, params = sensor
    failure = {
        "expectation": "expect_column_values_to_be_in_set",
        "column": "origin",
        "severity": "critical",
        "observed": None,
        "unexpected_count": 90,
        "unexpected_percent": 10.0,
        "examples": ["BOS"],
        "row_level": True,
    }
    _store(params, "rejected", [failure])
    with pytest.raises(AirflowFailException) as caught:
        task.poke(context)
    message = str(caught.value)
    assert f"batch {DAY} is quarantined" in message
    assert "expect_column_values_to_be_in_set on 'origin'" in message
    assert f"mlops quarantine release --contract scheduled_flights --date {DAY}" in message


def test_the_deferred_wait_ends_late_or_quarantined(sensor):
    from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

    task, context, _ = sensor
    with pytest.raises(AirflowSensorTimeout, match="data is late"):
        task.execute_complete(context, {"state": "late", "detail": ""})
    with pytest.raises(AirflowFailException, match="is quarantined"):
        task.execute_complete(context, {"state": "quarantined", "detail": "x"})
    assert task.execute_complete(context, {"state": "passed", "detail": "p"}) is None


def test_the_trigger_yields_the_verdict_once_stored_or_late_at_its_deadline(sensor):
    import asyncio
    import threading
    import time

    from orchestration.landing_sensor import GateVerdictTrigger, verdict_uri

    _, _, params = sensor
    uri = verdict_uri("scheduled_flights", DAY)

    async def first_event(trigger: GateVerdictTrigger) -> dict:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("no event")

    late = asyncio.run(first_event(GateVerdictTrigger(uri, time.time() + 0.2, 0.05)))
    assert late["state"] == "late"
    threading.Timer(0.2, _store, args=(params, "passed", [])).start()
    landed = asyncio.run(first_event(GateVerdictTrigger(uri, time.time() + 10, 0.05)))
    assert landed["state"] == "passed"
