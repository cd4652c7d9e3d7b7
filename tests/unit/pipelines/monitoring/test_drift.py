"""Drift columns, calibrated thresholds, ranking, and Evidently's report against the fast path."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from pipelines.config import load_params
from pipelines.monitoring import drift
from pipelines.monitoring.drift import SCORE_COLUMN

MONITORING = dataclasses.replace(
    load_params().monitoring,
    numeric_method="wasserstein",
    categorical_method="jensenshannon",
    per_column_method={},
    exempt_columns=("day_of_week", "month_name"),
)


def _params(**overrides):
    return dataclasses.replace(MONITORING, **overrides)


def _columns(**overrides) -> drift.DriftColumns:
    return drift.drift_columns(
        ("distance", "day_of_week", "wind_speed"), ("carrier", "month_name"), _params(**overrides)
    )


def test_drift_columns_drop_the_exempt_and_add_the_score():
    columns = _columns()
    assert columns.numeric == ("distance", "wind_speed", SCORE_COLUMN)
    assert columns.categorical == ("carrier",)
    assert columns.all == ("distance", "wind_speed", SCORE_COLUMN, "carrier")
    assert columns.methods == {
        "distance": "wasserstein",
        "wind_speed": "wasserstein",
        SCORE_COLUMN: "wasserstein",
        "carrier": "jensenshannon",
    }


def test_per_column_method_overrides_the_kind_default():
    columns = _columns(per_column_method={"distance": "psi", "carrier": "TVD"})
    assert columns.methods["distance"] == "psi"
    assert columns.methods["carrier"] == "TVD"
    assert columns.methods["wind_speed"] == "wasserstein"


@pytest.mark.parametrize(
    "overrides",
    [
        {"per_column_method": {"distance": "ks"}},
        {"numeric_method": "ks"},
        {"categorical_method": "chisquare"},
    ],
    ids=["per_column", "numeric", "categorical"],
)
def test_p_value_methods_are_refused(overrides):
    with pytest.raises(ValueError, match="not distances"):
        _columns(**overrides)


def test_per_column_method_naming_an_unknown_column_is_refused():
    with pytest.raises(ValueError, match="not watched"):
        _columns(per_column_method={"no_such_column": "psi"})


def test_per_column_method_naming_an_exempt_column_is_refused():
    with pytest.raises(ValueError, match="not watched"):
        _columns(per_column_method={"day_of_week": "psi"})


def test_a_column_that_never_moved_does_not_drift_every_night():
    thresholds = drift.calibrate_thresholds(pd.DataFrame({"c": [0.0, 0.0, 0.0]}), 0.99, 0.99)
    assert thresholds["c"] > 0
    assert drift.drifted({"c": 0.0}, thresholds) == {}
    ranked = drift.ranked_drift({"c": 0.0}, thresholds, {"c": 0.0})
    assert not ranked[0]["drifted"] and ranked[0]["weighted"] == 0.0


def test_calibrated_threshold_is_the_quantile_of_normal_days():
    days = pd.DataFrame(
        {
            "distance": np.arange(101, dtype=float),  # quantile q of 0..100 is 100 q
            SCORE_COLUMN: np.arange(101, dtype=float),
            "wind_speed": [np.nan] * 101,
            "carrier": [1.0, 2.0, 3.0, np.nan] + [np.nan] * 97,
        }
    )
    thresholds = drift.calibrate_thresholds(days, quantile=0.9, score_quantile=0.99)
    assert thresholds["distance"] == pytest.approx(90.0)
    assert thresholds[SCORE_COLUMN] == pytest.approx(99.0)
    assert thresholds["wind_speed"] == math.inf
    assert thresholds["carrier"] == pytest.approx(2.8)  # NaN days are not days: 0.9 of [1, 2, 3]


def test_drifted_is_a_score_at_or_above_its_threshold():
    scores = {"distance": 0.1, "wind_speed": 0.2, "carrier": None, SCORE_COLUMN: 0.3}
    thresholds = {"distance": 0.1, "wind_speed": 0.3, "carrier": 0.0, SCORE_COLUMN: 0.25}
    assert drift.drifted(scores, thresholds) == {"distance": 0.1, SCORE_COLUMN: 0.3}


def test_ranked_drift_puts_drifted_first_weighted_by_importance():
    scores = {"a": 0.2, "b": 0.15, "c": 0.9, SCORE_COLUMN: 0.3, "e": None, "f": 0.5}
    thresholds = {"a": 0.1, "b": 0.1, "c": 1.0, SCORE_COLUMN: 0.2, "e": 0.1, "f": 0.1}
    importance = {"a": 0.1, "b": 0.4, "c": 1.0, "f": -0.2}
    ranked = drift.ranked_drift(scores, thresholds, importance)
    # excess x weight: score 1.5 x 1.0 (top importance), b 1.5 x 0.4, a 2 x 0.1, f 5 x 0;
    # c has the largest weight (0.9) but did not drift; e has no score
    assert [r["column"] for r in ranked] == [SCORE_COLUMN, "b", "a", "f", "c"]
    assert [r["drifted"] for r in ranked] == [True, True, True, True, False]
    by_column = {r["column"]: r for r in ranked}
    assert by_column[SCORE_COLUMN]["importance"] == pytest.approx(1.0)
    assert by_column["b"]["weighted"] == pytest.approx(0.6)
    assert by_column["a"]["weighted"] == pytest.approx(0.2)
    assert by_column["f"]["importance"] == 0.0
    assert by_column["c"]["weighted"] == pytest.approx(0.9)


def test_column_drift_score_is_none_for_an_empty_current_column():
    reference = pd.Series(np.random.default_rng(0).normal(size=500))
    assert (
        drift.column_drift_score(reference, pd.Series([np.nan] * 50), "wasserstein", True) is None
    )
    assert (
        drift.column_drift_score(reference, pd.Series([np.inf, -np.inf]), "wasserstein", True)
        is None
    )


def test_column_drift_score_grows_with_the_shift():
    rng = np.random.default_rng(0)
    reference = pd.Series(rng.normal(size=2000))
    near = drift.column_drift_score(
        reference, pd.Series(rng.normal(0.1, 1, 300)), "wasserstein", True
    )
    far = drift.column_drift_score(
        reference, pd.Series(rng.normal(1.0, 1, 300)), "wasserstein", True
    )
    assert 0 <= near < far


def _frame(rng: np.random.Generator, rows: int, shift: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "distance": rng.normal(shift, 1, rows),
            "wind_speed": np.where(
                rng.random(rows) < 0.1, np.nan, rng.exponential(1 + shift, rows)
            ),
            "carrier": rng.choice(
                ["AA", "B6", "DL"], rows, p=[0.5 - shift / 4, 0.3, 0.2 + shift / 4]
            ),
            SCORE_COLUMN: rng.beta(2 + shift, 5, rows),
        }
    )


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(42)
    columns = drift.drift_columns(("distance", "wind_speed"), ("carrier",), MONITORING)
    return _frame(rng, 2000, 0.0), _frame(rng, 300, 0.3), columns


def test_evidently_report_gives_the_direct_stattest_scores(frames):
    reference, current, columns = frames
    thresholds = {name: 0.1 for name in columns.all}
    run = drift.drift_report(reference, current, columns, thresholds)
    direct = drift.drift_scores(reference, current, columns)
    assert run.empty_columns == ()
    assert run.snapshot is not None
    assert set(run.scores) == set(columns.all)
    for name in columns.all:
        assert direct[name] is not None and direct[name] > 0
        assert run.scores[name] == pytest.approx(direct[name], abs=1e-9), name


def test_a_column_empty_in_the_current_day_is_named_and_not_scored(frames):
    reference, current, columns = frames
    current = current.assign(wind_speed=np.nan)
    thresholds = {name: 0.1 for name in columns.all}
    run = drift.drift_report(reference, current, columns, thresholds)
    direct = drift.drift_scores(reference, current, columns)
    assert run.empty_columns == ("wind_speed",)
    assert run.scores["wind_speed"] is None
    assert direct["wind_speed"] is None
    for name in ("distance", "carrier", SCORE_COLUMN):
        assert run.scores[name] == pytest.approx(direct[name], abs=1e-9), name


def test_a_day_with_every_column_empty_has_no_snapshot(frames):
    reference, current, columns = frames
    empty = current.head(0)
    run = drift.drift_report(reference, empty, columns, {name: 0.1 for name in columns.all})
    assert run.snapshot is None
    assert set(run.empty_columns) == set(columns.all)
    assert all(score is None for score in run.scores.values())
