"""`false_alarm_rates`: the drift verdicts a model's thresholds give on its holdout days, logged
on its run at registration. Exact fractions on constructed daily scores."""

from __future__ import annotations

import dataclasses

import pandas as pd

from pipelines.monitoring.reference import false_alarm_rates
from tests.factories import repository_params, verdict_policy

PARAMS = repository_params()
PARAMS = dataclasses.replace(
    PARAMS,
    monitoring=dataclasses.replace(
        PARAMS.monitoring,
        min_rows=100,
        verdict=dataclasses.replace(verdict_policy(), important_features=1),
    ),
)
THRESHOLDS = {"distance": 0.5, "wx_temp": 0.5, "carrier": 0.2, "late_probability": 0.3}
IMPORTANCE = {"distance": 0.05, "wx_temp": 0.01, "carrier": 0.002}


def _days(*rows: dict) -> pd.DataFrame:
    quiet = {"rows": 900, "distance": 0.1, "wx_temp": 0.1, "carrier": 0.05, "late_probability": 0.1}
    return pd.DataFrame([{**quiet, **row} for row in rows])


def test_each_kind_of_day_counts_once_at_its_level():
    days = _days(
        {},  # quiet: ok
        {"distance": 1.2},  # the most important feature, past 2× its threshold: act
        {"distance": 0.9},  # the same under 2×: watch (a season until performance says more)
        {"wx_temp": 0.9},  # one minor column: still ok (two make a watch)
        {"wx_temp": 0.9, "carrier": 0.4},  # two minor columns: watch
        {"late_probability": 0.31},  # the score itself: act
        {"rows": 40},  # too few rows to judge: watch
        {"carrier": None, "distance": None},  # no score (an empty column): not drift
    )
    rates = false_alarm_rates(days, THRESHOLDS, IMPORTANCE, PARAMS)
    assert rates["days"] == 8
    assert rates["act"] == 3 / 8
    assert rates["watch_or_act"] == 5 / 8
    assert rates["per_column"] == {
        "distance": 2 / 8,
        "wx_temp": 2 / 8,
        "carrier": 1 / 8,
        "late_probability": 1 / 8,
    }


def test_performance_never_enters_the_rate():
    """Only drift counts: a holdout with no labels, or a NaN figure, changes nothing."""
    rates = false_alarm_rates(_days({}, {}, {}), THRESHOLDS, IMPORTANCE, PARAMS)
    assert rates["watch_or_act"] == 0.0 and rates["act"] == 0.0 and rates["per_column"] == {}
