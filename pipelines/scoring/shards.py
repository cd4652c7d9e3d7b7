"""A day split into shards (row ranges), each streamed in record batches through the
training feature code and the pinned model(s) into the day's staging folder."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
from pipelines.data.landing import validated_uri
from pipelines.data.versioning import git_revision
from pipelines.registry import ModelVersionRef, load_model
from pipelines.run_cost import measured
from pipelines.scoring.paths import safe_name, schedule_counts_uri, staging_uri
from pipelines.scoring.rows import (
    DICTIONARY_COLUMNS,
    PREDICTION_SCHEMA,
    decision_threshold,
    prediction_rows,
)
from pipelines.scoring.shadow import AgreementSums, shadow_of
from pipelines.storage import (
    iter_parquet,
    iter_parquet_rows,
    join_uri,
    parquet_row_count,
    parquet_sink,
    read_parquet,
    remove_tree,
    row_ranges,
    write_parquet,
)


@dataclass(frozen=True)
class Shard:
    """Rows [start, stop) of a day's landed file: the unit one worker scores."""

    day: str
    index: int
    start: int
    stop: int
    plan: str = ""  # one token per plan: a retried shard keeps it, a re-planned day gets a new one

    @property
    def rows(self) -> int:
        return self.stop - self.start

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Shard:
        return cls(
            raw["day"], int(raw["index"]), int(raw["start"]), int(raw["stop"]), raw.get("plan", "")
        )


def validated_flights_uri(params: Params, day: date) -> str:
    """Scoring reads the day's validated partition, never the landing zone directly."""
    return validated_uri(params, "flights", day)


def count_day_schedule(params: Params, day: date) -> ScheduleCounts:
    """The day's schedule counts from a streaming pass over four columns of its file."""
    uri = validated_flights_uri(params, day)
    counts: ScheduleCounts | None = None
    # Four columns only: shard-sized parts (fewer partial counts to add) fit where a shard does.
    for part in iter_parquet(uri, params.scoring.shard_rows, columns=list(SCHEDULE_COUNT_COLUMNS)):
        part_counts = day_schedule_counts(part)
        counts = part_counts if counts is None else counts.plus(part_counts)
    if counts is None:
        counts = day_schedule_counts(pd.DataFrame(columns=list(SCHEDULE_COUNT_COLUMNS)))
    return counts


def sampled(flight_id: pd.Series, fraction: float) -> np.ndarray:
    """Rows kept at `fraction`, decided by the flight id alone (deterministic, batch-free):
    monitoring's sample of a day, and `mlops explain`'s background."""
    if fraction >= 1.0:
        return np.ones(len(flight_id), dtype=bool)
    hashed = pd.util.hash_pandas_object(flight_id, index=False).to_numpy()
    return hashed < np.uint64(fraction * float(2**64 - 1))


def day_features(
    params: Params,
    day: date,
    keep: Callable[[pd.Series], np.ndarray],
    batch_rows: int = 500_000,
) -> pd.DataFrame:
    """The features (training code, the whole day's schedule counts) of D's validated flights
    whose ids `keep` selects, built now: what scoring would build from the store as it is
    (monitoring's sample, `mlops explain`'s flight)."""
    flights = [
        part[keep(part["flight_id"])]
        for part in iter_parquet(
            validated_flights_uri(params, day), batch_rows, columns=list(FLIGHT_INPUT_COLUMNS)
        )
    ]
    return build_features(
        pd.concat(flights, ignore_index=True),
        landing.read_reference(params.landing_root, "weather"),
        params.features,
        count_day_schedule(params, day),
    )


