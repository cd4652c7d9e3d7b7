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

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from features.build import (
    FLIGHT_INPUT_COLUMNS,
    SCHEDULE_COUNT_COLUMNS,
    build_features,
    day_schedule_counts,
    model_inputs,
)
from features.schedule import ScheduleCounts
from pipelines.config import Params
from pipelines.data import landing
from pipelines.data.versioning import git_revision
from pipelines.gate.quarantine import gate_landed_batch
from pipelines.promotion.aliases import CHAMPION
from pipelines.storage import (
    exists,
    iter_parquet,
    iter_parquet_rows,
    join_uri,
    parquet_row_count,
    parquet_sink,
    read_parquet,
    remove_stale_temporaries,
    remove_tree,
    row_ranges,
    write_parquet,
    write_text,
)

PREDICTION_COLUMNS = (
    "flight_id",
    "flight_date",
    "late_probability",
    "predicted_late",
    "model_version",
    "model_run_id",
    "model_data_version",
    "feature_code_version",
    "scoring_run_id",
)
PREDICTION_SCHEMA = pa.schema(
    [
        ("flight_id", pa.string()),
        ("flight_date", pa.string()),
        ("late_probability", pa.float64()),
        ("predicted_late", pa.bool_()),
        *((column, pa.string()) for column in PREDICTION_COLUMNS[4:]),
    ]
)
#: Columns with few distinct values per file; flight ids and scores are stored plain.
DICTIONARY_COLUMNS = ["flight_date", *PREDICTION_COLUMNS[4:]]


@dataclass(frozen=True)
class PinnedModel:
    """A registry alias resolved once: everything a prediction row must say about its model."""

    name: str
    alias: str
    version: str
    run_id: str
    data_version: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class ModelUnavailable(RuntimeError):
    """The registry or the model's artifacts cannot be reached: nothing is written."""


def resolve_alias(params: Params, alias: str = CHAMPION) -> PinnedModel | None:
    """Resolve `alias` to a version now; None if the alias is not set."""
    from mlflow.exceptions import MlflowException

    from mlflow import MlflowClient
    from pipelines.training.tracking import use_tracking_server

    uri = use_tracking_server(params.mlflow)
    client = MlflowClient()
    name = params.mlflow.registered_model
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if "not found" in str(error).lower() or "RESOURCE_DOES_NOT_EXIST" in str(error):
            return None
        raise ModelUnavailable(f"cannot resolve {name}@{alias} at {uri}: {error}") from error
    except Exception as error:  # connection refused, timeouts
        raise ModelUnavailable(f"cannot reach the MLflow registry at {uri}: {error}") from error
    return PinnedModel(
        name=name,
        alias=alias,
        version=str(version.version),
        run_id=str(version.run_id),
        data_version=str(version.tags.get("data.dvc_md5", "unknown")),
    )


@functools.lru_cache(maxsize=4)
def load_pinned(pinned: PinnedModel) -> Any:
    """The model of a pinned version (cached: a version's artifacts never change)."""
    import mlflow

    try:
        return mlflow.sklearn.load_model(pinned.uri)
    except Exception as error:
        raise ModelUnavailable(
            f"cannot load {pinned.uri} ({pinned.alias}, run {pinned.run_id}): {error}"
        ) from error


def prediction_rows(
    features: pd.DataFrame,
    probability: np.ndarray,
    pinned: PinnedModel,
    threshold: float,
    feature_code_version: str,
    scoring_run_id: str,
) -> pa.Table:
    """One row per flight, in the landed order (deterministic: a re-run writes the same file).

    Built in Arrow: a column that says the same thing on every row (model version, run ids)
    is one value repeated by Arrow, not a million Python strings converted one by one."""
    rows = len(features)

    def same_on_every_row(value: str) -> pa.Array:
        return pa.repeat(pa.scalar(value, pa.string()), rows)

    return pa.Table.from_arrays(
        [
            pa.array(features["flight_id"].to_numpy(), pa.string()),
            pa.array(features["flight_date"].to_numpy(), pa.string()),
            pa.array(probability, pa.float64()),
            pa.array(probability >= threshold, pa.bool_()),
            same_on_every_row(pinned.version),
            same_on_every_row(pinned.run_id),
            same_on_every_row(pinned.data_version),
            same_on_every_row(feature_code_version),
            same_on_every_row(scoring_run_id),
        ],
        schema=PREDICTION_SCHEMA,
    )


def _output_root(params: Params, folder: str) -> str:
    return join_uri(params.workspace_path(params.scoring.output_root), folder)


def predictions_uri(params: Params, day: date, folder: str = "predictions") -> str:
    return join_uri(_output_root(params, folder), f"date={day.isoformat()}", "part-0.parquet")


