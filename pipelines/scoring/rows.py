"""Prediction rows: their schema, how they are built, and the digest a re-run must keep."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa

from pipelines.registry import ModelVersionRef
from pipelines.training.calibration import bayes_threshold

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


class InvalidScores(ValueError):
    """The model returned a probability that is not finite or not in [0, 1]: the day is not
    published (scoring writes all of a day or none of it)."""


def check_probabilities(flight_id: np.ndarray, probability: np.ndarray) -> None:
    """Raise `InvalidScores` naming the offending rows (a numerical guard at serving)."""
    invalid = ~np.isfinite(probability) | (probability < 0.0) | (probability > 1.0)
    if invalid.any():
        shown = ", ".join(
            f"{key}={value!r}"
            for key, value in zip(flight_id[invalid][:5], probability[invalid][:5], strict=True)
        )
        raise InvalidScores(
            f"{int(invalid.sum())} of {len(probability)} rows have a late probability that is "
            f"not finite or outside [0, 1] ({shown}); nothing was published for the day"
        )


def decision_threshold(pinned: ModelVersionRef, missed_delay_cost: float) -> float:
    """The version's own threshold (chosen on its calibration days); a version registered
    before thresholds were learned gets the cost-optimal one for a calibrated probability."""
    if pinned.decision_threshold is not None:
        return pinned.decision_threshold
    return bayes_threshold(missed_delay_cost)


def prediction_rows(
    features: pd.DataFrame,
    probability: np.ndarray,
    pinned: ModelVersionRef,
    threshold: float,
    feature_code_version: str,
    scoring_run_id: str,
) -> pa.Table:
    """One row per flight, in the landed order (deterministic: a re-run writes the same file).

    Built in Arrow: a column that says the same thing on every row (model version, run ids)
    is one value repeated by Arrow, not a million Python strings converted one by one."""
    check_probabilities(features["flight_id"].to_numpy(), probability)
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


#: What a re-run must reproduce: every column but the scoring run id (each run has its own).
SCORED_CONTENT_COLUMNS = [column for column in PREDICTION_COLUMNS if column != "scoring_run_id"]


def content_digest(predictions: pd.DataFrame) -> str:
    """sha256 over the scored content, row by row in file order (scores compared bit for bit)."""
    row_hashes = pd.util.hash_pandas_object(predictions.loc[:, SCORED_CONTENT_COLUMNS], index=False)
    return hashlib.sha256(row_hashes.to_numpy().tobytes()).hexdigest()
