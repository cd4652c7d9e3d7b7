"""The Airflow Assets that link the DAGs: the gate's owner (`ingestion`) emits one event per
validated day, with the day, the rows and the partition in the event's extra; `monitoring`
one per monitored night, with its verdict."""

from __future__ import annotations

from airflow.sdk import Asset

VALIDATED_FLIGHTS = Asset(name="validated_flights", uri="file:///mlops/validated/flights")
VALIDATED_OUTCOMES = Asset(name="validated_outcomes", uri="file:///mlops/validated/outcomes")
#: One event per monitored night (extra: day, verdict, triggers, model version, page): what the
#: retraining guard listens to.
MONITORING_VERDICT = Asset(name="monitoring_verdict", uri="file:///mlops/monitoring/verdict")
