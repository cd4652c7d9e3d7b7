"""A sensor for the gate's verdict on a landed batch, with Airflow's sensor contract.

It waits until the gate's owner (`ingestion`) has judged the day's batch:
* passed: done, downstream reads the validated partition;
* quarantined: fails at once (no retry), naming the failed expectations and the runbook
  command that releases the batch;
* nothing yet after `timeout`: "data is late" (`AirflowSensorTimeout`; skipped instead with
  `soft_fail=True`).

`poke()` is the check. With `deferrable=True` (the default) the wait runs in the triggerer and
holds no worker slot; with `deferrable=False`, `mode="reschedule"` or `"poke"` behave as for
any Airflow sensor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout
from airflow.triggers.base import BaseTrigger, TriggerEvent

PASSED, HELD, PENDING = "passed", "quarantined", "pending"


def verdict_uri(contract: str, day: date) -> str:
    from orchestration.clock import settings
    from pipelines.gate.quarantine import result_uri

    return result_uri(settings(), contract, f"date={day.isoformat()}")


def verdict_state(uri: str) -> tuple[str, str]:
    """(state, detail) of the verdict stored at `uri` (pending if there is none yet)."""
    from pipelines.gate.quarantine import read_verdict

    report = read_verdict(uri)
    if report is None:
        return PENDING, ""
    if report.passed:
        return PASSED, str(report.validated_path)
    failed = "; ".join(failure.describe() for failure in report.failures)
    return HELD, failed


def quarantined_message(contract: str, day: date, failed: str) -> str:
    return (
        f"batch {day} is quarantined: {failed}. Fix it, then release it with "
        f"`mlops quarantine release --contract {contract} --date {day}` "
        "(runbooks/data-gate.md); existing predictions are untouched"
    )


class GateVerdictTrigger(BaseTrigger):
    """Polls the stored verdict until it exists or the deadline passes."""

    def __init__(self, uri: str, deadline: float, poke_seconds: float = 60.0):
        super().__init__()
        self.uri, self.deadline, self.poke_seconds = uri, deadline, poke_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "orchestration.landing_sensor.GateVerdictTrigger",
            {"uri": self.uri, "deadline": self.deadline, "poke_seconds": self.poke_seconds},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            state, detail = await asyncio.to_thread(verdict_state, self.uri)
            if state != PENDING:
                yield TriggerEvent({"state": state, "detail": detail})
                return
            if time.time() >= self.deadline:
                yield TriggerEvent({"state": "late", "detail": ""})
                return
            await asyncio.sleep(self.poke_seconds)


class GateVerdictSensor(BaseSensorOperator):
    """Waits for the gate's verdict on `contract` for the run's day (see the module doc)."""

    def __init__(self, *, contract: str, deferrable: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.contract, self.deferrable = contract, deferrable

    def _day(self, context: Any) -> date:
        from orchestration.clock import day_of

        return day_of(context)

    def poke(self, context: Any) -> bool:
        day = self._day(context)
        state, detail = verdict_state(verdict_uri(self.contract, day))
        self.log.info("gate verdict for %s %s: %s", self.contract, day, state)
        if state == HELD:
            raise AirflowFailException(quarantined_message(self.contract, day, detail))
        return state == PASSED

    def _late(self, context: Any) -> str:
        return (
            f"data is late: no gate verdict for {self.contract} {self._day(context)} within "
            f"{timedelta(seconds=self.timeout)} (scoring of this day did not run; existing "
            "predictions are untouched)"
        )

    def execute(self, context: Any) -> None:
        if not self.deferrable:
            try:
                super().execute(context)
            except AirflowSensorTimeout as error:
                raise AirflowSensorTimeout(self._late(context)) from error
            return
        if self.poke(context):
            return
        self.defer(
            trigger=GateVerdictTrigger(
                verdict_uri(self.contract, self._day(context)),
                time.time() + self.timeout,
                self.poke_interval,
            ),
            timeout=timedelta(seconds=self.timeout + 5 * self.poke_interval),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> None:
        if event["state"] == HELD:
            day = self._day(context)
            raise AirflowFailException(quarantined_message(self.contract, day, event["detail"]))
        if event["state"] != PASSED:
            raise AirflowSensorTimeout(self._late(context))
