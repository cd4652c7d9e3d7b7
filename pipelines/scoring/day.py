"""Nightly batch scoring of one day with one pinned model.

* The run resolves `models:/<name>@champion` to a concrete version once, at its start, and
  uses only that version; the version is written on every output row.
* The landed batch passes the same Great Expectations gate as training; a rejected batch
  raises before anything is written, so existing predictions stay as they were.
* Features come from `features.build` (the training code, unchanged); the day's schedule
  counts are taken over the whole day first, so a record batch sees what training sees.
* A day is split into shards of row ranges (`scoring.shard_rows`); each shard streams in
  record batches of `scoring.batch_rows`, so memory does not grow with the day.
  The batch_scoring DAG maps one task per shard (dynamic task mapping); `score_day` runs them
  one after the other.
* Shards are written under `_staging/` (hidden from dataset readers), then the day is
  published in one step (one file, written under a hidden name, then renamed): a reader never
  sees half a day, and re-running a date replaces it with identical rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pipelines.config import Params
from pipelines.gate.quarantine import gate_landed_batch
from pipelines.parallel import process_pool
from pipelines.registry import ModelVersionRef, load_model
from pipelines.scoring.publish import ScoringResult, publish_day
from pipelines.scoring.shadow import shadow_of
from pipelines.scoring.shards import Shard, ShardResult, plan_shards, score_shard


def _score_shard_in_worker(
    params: Params,
    shard: Shard,
    champion: ModelVersionRef,
    scoring_run_id: str,
    challenger: ModelVersionRef | None,
    threads: int,
) -> ShardResult:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):  # workers × threads = cores: no oversubscription
        return score_shard(params, shard, champion, scoring_run_id, challenger)


def score_shards(
    params: Params,
    shards: list[Shard],
    champion: ModelVersionRef,
    scoring_run_id: str,
    challenger: ModelVersionRef | None = None,
) -> list[ShardResult]:
    """Every shard, `scoring.workers` at a time in forked processes (one after the other if 1).

    The DAG maps one task per shard instead; this is the same work for `mlops score`."""
    workers = min(params.scoring.workers, len(shards))
    if workers <= 1:
        return [score_shard(params, s, champion, scoring_run_id, challenger) for s in shards]
    import os

    threads = max(1, (os.cpu_count() or 1) // workers)
    with process_pool(workers) as pool:
        futures = [
            pool.submit(
                _score_shard_in_worker,
                params,
                shard,
                champion,
                scoring_run_id,
                challenger,
                threads,
            )
            for shard in shards
        ]
        return [future.result() for future in futures]


def gate_scheduled_flights(params: Params, day: date) -> str:
    """The scheduled-flights gate on the landed day (raises `DataGateError` if it is held)."""
    return gate_landed_batch(params, "scheduled_flights", day).status


def score_day(
    params: Params,
    day: date,
    champion: ModelVersionRef,
    scoring_run_id: str,
    challenger: ModelVersionRef | None = None,
    gate: Callable[[Params, date], str] | None = gate_scheduled_flights,
    on_step: Callable[[str], None] | None = None,
) -> ScoringResult:
    """Gate, then the shards, then publish: the DAG's steps, in one command.

    `gate=None` when the caller ran the gate as its own step (the DAG's `gate_flights`).
    `on_step(name)`, if given, is called as each step ends (the benchmark times them)."""
    done = on_step or (lambda step: None)
    gate_status = gate(params, day) if gate is not None else "gated upstream"
    done("gate")
    shadow = shadow_of(champion, challenger)
    with process_pool(1) as planner:  # the day's counts are taken while the models load
        planning = planner.submit(plan_shards, params, day)
        load_model(
            params.mlflow, champion
        )  # fail before any shard is written if the model cannot be loaded
        if shadow is not None:
            load_model(params.mlflow, shadow)  # loaded before forking: workers inherit the cache
        done("model_load")
        shards = planning.result()
        done("plan_and_counts")  # what was left of it once the models were loaded
    results = score_shards(params, shards, champion, scoring_run_id, challenger)
    done("shards")
    published = publish_day(params, day, results, champion, challenger, gate_status)
    done("publish")
    return published
