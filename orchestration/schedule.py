"""What the nightly DAGs share: their schedule, the day a run is for, their task defaults (the
local clock itself is `clock.py`, which the notifiers read too).

The time zone and the other tunables come from `params.yaml` (read once per process): the
schedule needs the zone when the DAG is parsed, the tasks read the rest when they run."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, get_current_context

from orchestration.clock import day_of, local_timezone


def nightly() -> CronDataIntervalTimetable:
    """A real data interval [D-1, D): the run that fires at local midnight of D is for D."""
    return CronDataIntervalTimetable("0 0 * * *", timezone=local_timezone())


def _date_param(title: str, description: str) -> Param:
    """An optional date field of a trigger form (empty: what a scheduled run does)."""
    return Param(None, type=["null", "string"], format="date", title=title, description=description)


def day_form() -> dict[str, Param]:
    """The trigger form of a nightly DAG: a manual run for a chosen day (empty: the day of the
    run's data interval, as a scheduled run)."""
    return {
        "date": _date_param(
            "Day to run for",
            "A manual run for this day (YYYY-MM-DD); empty: the day the run's data interval "
            "ends, as the nightly schedule does.",
        )
    }


#: The params.yaml sections a manual `training` run may override: what is trained, never how
#: it is judged (`promotion`) or where things live.
OVERRIDABLE_SECTIONS = ("features", "train", "retraining")
#: A manual run's reason, at least this long: "test" says nothing to the next reader.
MIN_REASON = 10


def training_form() -> dict[str, Param]:
    """The `training` DAG's trigger form: why this manual run, which window (empty: the fixed
    window of params.yaml, as `dvc repro`) and any params overrides for this run only. Every
    default validates: a scheduled or Asset-triggered run asks for nothing."""
    return {
        "reason": Param(
            None,
            type=["null", "string"],
            minLength=MIN_REASON,
            maxLength=500,
            title="Reason (required for a manual run)",
            description=f"Why this run trains, in at least {MIN_REASON} characters: tagged on "
            "the MLflow run (`run.reason`). A manual run without one fails at once.",
        ),
        "as_of": _date_param(
            "Moving window as of",
            "Train on the moving window ending the day before (YYYY-MM-DD); empty: the fixed "
            "window of params.yaml.",
        ),
        "holdout_days": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=60,
            title="Holdout days",
            description="With a date: hold out this many of the window's newest days "
            "(empty: `retraining.holdout_days`).",
        ),
        "overrides": Param(
            {},
            type="object",
            title="Params overrides (an experiment)",
            description="Dotted params.yaml keys to values for this run only, e.g. "
            '{"train.hist_gradient_boosting.max_leaf_nodes": 15} (sections: '
            f"{', '.join(OVERRIDABLE_SECTIONS)}). Tagged `params.overrides`; the model is "
            "registered but never promoted (not the committed params).",
        ),
    }


def form_values(params: Any, conf: dict[str, Any] | None) -> dict[str, Any]:
    """What a run was asked for: its form's values (`params`) under its conf, the empty ones
    dropped (a scheduled or Asset-triggered run asks for nothing)."""
    merged = {**dict(params or {}), **dict(conf or {})}
    return {key: value for key, value in merged.items() if value not in (None, "", {})}


def missing_reason(run_type: str, asked: dict[str, Any]) -> str | None:
    """Why a manual `training` run may not start (None: it may): it must say why it trains.
    Scheduled and Asset-triggered runs carry their reason in their trigger."""
    if not str(run_type).lower().endswith("manual"):
        return None
    reason = str(asked.get("reason") or "").strip()
    if len(reason) >= MIN_REASON:
        return None
    return (
        f"a manual training run needs a reason of at least {MIN_REASON} characters "
        f'(got {reason!r}): Trigger -> Reason, or conf {{"reason": "..."}}'
    )


def request_tags(asked: dict[str, Any]) -> dict[str, str]:
    """MLflow run tags of what a manual run asked for: its reason and overrides (JSON; the
    promotion refuses a run that has them, `rules.committed_tree_check`)."""
    import json

    from pipelines.promotion.rules import OVERRIDES_TAG

    tags = {"run.reason": str(asked.get("reason") or "")[:4000]}
    if asked.get("overrides"):
        tags[OVERRIDES_TAG] = json.dumps(asked["overrides"], sort_keys=True)
    return tags


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
