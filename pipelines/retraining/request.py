"""The guard's inputs as the nightly job finds them, and its decision recorded (side effects).

* verdicts: the monitoring history (`history.parquet`), one row per night;
* the last retraining: the newest of the nights whose guard requested one (the history, and
  the Asset's own events when the DAG passes them) and the moving-window training runs in
  MLflow (`window.as_of`), before D (a re-run of D does not see its own request, a backfilled
  night never sees a later one);
* the last training end: the newest holdout day of any training run of the experiment;
* new labels: the labelled outcomes in the validated partitions after that day, up to D-1;
* the challenger in shadow: the registry's `challenger` alias, when it is not the champion."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pandas as pd

from pipelines import registry
from pipelines.config import Params
from pipelines.data.landing import validated_uri
from pipelines.monitoring.history import read_history, update, write_history
from pipelines.retraining.guard import GuardDecision, GuardInputs, NightVerdict
from pipelines.storage import exists, read_parquet

REQUESTED = "requested"


def nights_from_history(history: pd.DataFrame) -> tuple[NightVerdict, ...]:
    if "verdict" not in history.columns:
        return ()
    rows = history.dropna(subset=["verdict"])
    return tuple(
        NightVerdict(
            date.fromisoformat(str(row["date"])),
            str(row["verdict"]),
            tuple(json.loads(row["triggers"])) if isinstance(row.get("triggers"), str) else (),
        )
        for row in rows.to_dict("records")
    )


def requested_days(history: pd.DataFrame) -> list[str]:
    if "retraining" not in history.columns:
        return []
    return [str(d) for d in history.loc[history["retraining"] == REQUESTED, "date"]]


def training_runs(params: Params) -> list[Any]:
    """Every training run of the experiment that got as far as a holdout (newest first)."""
    client = registry.client(params.mlflow)
    experiment = client.get_experiment_by_name(params.mlflow.experiment)
    if experiment is None:
        return []
    return list(
        client.search_runs(
            [experiment.experiment_id],
            filter_string="tags.`split.holdout_end` != ''",
            order_by=["attributes.start_time DESC"],
            max_results=200,
        )
    )


def _latest(days: list[str], up_to: date | None = None) -> date | None:
    kept = [d for d in days if d and (up_to is None or d <= up_to.isoformat())]
    return date.fromisoformat(max(kept)) if kept else None


def labelled_flights(params: Params, after: date | None, day: date) -> int:
    """Labelled outcomes of the validated days after `after`, up to D-1 (what has landed)."""
    first = after + timedelta(days=1) if after else day - timedelta(days=366)
    total, current = 0, first
    while current < day:
        uri = validated_uri(params, "outcomes", current)
        if exists(uri):
            total += int(read_parquet(uri, columns=["arr_delay"])["arr_delay"].notna().sum())
        current += timedelta(days=1)
    return total


def challenger_in_shadow(params: Params) -> str | None:
    client = registry.client(params.mlflow)
    name = params.mlflow.registered_model
    challenger = registry.alias_version(client, name, registry.CHALLENGER)
    if challenger is None or challenger == registry.alias_version(client, name, registry.CHAMPION):
        return None
    return challenger


def guard_inputs(
    params: Params, day: date, training_active: bool, event_days: tuple[str, ...] = ()
) -> GuardInputs:
    """`event_days`: the days of the `retraining_requested` events Airflow holds (the DAG reads
    them as the task's inlet events)."""
    history = read_history(params.workspace_path(params.monitoring.reports_dir))
    runs = training_runs(params)
    last_training_end = _latest([r.data.tags.get("split.holdout_end", "") for r in runs], day)
    retrained = [
        *requested_days(history),
        *event_days,
        *[r.data.tags.get("window.as_of", "") for r in runs],
    ]
    return GuardInputs(
        day=day,
        nights=nights_from_history(history),
        last_retraining=_latest(retrained, day - timedelta(days=1)),
        last_training_end=last_training_end,
        new_labelled_flights=labelled_flights(params, last_training_end, day),
        training_active=training_active,
        challenger_in_shadow=challenger_in_shadow(params),
    )


def record_decision(params: Params, decision: GuardDecision) -> None:
    """The night's history row says whether it requested a retraining, and why (not)."""
    root = params.workspace_path(params.monitoring.reports_dir)
    fields = {
        "retraining": REQUESTED if decision.request else "declined",
        "retraining_reasons": json.dumps(list(decision.reasons)),
    }
    write_history(update(read_history(root), decision.day.isoformat(), fields), root)


def already_requested(history: pd.DataFrame, day: date, event_days: tuple[str, ...]) -> bool:
    """Night D has already requested (a retried or re-run task): no second event."""
    return day.isoformat() in (*requested_days(history), *event_days)
