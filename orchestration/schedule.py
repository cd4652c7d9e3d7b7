"""What the nightly DAGs share: their local clock, their schedule and the day a run is for."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, get_current_context

LOCAL_TZ = "America/New_York"  # flight dates are local days at the NYC airports


def nightly() -> CronDataIntervalTimetable:
    """A real data interval [D-1, D): the run that fires at local midnight of D is for D."""
    return CronDataIntervalTimetable("0 0 * * *", timezone=LOCAL_TZ)


def target_day() -> date:
    """The day this run is for: the end of its data interval, as a local date."""
    return get_current_context()["data_interval_end"].in_timezone(LOCAL_TZ).date()


def default_args(retries: int, retry_delay_seconds: int, timeout_minutes: int) -> dict[str, Any]:
    """`MLOPS_RETRY_DELAY_SECONDS` shortens the delay (tests)."""
    delay = int(os.environ.get("MLOPS_RETRY_DELAY_SECONDS", retry_delay_seconds))
    return {
        "owner": "ml-platform",
        "retries": retries,
        "retry_delay": timedelta(seconds=delay),
        "execution_timeout": timedelta(minutes=timeout_minutes),
    }