def staging_uri(params: Params, day: date, folder: str = "predictions") -> str:
    """Where a day's shards wait to be published: `_` keeps them out of dataset readers."""
    return join_uri(_output_root(params, folder), "_staging", f"date={day.isoformat()}")


def _safe(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)


@dataclass(frozen=True)
class Shard:
    """Rows [start, stop) of a day's landed file: the unit one worker scores."""

    day: str
    index: int
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Shard:
        return cls(raw["day"], int(raw["index"]), int(raw["start"]), int(raw["stop"]))


def landed_flights_uri(params: Params, day: date) -> str:
    return landing.partition_uri(params.landing_root, "flights", day)


def schedule_counts_uri(params: Params, day: date) -> str:
    return join_uri(staging_uri(params, day), "schedule_counts.parquet")


def count_day_schedule(params: Params, day: date) -> ScheduleCounts:
    """The day's schedule counts from a streaming pass over four columns of its file."""
    uri = landed_flights_uri(params, day)
    counts: ScheduleCounts | None = None
    # Four columns only: shard-sized parts (fewer partial counts to add) fit where a shard does.
    for part in iter_parquet(uri, params.scoring.shard_rows, columns=list(SCHEDULE_COUNT_COLUMNS)):
        part_counts = day_schedule_counts(part)
        counts = part_counts if counts is None else counts.plus(part_counts)
    if counts is None:
        counts = day_schedule_counts(pd.DataFrame(columns=list(SCHEDULE_COUNT_COLUMNS)))
    return counts


def plan_shards(params: Params, day: date) -> list[Shard]:
    """Split the day into shards of at most `scoring.shard_rows` rows, and stage the day's
    schedule counts once for all of them (a shard sees only its own rows).

    Stale shards of an interrupted run for this day are cleared first; scoring runs one at a
    time per day (the DAG has `max_active_runs=1`)."""
    for folder in ("predictions", "shadow"):
        remove_tree(staging_uri(params, day, folder))
    write_parquet(count_day_schedule(params, day).to_frame(), schedule_counts_uri(params, day))
    rows = parquet_row_count(landed_flights_uri(params, day))
    return [
        Shard(day.isoformat(), i, start, stop)
        for i, (start, stop) in enumerate(row_ranges(rows, params.scoring.shard_rows))
    ]


@dataclass(frozen=True)
class DayContext:
    """What every record batch of a day needs besides its own rows (read once per shard)."""

    weather: pd.DataFrame
    planes: pd.DataFrame
    schedule_counts: ScheduleCounts
    feature_code_version: str


def day_context(params: Params, day: date) -> DayContext:
    """Reference tables, and the schedule counts `plan_shards` staged for the day."""
    return DayContext(
        weather=landing.read_reference(params.landing_root, "weather"),
        planes=landing.read_reference(params.landing_root, "planes"),
        schedule_counts=ScheduleCounts.from_frame(read_parquet(schedule_counts_uri(params, day))),
        feature_code_version=git_revision(Path(__file__).resolve().parents[1]).git_rev,
    )


@dataclass
class AgreementSums:
    """Sums over rows from which the shadow's agreement with the champion is computed, so
    shards can be combined without holding both models' scores for the whole day."""

    rows: int = 0
    same_decision: int = 0
    abs_difference: float = 0.0
    sx: float = 0.0
    sy: float = 0.0
    sxx: float = 0.0
    syy: float = 0.0
    sxy: float = 0.0

    def add(self, champion: np.ndarray, challenger: np.ndarray, threshold: float) -> None:
        """Both models' probabilities for the same rows."""
        x, y = champion.astype("float64"), challenger.astype("float64")
        self.rows += len(x)
        self.same_decision += int(((x >= threshold) == (y >= threshold)).sum())
        self.abs_difference += float(np.abs(x - y).sum())
        self.sx += float(x.sum())
        self.sy += float(y.sum())
        self.sxx += float((x * x).sum())
        self.syy += float((y * y).sum())
        self.sxy += float((x * y).sum())

    def plus(self, other: AgreementSums) -> AgreementSums:
        return AgreementSums(**{k: getattr(self, k) + getattr(other, k) for k in asdict(self)})

    def summary(self) -> dict[str, float]:
        if self.rows == 0:
            return {"rows": 0.0}
        n = self.rows
        covariance = self.sxy - self.sx * self.sy / n
        spread = (self.sxx - self.sx**2 / n) * (self.syy - self.sy**2 / n)
        return {
            "rows": float(n),
            "decision_agreement": self.same_decision / n,
            "probability_correlation": float(covariance / np.sqrt(spread)) if spread > 0 else 1.0,
            "mean_absolute_difference": self.abs_difference / n,
        }


@dataclass(frozen=True)
class ShardResult:
    index: int
    rows: int
    predictions_uri: str
    shadow_uri: str | None
    agreement: dict[str, Any] = field(default_factory=dict)  # AgreementSums, summed later

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScoringModel:
    """A pinned version and its loaded model."""

    pinned: PinnedModel
    model: Any


