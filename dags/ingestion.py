"""
### Ingestion gate

Every night, the data delivered for the new day passes the Great Expectations gate before
anything uses it: the scheduled flights of day D (`landing/flights/date=D`) and the outcomes of
day D-1 (`landing/outcomes/date=D-1`, delivered a day late).

* **Run for D**: the run whose data interval ends at local midnight of D (`data_interval_end`,
  a `CronDataIntervalTimetable` in America/New_York).
* **One owner**: this DAG is the only place a landed batch is validated. A batch that passes is
  copied to `validated/<dataset>/date=D/` and an event is emitted on the Asset
  `validated_flights` / `validated_outcomes` (extra: day, rows, partition, status); scoring
  waits for this verdict and reads the validated partition.
* **Blocking failure**: the task fails with a message naming each failed expectation, its column
  and the observed value, plus a Data Docs link. A copy of the batch goes to
  `quarantine/<contract>/date=…/` beside its validation JSON; the landing zone is never
  touched. Single bad rows within the budget (`gate.row_quarantine_budget`) are quarantined
  alone and the clean rows are published.
* **Data late**: the task fails with "no landed … batch" and retries.
* **Idempotent**: the verdict is stored with the sha256 of the landed content; re-running a date
  on the same content returns the same verdict and writes nothing new. A held batch stays held
  until `mlops quarantine release`.

* **Manual run for a day**: *Trigger* shows a form with the day to gate (empty: the run's
  interval). **Links**: each gate task opens the Data Docs of the batch it validated
  ("Data Docs") and the on-call page of its day ("Monitoring page").

Runbook: `runbooks/data-gate.md`.
"""

from __future__ import annotations

from airflow.sdk import Metadata, dag, task

from orchestration.assets import VALIDATED_FLIGHTS, VALIDATED_OUTCOMES
from orchestration.schedule import day_form, default_args, loop_dag, nightly, target_day


def _offer_data_docs(params, page_uri):  # type: ignore[no-untyped-def]
    """The task's "Data Docs" link: the page of the batch it gated."""
    from orchestration.links import DATA_DOCS, data_docs_path, push_link

    root = params.workspace_path(params.gate.data_docs_dir)
    push_link(DATA_DOCS, data_docs_path(page_uri, root))


@dag(
    dag_id="ingestion",
    schedule=nightly(),
    **loop_dag(
        __doc__,
        ["data-quality", "great-expectations"],
        params=day_form(),
        default_args=default_args(retries=2, retry_delay_seconds=300, timeout_minutes=30),
    ),
)
def ingestion() -> None:
    @task(outlets=[VALIDATED_FLIGHTS])
    def gate_scheduled_flights():  # type: ignore[no-untyped-def]
        """Gate the scheduled flights landed for the run's day; publish the validated day."""
        from pipelines.config import load_params
        from pipelines.gate.quarantine import gate_landed_batch

        params = load_params()
        report = gate_landed_batch(params, "scheduled_flights", target_day())
        _offer_data_docs(params, report.data_docs_url)
        yield Metadata(VALIDATED_FLIGHTS, report.event_extra())

    @task(outlets=[VALIDATED_OUTCOMES])
    def gate_outcomes():  # type: ignore[no-untyped-def]
        """Gate the outcomes of the day before (labels arrive a day late)."""
        from datetime import timedelta as days

        from pipelines.config import load_params
        from pipelines.gate.quarantine import gate_landed_batch

        day = target_day() - days(days=1)
        params = load_params()
        report = gate_landed_batch(params, "outcomes", day)
        _offer_data_docs(params, report.data_docs_url)
        yield Metadata(VALIDATED_OUTCOMES, report.event_extra())

    gate_scheduled_flights()
    gate_outcomes()


ingestion()