def plan_shards(params: Params, day: date) -> list[Shard]:
    """Split the day into shards of at most `scoring.shard_rows` rows, and stage the day's
    schedule counts once for all of them (a shard sees only its own rows).

    Stale shards of an interrupted run for this day are cleared first; scoring runs one at a
    time per day (the DAG has `max_active_runs=1`)."""
    for folder in ("predictions", "shadow", SERVED_FEATURES):
        remove_tree(staging_uri(params, day, folder))
    write_parquet(count_day_schedule(params, day).to_frame(), schedule_counts_uri(params, day))
    rows = parquet_row_count(validated_flights_uri(params, day))
    plan = uuid.uuid4().hex[:12]
    return [
        Shard(day.isoformat(), i, start, stop, plan)
        for i, (start, stop) in enumerate(row_ranges(rows, params.scoring.shard_rows))
    ]


@dataclass(frozen=True)
class DayContext:
    """What every record batch of a day needs besides its own rows (read once per shard)."""

    weather: pd.DataFrame
    schedule_counts: ScheduleCounts
    feature_code_version: str


def day_context(params: Params, day: date) -> DayContext:
    """Reference tables, and the schedule counts `plan_shards` staged for the day."""
    return DayContext(
        weather=landing.read_reference(params.landing_root, "weather"),
        schedule_counts=ScheduleCounts.from_frame(read_parquet(schedule_counts_uri(params, day))),
        feature_code_version=git_revision(Path(__file__).resolve().parents[1]).git_rev,
    )


@dataclass(frozen=True)
class ShardResult:
    index: int
    rows: int
    predictions_uri: str
    shadow_uri: str | None
    agreement: dict[str, Any] = field(default_factory=dict)  # AgreementSums, summed later
    served_features_uri: str | None = None  # the shard's sampled served features, if any
    served_features_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScoringModel:
    """A pinned version and its loaded model."""

    pinned: ModelVersionRef
    model: Any


#: Folder of the served-features sample beside `predictions` and `shadow`
SERVED_FEATURES = "served_features"


def sampled_positions(first_row: int, rows: int, every: int) -> np.ndarray:
    """The positions (within a batch starting at the day's row `first_row`) of the day's rows
    0, every, 2*every, ...: the same rows whatever the shards and batches (0: none)."""
    if every < 1 or rows < 1:
        return np.empty(0, dtype=np.int64)
    offset = (-first_row) % every
    return np.arange(offset, rows, every, dtype=np.int64)


def sample_served_features(
    features: pd.DataFrame,
    positions: np.ndarray,
    probability: np.ndarray,
    pinned: ModelVersionRef,
    scoring_run_id: str,
    params: Params,
) -> pd.DataFrame:
    """The sampled flights as the served log keeps them: the model inputs the batch scored
    them on, the version that answered, the probability and the run (`request_id`)."""
    inputs = model_inputs(features.iloc[positions], params.features).reset_index(drop=True)
    served = pd.DataFrame(
        {
            "request_id": scoring_run_id,
            "flight_id": features["flight_id"].to_numpy()[positions],
            "flight_date": features["flight_date"].to_numpy()[positions],
            "served_by": "batch",
            "model_version": pinned.version,
            "late_probability": probability[positions],
        }
    )
    return pd.concat([served, inputs], axis=1)