def score_batches(
    batches: Iterable[pd.DataFrame],
    context: DayContext,
    params: Params,
    champion: ScoringModel,
    scoring_run_id: str,
    champion_uri: str,
    challenger: ScoringModel | None = None,
    shadow_uri: str | None = None,
) -> tuple[int, AgreementSums | None]:
    """Features (training code) → `predict_proba` → rows, one record batch at a time, into
    one parquet file per model, each published when the last batch is written."""
    threshold = params.scoring.threshold
    code = context.feature_code_version
    models = [(champion, champion_uri)]
    if challenger is not None and shadow_uri:
        models.append((challenger, shadow_uri))
    agreement = AgreementSums() if len(models) == 2 else None
    with ExitStack() as outputs:  # both files are published only if every batch succeeded
        sinks = [
            (model, outputs.enter_context(parquet_sink(uri, PREDICTION_SCHEMA, DICTIONARY_COLUMNS)))
            for model, uri in models
        ]
        for flights in batches:
            features = build_features(
                flights, context.weather, context.planes, params.features, context.schedule_counts
            )
            inputs = model_inputs(features, params.features)
            probabilities = []
            for model, sink in sinks:
                probability = model.model.predict_proba(inputs)[:, 1]
                rows = prediction_rows(
                    features, probability, model.pinned, threshold, code, scoring_run_id
                )
                sink.write_table(rows)
                probabilities.append(probability)
            if agreement is not None:
                agreement.add(probabilities[0], probabilities[1], threshold)
    return sinks[0][1].rows, agreement


def _shadow_of(champion: PinnedModel, challenger: PinnedModel | None) -> PinnedModel | None:
    """The challenger scores in shadow only when it is another version than the champion."""
    return challenger if challenger is not None and challenger.version != champion.version else None


def score_shard(
    params: Params,
    shard: Shard,
    champion: PinnedModel,
    scoring_run_id: str,
    challenger: PinnedModel | None = None,
) -> ShardResult:
    """Score one shard with the pinned model(s) into the day's staging folder."""
    day = date.fromisoformat(shard.day)
    shadow = _shadow_of(champion, challenger)
    champion_model = ScoringModel(champion, load_pinned(champion))
    challenger_model = ScoringModel(shadow, load_pinned(shadow)) if shadow else None
    name = f"{_safe(scoring_run_id)}-shard-{shard.index:05d}.parquet"
    champion_uri = join_uri(staging_uri(params, day), name)
    shadow_uri = join_uri(staging_uri(params, day, "shadow"), name) if shadow else None
    batches = iter_parquet_rows(
        landed_flights_uri(params, day),
        shard.start,
        shard.stop,
        params.scoring.batch_rows,
        columns=list(FLIGHT_INPUT_COLUMNS),
    )
    rows, agreement = score_batches(
        batches,
        day_context(params, day),
        params,
        champion_model,
        scoring_run_id,
        champion_uri,
        challenger_model,
        shadow_uri,
    )
    return ShardResult(
        shard.index, rows, champion_uri, shadow_uri, asdict(agreement) if agreement else {}
    )


@dataclass(frozen=True)
class ScoringResult:
    day: str
    rows: int
    shards: int
    predictions_uri: str
    model: dict[str, str]
    shadow_uri: str | None
    shadow_agreement: dict[str, float] | None
    gate_status: str


def _publish(params: Params, shard_uris: list[str], target: str) -> int:
    """Concatenate the shards into `target` in one atomic publish; returns the rows."""
    remove_stale_temporaries(target.rsplit("/", 1)[0])
    with parquet_sink(target, PREDICTION_SCHEMA, DICTIONARY_COLUMNS) as sink:
        for uri in shard_uris:
            sink.write_file(uri, params.scoring.batch_rows)
    return sink.rows


def publish_day(
    params: Params,
    day: date,
    shards: list[ShardResult],
    champion: PinnedModel,
    challenger: PinnedModel | None = None,
    gate_status: str = "gated upstream",
) -> ScoringResult:
    """Publish the shards as the day's predictions (and shadow), then clear the staging."""
    ordered = sorted(shards, key=lambda s: s.index)
    target = predictions_uri(params, day)
    rows = _publish(params, [s.predictions_uri for s in ordered], target)
    shadow = _shadow_of(champion, challenger)
    shadow_target = agreement = None
    if shadow is not None:
        shadow_target = predictions_uri(params, day, "shadow")
        _publish(params, [str(s.shadow_uri) for s in ordered], shadow_target)
        sums = AgreementSums()
        for shard in ordered:
            sums = sums.plus(AgreementSums(**shard.agreement))
        agreement = sums.summary()
        write_text(
            json.dumps(
                {"champion": champion.as_dict(), "challenger": shadow.as_dict(), **agreement},
                indent=2,
            ),
            shadow_target.rsplit("/", 1)[0] + "/agreement.json",
        )
    for folder in ("predictions", "shadow"):
        remove_tree(staging_uri(params, day, folder))
    return ScoringResult(
        day=day.isoformat(),
        rows=rows,
        shards=len(ordered),
        predictions_uri=target,
        model=champion.as_dict(),
        shadow_uri=shadow_target,
        shadow_agreement=agreement,
        gate_status=gate_status,
    )


