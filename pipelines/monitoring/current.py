"""The day being monitored, bounded in memory: a deterministic sample of its scored flights.

A day above `monitoring.current_sample_rows` is sampled by a hash of the flight id (the same
flights every run, whatever the record batches), streamed from the predictions and the
validated partition; the sample's features are rebuilt with the training feature code and
the whole day's schedule counts, exactly as scoring built them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from pipelines.config import Params
from pipelines.scoring.paths import manifest_uri
from pipelines.scoring.publish import iter_parts, part_uris, published_manifest
from pipelines.scoring.shards import day_features, sampled

SCORE_READ = ["flight_id", "late_probability", "predicted_late"]
VERSION_READ = ["model_version", "model_run_id", "model_data_version"]


class PredictionsMissing(LookupError):
    """Day D has no published predictions: scoring has not run (or failed) for it."""


def sample_fraction(rows: int, cap: int) -> float:
    return 1.0 if rows <= cap else cap / rows


@dataclass(frozen=True)
class ScoredDay:
    """A day's sampled predictions and who scored them."""

    day: date
    rows: int  # all scored rows of the day
    fraction: float
    predictions: pd.DataFrame  # flight_id, late_probability (the sample)
    model_version: str | None
    model_run_id: str | None
    model_data_version: str | None


def scored_day(params: Params, day: date, batch_rows: int = 500_000) -> ScoredDay:
    manifest = published_manifest(params, day)
    if manifest is None:
        raise PredictionsMissing(
            f"no published predictions for {day} at {manifest_uri(params, day)}: run batch "
            f"scoring for that day first (runbooks/batch-scoring.md)"
        )
    rows = manifest.rows
    parts = part_uris(params, day, manifest)  # one manifest: rows, version and scores agree
    fraction = sample_fraction(rows, params.monitoring.current_sample_rows)
    version: tuple[str | None, ...] = (None, None, None)
    for first in iter_parts(parts, 1, VERSION_READ):  # one version scores a day
        version = tuple(str(first.iloc[0][c]) for c in VERSION_READ)
        break
    parts = [
        part.loc[sampled(part["flight_id"], fraction)]
        for part in iter_parts(parts, batch_rows, SCORE_READ)
    ]
    predictions = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(
            {
                "flight_id": pd.Series(dtype=object),
                "late_probability": pd.Series(dtype=float),
                "predicted_late": pd.Series(dtype=bool),
            }
        )
    )
    return ScoredDay(day, rows, fraction, predictions, *version)


def scored_features(params: Params, scored: ScoredDay, batch_rows: int = 500_000) -> pd.DataFrame:
    """The sampled flights' features (training code) with the score they got."""
    features = day_features(
        params, scored.day, lambda ids: sampled(ids, scored.fraction), batch_rows
    )
    return features.merge(scored.predictions, on="flight_id", how="inner", validate="one_to_one")
