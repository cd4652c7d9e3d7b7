"""The Airflow Assets that link the DAGs: the gate's owner (`ingestion`) emits one event per
validated day, with the day, the rows and the partition in the event's extra; `monitoring`
one per monitored night, with its verdict, and one per night the retraining guard requests a
retraining (the `training` DAG is scheduled on it)."""

from __future__ import annotations

from airflow.sdk import Asset

VALIDATED_FLIGHTS = Asset(name="validated_flights", uri="file:///mlops/validated/flights")
VALIDATED_OUTCOMES = Asset(name="validated_outcomes", uri="file:///mlops/validated/outcomes")
#: One event per monitored night (extra: day, verdict, triggers, model version, page), for
#: whoever wants to react to a night (no DAG of the loop is scheduled on it: the retraining guard
#: reads the nights from `history.parquet`, in the same task, and emits `retraining_requested`).
MONITORING_VERDICT = Asset(name="monitoring_verdict", uri="file:///mlops/monitoring/verdict")
#: Emitted by `monitoring` when the guard (pipelines/retraining/guard.py) requests a retraining;
#: extra: day, act_days, triggers, reason. `training` is scheduled on it.
RETRAINING_REQUESTED = Asset(
    name="retraining_requested", uri="file:///mlops/monitoring/retraining_requested"
)