#: What a re-run must reproduce: every column but the scoring run id (each run has its own).
SCORED_CONTENT_COLUMNS = [column for column in PREDICTION_COLUMNS if column != "scoring_run_id"]


@dataclass(frozen=True)
class PublishedDay:
    """A published day in brief: re-scoring it must leave `content_sha256` as it was."""

    day: str
    rows: int
    model_versions: tuple[str, ...]
    content_sha256: str
    scoring_run_ids: tuple[str, ...]


def content_digest(predictions: pd.DataFrame) -> str:
    """sha256 over the scored content, row by row in file order (scores compared bit for bit)."""
    row_hashes = pd.util.hash_pandas_object(predictions.loc[:, SCORED_CONTENT_COLUMNS], index=False)
    return hashlib.sha256(row_hashes.to_numpy().tobytes()).hexdigest()


def published_day(params: Params, day: date, folder: str = "predictions") -> PublishedDay | None:
    """The day's published file in brief, or None if the day has not been published."""
    uri = predictions_uri(params, day, folder)
    if not exists(uri):
        return None
    predictions = read_parquet(uri)
    return PublishedDay(
        day=day.isoformat(),
        rows=len(predictions),
        model_versions=tuple(sorted(predictions["model_version"].unique())),
        content_sha256=content_digest(predictions),
        scoring_run_ids=tuple(sorted(predictions["scoring_run_id"].unique())),
    )


def _score_shard_in_worker(
    params: Params,
    shard: Shard,
    champion: PinnedModel,
    scoring_run_id: str,
    challenger: PinnedModel | None,
    threads: int,
) -> ShardResult:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):  # workers × threads = cores: no oversubscription
        return score_shard(params, shard, champion, scoring_run_id, challenger)


def _process_pool(workers: int) -> ProcessPoolExecutor:
    """Forked where the platform can (workers inherit loaded models), else spawned."""
    import multiprocessing

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))


def score_shards(
    params: Params,
    shards: list[Shard],
    champion: PinnedModel,
    scoring_run_id: str,
    challenger: PinnedModel | None = None,
) -> list[ShardResult]:
    """Every shard, `scoring.workers` at a time in forked processes (one after the other if 1).

    The DAG maps one task per shard instead; this is the same work for `mlops score`."""
    workers = min(params.scoring.workers, len(shards))
    if workers <= 1:
        return [score_shard(params, s, champion, scoring_run_id, challenger) for s in shards]
    import os

    threads = max(1, (os.cpu_count() or 1) // workers)
    with _process_pool(workers) as pool:
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
    champion: PinnedModel,
    scoring_run_id: str,
    challenger: PinnedModel | None = None,
    gate: Callable[[Params, date], str] | None = gate_scheduled_flights,
    step_seconds: dict[str, float] | None = None,
) -> ScoringResult:
    """Gate, then the shards, then publish: the DAG's steps, in one command.

    `gate=None` when the caller ran the gate as its own step (the DAG's `gate_flights`).
    `step_seconds`, if given, receives each step's wall time (the benchmark reads it)."""
    timer = _StepTimer(step_seconds if step_seconds is not None else {})
    gate_status = gate(params, day) if gate is not None else "gated upstream"
    timer.done("gate")
    shadow = _shadow_of(champion, challenger)
    with _process_pool(1) as planner:  # the day's counts are taken while the models load
        planning = planner.submit(plan_shards, params, day)
        load_pinned(champion)  # fail before any shard is written if the model cannot be loaded
        if shadow is not None:
            load_pinned(shadow)  # loaded before forking: workers inherit the cache
        timer.done("model_load")
        shards = planning.result()
        timer.done("plan_and_counts")  # what was left of it once the models were loaded
    results = score_shards(params, shards, champion, scoring_run_id, challenger)
    timer.done("shards")
    published = publish_day(params, day, results, champion, challenger, gate_status)
    timer.done("publish")
    return published


class _StepTimer:
    """Wall seconds since the previous step, recorded under each step's name."""

    def __init__(self, seconds: dict[str, float]):
        import time

        self._clock = time.perf_counter
        self._mark = self._clock()
        self.seconds = seconds

    def done(self, step: str) -> None:
        now = self._clock()
        self.seconds[f"{step}_seconds"] = round(now - self._mark, 2)
        self._mark = now
