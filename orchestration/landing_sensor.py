"""A deferrable sensor for a landed batch: while it waits, no worker slot is held (the
triggerer polls); when the wait exceeds its budget it fails saying the data is late."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent


class LandedBatchTrigger(BaseTrigger):
    def __init__(self, uri: str, deadline: float, poke_seconds: float = 60.0):
        super().__init__()
        self.uri, self.deadline, self.poke_seconds = uri, deadline, poke_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "orchestration.landing_sensor.LandedBatchTrigger",
            {"uri": self.uri, "deadline": self.deadline, "poke_seconds": self.poke_seconds},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from pipelines.storage import exists

        while True:
            if await asyncio.to_thread(exists, self.uri):
                yield TriggerEvent({"status": "landed", "uri": self.uri})
                return
            if time.time() >= self.deadline:
                yield TriggerEvent({"status": "late", "uri": self.uri})
                return
            await asyncio.sleep(self.poke_seconds)


class LandedBatchSensor(BaseSensorOperator):
    """Waits for `landing/<dataset>/date=D/part-0.parquet` of the run's day (deferrable)."""

    template_fields = ("day",)

    def __init__(
        self, *, dataset: str, day: str, wait: timedelta, poke_seconds: float = 60.0, **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.dataset, self.day, self.wait, self.poke_seconds = dataset, day, wait, poke_seconds

    def _uri(self) -> str:
        from datetime import date

        from pipelines.config import load_params
        from pipelines.data.landing import partition_uri

        return partition_uri(load_params().landing_root, self.dataset, date.fromisoformat(self.day))

    def execute(self, context: Any) -> str:
        from pipelines.storage import exists

        uri = self._uri()
        self.log.info("waiting for the landed batch %s (day %s)", uri, self.day)
        if exists(uri):
            return uri
        self.defer(
            trigger=LandedBatchTrigger(
                uri, time.time() + self.wait.total_seconds(), self.poke_seconds
            ),
            method_name="execute_complete",
        )
        return uri  # not reached: defer() raises

    def execute_complete(self, context: Any, event: dict[str, Any]) -> str:
        if event["status"] != "landed":
            raise TimeoutError(
                f"data is late: {event['uri']} has not landed within {self.wait} "
                "(scoring of this day did not run; existing predictions are untouched)"
            )
        return str(event["uri"])
