"""
### Batch scoring

Scores each day's scheduled flights with the champion, every night, before the day starts.

* **Run for D**: the run whose data interval ends at local midnight of D scores
  `landing/flights/date=D` (a real data interval, `CronDataIntervalTimetable` in
  America/New_York). Backfill a range with `airflow backfill create --dag-id batch_scoring
  --from-date … --to-date …`; `mlops score --date D` runs the same code outside Airflow.
* **Waits** for the gate's verdict on the day's batch (`ingestion` owns the gate and emits the
  `validated_flights` Asset event) with a deferrable sensor (no worker slot held). A
  quarantined batch fails the run at once, naming the failed expectations and the release
  command; no verdict after `scoring.wait_for_data_hours` fails with "data is late".
* **Reads** the validated partition (`validated/flights/date=D`, inlet `validated_flights`),
  never the landing zone.
* **Pinned model**: `resolve_models` turns `@champion` (and `@challenger`) into versions once;
  every task uses those versions even if an alias moves mid-run, and each row carries its
  version, run id and training-data version.
* **Shards**: `plan_shards` splits the day into row ranges of at most `scoring.shard_rows`
  rows; `score_shard` is mapped over them (dynamic task mapping), so
  Celery or Kubernetes workers share a large day. Each shard streams in record batches.
* **Output**: `predictions/date=D/`: the shards moved in whole (never re-encoded) and
  `_published.json` naming them in row order, written by `publish_predictions` once every
  shard is done (the day is published when it is written); a re-run replaces the day with
  identical rows. A challenger scores in shadow into `shadow/date=D/`, never acted upon.

* **Manual run for a day**: *Trigger* shows a form with the day to score (empty: the run's
  interval, as the schedule). **Links**: `resolve_models` opens the pinned champion's MLflow
  run; every task opens the on-call page of its day ("Monitoring page").

Runbook: `runbooks/batch-scoring.md`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, get_current_context, task

from orchestration.assets import VALIDATED_FLIGHTS
from orchestration.clock import settings
from orchestration.landing_sensor import GateVerdictSensor
from orchestration.schedule import day_form, default_args, loop_dag, nightly, target_day


@dag(
    dag_id="batch_scoring",
    schedule=nightly(),
    **loop_dag(
        __doc__,
        ["scoring", "mlflow"],
        params=day_form(),
        default_args=default_args(retries=3, retry_delay_seconds=120, timeout_minutes=60),
    ),
)
def batch_scoring() -> None:
    wait_for_flights = GateVerdictSensor(
        task_id="wait_for_flights",
        contract="scheduled_flights",
        timeout=settings().scoring.wait_for_data_hours * 3600,
        poke_interval=60,
        retries=1,  # one more wait window after "data is late", then on-call
        execution_timeout=timedelta(hours=8),
    )

    @task
    def resolve_models() -> dict:
        """Pin `@champion` (and `@challenger`) to concrete versions, once, for the whole run."""
        from orchestration.links import MLFLOW_RUN, push_link
        from pipelines.config import load_params
        from pipelines.registry import CHALLENGER, ModelUnavailable, resolve_alias, run_url

        params = load_params()
        champion = resolve_alias(params.mlflow)
        if champion is None:
            raise ModelUnavailable(f"{params.mlflow.registered_model} has no champion yet")
        challenger = resolve_alias(params.mlflow, CHALLENGER)
        push_link(MLFLOW_RUN, run_url(params.mlflow, champion.run_id))
        return {
            "champion": champion.as_dict(),
            "challenger": challenger.as_dict() if challenger else None,
        }

    @task(inlets=[VALIDATED_FLIGHTS])
    def plan_shards() -> list[dict]:
        """Row ranges of at most `scoring.shard_rows` rows: one mapped task per shard."""
        from pipelines.config import load_params
        from pipelines.scoring.shards import plan_shards

        return [shard.as_dict() for shard in plan_shards(load_params(), target_day())]

    @task(map_index_template="{{ shard_label }}")
    def score_shard(shard: dict, models: dict) -> dict:
        """Features with the training code, champion (and shadow) scores, streamed in record
        batches into the day's staging folder."""
        from pipelines.config import load_params
        from pipelines.registry import ModelVersionRef
        from pipelines.scoring.shards import Shard, score_shard

        planned = Shard.from_dict(shard)
        get_current_context()["shard_label"] = f"shard {planned.index} ({planned.rows} rows)"  # type: ignore[typeddict-unknown-key]
        challenger = (
            ModelVersionRef.from_dict(models["challenger"]) if models["challenger"] else None
        )
        return score_shard(
            load_params(),
            planned,
            ModelVersionRef.from_dict(models["champion"]),
            get_current_context()["run_id"],
            challenger,
        ).as_dict()

    @task
    def publish_predictions(models: dict, shards: list[dict]) -> dict:
        """All shards, or none: the day is published in one step, then staging is cleared."""
        from pipelines.config import load_params
        from pipelines.registry import ModelVersionRef
        from pipelines.scoring.publish import publish_day
        from pipelines.scoring.shards import ShardResult

        challenger = (
            ModelVersionRef.from_dict(models["challenger"]) if models["challenger"] else None
        )
        result = publish_day(
            load_params(),
            target_day(),
            [ShardResult(**shard) for shard in shards],
            ModelVersionRef.from_dict(models["champion"]),
            challenger,
        )
        return result.__dict__

    models = resolve_models()
    shards = plan_shards()
    wait_for_flights >> [models, shards]
    scored = score_shard.partial(models=models).expand(shard=shards)
    publish_predictions(models, scored)


batch_scoring()
