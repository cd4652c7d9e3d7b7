"""Nothing in the nightly batch, or in the features built from it, may carry the outcome.

On the real 2013 data: for every column of the scheduled contract and every feature, how well
its emptiness alone separates cancelled from flown flights (ROC AUC, 0.5 = not at all); and a
counterfactual: rewriting every flight's outcome (and what the source changes with it, the
tail number) changes no byte of the batch and no feature value.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.build import build_features, feature_columns
from pipelines.data import landing
from pipelines.upstream import delivery, sources
from tests.factories import repository_params

#: Above this, a column's emptiness tells cancelled from flown flights: a leak.
MAX_EMPTINESS_AUC = 0.55
OUTCOME_SOURCE_COLUMNS = ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time")
YEAR = landing.days(date(2013, 1, 1), date(2013, 12, 31))


def _deliver(flights: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    scheduled = pd.concat([delivery.scheduled_flights(flights, d) for d in YEAR], ignore_index=True)
    outcomes = pd.concat([delivery.flight_outcomes(flights, d) for d in YEAR], ignore_index=True)
    return scheduled, outcomes


def emptiness_auc(column: pd.Series, cancelled: np.ndarray) -> float:
    """How well "this value is empty" alone separates cancelled from flown flights."""
    empty = column.isna().to_numpy().astype(int)
    if empty.min() == empty.max():
        return 0.5
    auc = float(roc_auc_score(cancelled, empty))
    return max(auc, 1 - auc)


@pytest.fixture(scope="module")
def year() -> dict:
    flights = sources.source_flights()
    scheduled, outcomes = _deliver(flights)
    cancelled = (
        scheduled[["flight_id"]]
        .merge(outcomes[["flight_id", "dep_time"]], on="flight_id", validate="one_to_one")[
            "dep_time"
        ]
        .isna()
        .to_numpy()
        .astype(int)
    )
    params = repository_params().features
    weather = sources.source_reference_table("weather")
    return {
        "source": flights,
        "scheduled": scheduled,
        "cancelled": cancelled,
        "features": build_features(scheduled, weather, params),
        "weather": weather,
        "params": params,
    }


def test_the_detector_finds_the_tail_number_leak_in_the_source(year: dict):
    """Control: the source's own tail numbers are empty only on cancelled flights."""
    source = year["source"]
    by_key = source.assign(
        flight_date=source["flight_date"].map(date.isoformat),
    )
    by_key = by_key.assign(flight_id=delivery.flight_id(by_key)).set_index("flight_id")
    tailnum = by_key.loc[year["scheduled"]["flight_id"], "tailnum"]
    assert emptiness_auc(tailnum.reset_index(drop=True), year["cancelled"]) > MAX_EMPTINESS_AUC


def test_no_scheduled_column_is_empty_because_a_flight_was_cancelled(year: dict):
    scores = {
        column: emptiness_auc(year["scheduled"][column], year["cancelled"])
        for column in landing.SCHEDULED_COLUMNS
    }
    assert {c: s for c, s in scores.items() if s > MAX_EMPTINESS_AUC} == {}
    assert "tailnum" not in year["scheduled"].columns


def test_no_feature_is_empty_because_a_flight_was_cancelled(year: dict):
    features = year["features"]
    scores = {
        name: emptiness_auc(features[name], year["cancelled"])
        for name in feature_columns(year["params"])
    }
    assert {c: s for c, s in scores.items() if s > MAX_EMPTINESS_AUC} == {}


def test_rewriting_every_outcome_changes_no_batch_byte_and_no_feature(year: dict):
    """Cancel what flew, fly what was cancelled, and move the tail numbers the way the source
    does for cancellations: the evening-before batch and its features stay identical."""
    source = year["source"]
    was_cancelled = source["dep_time"].isna()
    flipped = source.copy()
    for column in OUTCOME_SOURCE_COLUMNS:
        flipped[column] = np.where(was_cancelled, 100.0, np.nan)
    flipped["tailnum"] = np.where(was_cancelled, "N00000", None)
    scheduled, _ = _deliver(flipped)
    pd.testing.assert_frame_equal(scheduled, year["scheduled"])
    features = build_features(scheduled, year["weather"], year["params"])
    pd.testing.assert_frame_equal(features, year["features"])
