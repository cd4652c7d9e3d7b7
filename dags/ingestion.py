"""
### Ingestion gate

Every night, the data delivered for the new day passes the Great Expectations gate before
anything uses it: the scheduled flights of day D (`landing/flights/date=D`) and the outcomes of
day D-1 (`landing/outcomes/date=D-1`, delivered a day late).

* **Run for D**: the run whose data interval ends at local midnight of D (`data_interval_end`,
  a `CronDataIntervalTimetable` in America/New_York).
* **Blocking failure**: the task fails with a message naming each failed expectation, its column
  and the observed value, plus a Data Docs link. The batch is moved to
  `quarantine/<contract>/date=…/` beside its validation JSON. Single bad rows within the budget
  (`gate.row_quarantine_budget`) are quarantined alone and the clean rows go on.
* **Data late**: the task fails with "no landed … batch" and retries.
* **Idempotent**: re-running a date re-validates what is landed; a held batch stays held
  until `mlops quarantine release`.

Runbook: `runbooks/data-gate.md`.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from orchestration.schedule import default_args, nightly, target_day


@dag(
    dag_id="ingestion",
    schedule=nightly(),
    start_date=datetime(2013, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=2, retry_delay_seconds=300, timeout_minutes=30),
    tags=["mlops", "data-quality", "great-expectations"],
    doc_md=__doc__,
)
def ingestion() -> None:
    @task
    def gate_scheduled_flights() -> dict:
        """Gate the scheduled flights landed for the run's day."""
        from pipelines.config import load_params
        from pipelines.gate.quarantine import gate_landed_batch

        return gate_landed_batch(load_params(), "scheduled_flights", target_day()).summary()

    @task
    def gate_outcomes() -> dict:
        """Gate the outcomes of the day before (labels arrive a day late)."""
        from datetime import timedelta as days

        from pipelines.config import load_params
        from pipelines.gate.quarantine import gate_landed_batch

        day = target_day() - days(days=1)
        return gate_landed_batch(load_params(), "outcomes", day).summary()

    gate_scheduled_flights()
    gate_outcomes()


ingestion()
