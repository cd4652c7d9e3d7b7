"""What the nightly DAGs share: their schedule, the day a run is for, their task defaults (the
local clock itself is `clock.py`, which the notifiers read too).

The time zone and the other tunables come from `params.yaml` (read once per process): the
schedule needs the zone when the DAG is parsed, the tasks read the rest when they run."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, get_current_context

from orchestration.clock import day_of, local_timezone


def nightly() -> CronDataIntervalTimetable:
    """A real data interval [D-1, D): the run that fires at local midnight of D is for D."""
    return CronDataIntervalTimetable("0 0 * * *", timezone=local_timezone())


def target_day() -> date:
    return day_of(get_current_context())


def default_args(retries: int, retry_delay_seconds: int, timeout_minutes: int) -> dict[str, Any]:
    """Retries, timeouts and the failure alert every task shares. The delay doubles from one
    try to the next (a server that is down for minutes, not seconds, is waited out without
    hammering it), up to an hour.

    `MLOPS_RETRY_DELAY_SECONDS` shortens the first delay (tests)."""
    from orchestration.notifiers import TaskFailureNotifier

    delay = int(os.environ.get("MLOPS_RETRY_DELAY_SECONDS", retry_delay_seconds))
    return {
        "on_failure_callback": [TaskFailureNotifier()],
        "owner": "ml-platform",
        "retries": retries,
        "retry_delay": timedelta(seconds=delay),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
        "execution_timeout": timedelta(minutes=timeout_minutes),
    }


def loop_dag(doc: str | None, tags: list[str], **arguments: Any) -> dict[str, Any]:
    """The `@dag` arguments every DAG of the loop shares (a 2013 start, no catch-up, one run at
    a time, the `mlops` tag, its module docstring as its docs), with its own tags and any other
    argument; each DAG states its id and schedule itself."""
    return {
        "start_date": datetime(2013, 1, 1),
        "catchup": False,
        "max_active_runs": 1,
        "tags": ["mlops", *tags],
        "doc_md": doc,
        **arguments,
    }
