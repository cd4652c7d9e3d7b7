"""The local clock of the loop: the deployed settings, the airports' time zone, and the day a
run is for. Below `schedule.py` and `notifiers.py`, which both read it.

The time zone and the other tunables come from `params.yaml` (read once per process): the
schedule needs the zone when the DAG is parsed, the tasks read the rest when they run."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from pipelines.config import Params, load_params


@functools.cache
def settings() -> Params:
    """The deployed `params.yaml`, typed (cheap: one small YAML file)."""
    return load_params()


def local_timezone() -> str:
    """Flight dates are local days at the NYC airports (`features.timezone`)."""
    return settings().features.timezone


def day_of(context: Any) -> date:
    """The day a run is for: the date picked in a manual run's form (`date`), else the end of
    its data interval, as a local date."""
    chosen = (context.get("params") or {}).get("date")
    return run_day(context["data_interval_end"].in_timezone(local_timezone()).date(), chosen)


def run_day(interval_end: date, chosen: str | date | None) -> date:
    """The form's date when one was picked (a manual run for that day), else the interval's."""
    if not chosen:
        return interval_end
    return chosen if isinstance(chosen, date) else date.fromisoformat(str(chosen))