def score_batches(
    batches: Iterable[pd.DataFrame],
    context: DayContext,
    params: Params,
    champion: ScoringModel,
    scoring_run_id: str,
    champion_uri: str,
    challenger: ScoringModel | None = None,
    shadow_uri: str | None = None,
    first_row: int = 0,
) -> tuple[int, AgreementSums | None, pd.DataFrame | None]:
    """Features (training code) → `predict_proba` → rows, one record batch at a time, into
    one parquet file per model, each published when the last batch is written.

    Also returns the champion's served features of every `scoring.served_features_every`-th
    row of the day (`first_row` is this shard's first), or None if no row of it is sampled."""
    code = context.feature_code_version
    every = params.scoring.served_features_every
    sampled: list[pd.DataFrame] = []
    position = first_row
    models = [(champion, champion_uri)]
    if challenger is not None and shadow_uri:
        models.append((challenger, shadow_uri))
    cost = params.train.calibration.missed_delay_cost
    thresholds = [decision_threshold(model.pinned, cost) for model, _ in models]
    agreement = AgreementSums() if len(models) == 2 else None
    with ExitStack() as outputs:  # both files are published only if every batch succeeded
        sinks = [
            (model, outputs.enter_context(parquet_sink(uri, PREDICTION_SCHEMA, DICTIONARY_COLUMNS)))
            for model, uri in models
        ]
        for flights in batches:
            features = build_features(
                flights, context.weather, params.features, context.schedule_counts
            )
            inputs = model_inputs(features, params.features)
            probabilities = []
            for (model, sink), threshold in zip(sinks, thresholds, strict=True):
                probability = model.model.predict_proba(inputs)[:, 1]
                rows = prediction_rows(
                    features, probability, model.pinned, threshold, code, scoring_run_id
                )
                sink.write_table(rows)
                probabilities.append(probability)
            if agreement is not None:
                agreement.add(*probabilities, *thresholds)
            positions = sampled_positions(position, len(features), every)
            if len(positions):
                sampled.append(
                    sample_served_features(
                        features,
                        positions,
                        probabilities[0],
                        champion.pinned,
                        scoring_run_id,
                        params,
                    )
                )
            position += len(features)
    served = pd.concat(sampled, ignore_index=True) if sampled else None
    return sinks[0][1].rows, agreement, served


def shard_file_name(scoring_run_id: str, shard: Shard) -> str:
    """The run id and the plan's token: a re-run of the same Airflow run (same run id) never
    writes over the parts the published manifest names; a retry of the shard writes the same."""
    plan = f"-{shard.plan}" if shard.plan else ""
    return f"{safe_name(scoring_run_id)}{plan}-shard-{shard.index:05d}.parquet"


def score_shard(
    params: Params,
    shard: Shard,
    champion: ModelVersionRef,
    scoring_run_id: str,
    challenger: ModelVersionRef | None = None,
) -> ShardResult:
    """Score one shard with the pinned model(s) into the day's staging folder (its cost in
    the ledger as part `shard-<index>`)."""
    day = date.fromisoformat(shard.day)
    with measured(params, "scoring", day, f"shard-{shard.index}") as meter:
        result = _score_shard(params, shard, day, champion, scoring_run_id, challenger)
        meter.wrote(result.predictions_uri, result.shadow_uri, result.served_features_uri)
    return result


def _score_shard(
    params: Params,
    shard: Shard,
    day: date,
    champion: ModelVersionRef,
    scoring_run_id: str,
    challenger: ModelVersionRef | None,
) -> ShardResult:
    shadow = shadow_of(champion, challenger)
    champion_model = ScoringModel(champion, load_model(params.mlflow, champion))
    challenger_model = ScoringModel(shadow, load_model(params.mlflow, shadow)) if shadow else None
    name = shard_file_name(scoring_run_id, shard)
    champion_uri = join_uri(staging_uri(params, day), name)
    shadow_uri = join_uri(staging_uri(params, day, "shadow"), name) if shadow else None
    batches = iter_parquet_rows(
        validated_flights_uri(params, day),
        shard.start,
        shard.stop,
        params.scoring.batch_rows,
        columns=list(FLIGHT_INPUT_COLUMNS),
    )
    rows, agreement, served = score_batches(
        batches,
        day_context(params, day),
        params,
        champion_model,
        scoring_run_id,
        champion_uri,
        challenger_model,
        shadow_uri,
        shard.start,
    )
    served_uri = None
    if served is not None:
        staged = join_uri(staging_uri(params, day, SERVED_FEATURES), name)
        served_uri = write_parquet(served, staged)
    return ShardResult(
        shard.index,
        rows,
        champion_uri,
        shadow_uri,
        asdict(agreement) if agreement else {},
        served_uri,
        0 if served is None else len(served),
    )
