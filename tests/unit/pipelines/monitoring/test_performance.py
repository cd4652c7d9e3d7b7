"""Delayed labels: the join's counts, DeLong's interval, the observed metrics."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from pipelines.config import load_params
from pipelines.monitoring.performance import auc_interval, join_labels, observed_metrics

FEATURES = dataclasses.replace(
    load_params().features, label_delay_minutes=15, unobserved_arrival="exclude"
)

PREDICTIONS = pd.DataFrame(
    {
        "flight_id": ["f1", "f2", "f3", "f4", "f5", "f8", "f9"],
        "late_probability": [0.9, 0.1, 0.5, 0.4, 0.3, 0.6, 0.2],
        "model_version": "3",  # extra columns are not carried
    }
)
OUTCOMES = pd.DataFrame(
    {
        "flight_id": ["f1", "f2", "f3", "f4", "f6", "f7", "f8", "f9"],
        "arr_delay": [30.0, 0.0, np.nan, np.nan, 5.0, np.nan, 15.0, 14.0],
        "dep_time": [900.0, 910.0, np.nan, 1200.0, 800.0, np.nan, 700.0, 1300.0],
    }
)
# f3 cancelled, f4 diverted (unobserved); f5 has no outcome; f6, f7 were never scored


def test_join_labels_counts_what_does_not_match():
    joined = join_labels(PREDICTIONS, OUTCOMES, FEATURES)
    assert joined.unmatched_outcomes == 2
    assert joined.unlabelled_predictions == 1
    assert joined.unobserved == 2
    labelled = joined.labelled.sort_values("flight_id").reset_index(drop=True)
    assert list(labelled.columns) == ["flight_id", "late_probability", "label"]
    assert labelled["flight_id"].tolist() == ["f1", "f2", "f8", "f9"]
    assert labelled["label"].tolist() == [1.0, 0.0, 1.0, 0.0]  # 15 minutes is late, 14 is not
    assert labelled["late_probability"].tolist() == [0.9, 0.1, 0.6, 0.2]


def test_unobserved_arrivals_count_as_late_under_positive():
    features = dataclasses.replace(FEATURES, unobserved_arrival="positive")
    joined = join_labels(PREDICTIONS, OUTCOMES, features)
    assert joined.unobserved == 0
    labels = joined.labelled.set_index("flight_id")["label"]
    assert labels["f3"] == 1.0 and labels["f4"] == 1.0
    assert len(joined.labelled) == 6


def test_join_labels_refuses_a_duplicated_flight():
    duplicated = pd.concat([OUTCOMES, OUTCOMES.head(1)], ignore_index=True)
    with pytest.raises(pd.errors.MergeError):
        join_labels(PREDICTIONS, duplicated, FEATURES)


def _binormal(rng: np.random.Generator, positives: int, negatives: int, separation: float):
    y = np.r_[np.ones(positives, dtype=int), np.zeros(negatives, dtype=int)]
    score = np.r_[rng.normal(separation, 1, positives), rng.normal(0, 1, negatives)]
    return y, score


def test_auc_interval_point_is_sklearns_roc_auc_with_ties():
    rng = np.random.default_rng(0)
    y, score = _binormal(rng, 150, 350, 0.8)
    score = np.round(score, 1)  # ties across the classes
    auc, low, high = auc_interval(y, score, 0.95)
    assert auc == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert low < auc < high


def test_auc_interval_covers_the_truth_about_as_often_as_its_confidence():
    rng = np.random.default_rng(1)
    separation = 0.8
    truth = stats.norm.cdf(separation / math.sqrt(2))  # binormal, unit variances
    covered = []
    for _ in range(400):
        y, score = _binormal(rng, 100, 200, separation)
        _, low, high = auc_interval(y, score, 0.95)
        covered.append(low <= truth <= high)
    assert 0.91 <= np.mean(covered) <= 0.98


def test_auc_interval_narrows_with_more_rows_and_higher_confidence_widens_it():
    rng = np.random.default_rng(2)
    widths = []
    for rows in (200, 2000, 20000):
        y, score = _binormal(rng, rows // 4, rows - rows // 4, 0.8)
        _, low, high = auc_interval(y, score, 0.95)
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]
    assert widths[0] / widths[2] == pytest.approx(10, rel=0.2)  # 1 / sqrt(n)
    y, score = _binormal(rng, 500, 1500, 0.8)
    _, low95, high95 = auc_interval(y, score, 0.95)
    _, low99, high99 = auc_interval(y, score, 0.99)
    assert low99 < low95 and high99 > high95


def test_auc_interval_width_agrees_with_a_bootstrap():
    rng = np.random.default_rng(3)
    y, score = _binormal(rng, 300, 700, 0.8)
    auc, low, high = auc_interval(y, score, 0.95)
    delong_se = (high - low) / (2 * stats.norm.ppf(0.975))
    pos, neg = score[y == 1], score[y == 0]
    boot = [
        roc_auc_score(
            np.r_[np.ones(len(pos)), np.zeros(len(neg))],
            np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))],
        )
        for _ in range(300)
    ]
    assert delong_se == pytest.approx(np.std(boot, ddof=1), rel=0.2)


@pytest.mark.parametrize("y", [[1, 0, 0, 0], [1, 1, 1, 0], [0, 0, 0, 0]])
def test_auc_interval_needs_two_of_each_class(y):
    result = auc_interval(np.array(y), np.array([0.9, 0.1, 0.4, 0.3]), 0.95)
    assert all(math.isnan(v) for v in result)


def test_observed_metrics_of_a_single_class_have_no_roc_auc():
    labelled = pd.DataFrame({"label": [0.0, 0.0, 0.0], "late_probability": [0.1, 0.2, 0.3]})
    assert observed_metrics(labelled, 0.95) == {"rows": 3.0, "delay_rate": 0.0}


def test_observed_metrics_of_both_classes():
    rng = np.random.default_rng(4)
    y, score = _binormal(rng, 100, 300, 1.0)
    labelled = pd.DataFrame(
        {"label": y.astype(float), "late_probability": stats.norm.cdf(score - 1)}
    )
    figures = observed_metrics(labelled, 0.95)
    assert figures["rows"] == 400.0
    assert figures["delay_rate"] == pytest.approx(0.25)
    assert figures["roc_auc"] == pytest.approx(roc_auc_score(y, score))
    assert figures["roc_auc_low"] < figures["roc_auc"] < figures["roc_auc_high"]
    assert figures["mean_probability"] == pytest.approx(labelled["late_probability"].mean())
    assert {"pr_auc", "log_loss", "brier"} <= set(figures)


def test_the_worst_flights_are_the_confidently_wrong_ones_worst_first():
    from pipelines.monitoring.performance import worst_flights

    labelled = pd.DataFrame(
        {
            "flight_id": ["right", "wrong-late", "wrong-early", "sure-wrong"],
            "late_probability": [0.9, 0.2, 0.7, 0.0],
            "predicted_late": [True, False, True, False],
            "label": [1, 1, 0, 1],
        }
    )
    worst = worst_flights(labelled, 3)
    assert [f["flight_id"] for f in worst] == ["sure-wrong", "wrong-late", "wrong-early"]
    assert worst[0]["log_loss"] == pytest.approx(-np.log(1e-15)), "a certain miss stays finite"
    assert worst[1]["log_loss"] == pytest.approx(-np.log(0.2))
    assert worst[1] | {"log_loss": 0, "share_of_log_loss": 0} == {
        "flight_id": "wrong-late",
        "late_probability": 0.2,
        "predicted_late": False,
        "late": True,
        "log_loss": 0,
        "share_of_log_loss": 0,
    }
    assert sum(f["share_of_log_loss"] for f in worst_flights(labelled, 4)) == pytest.approx(1.0)
    assert worst_flights(labelled, 0) == [] and worst_flights(labelled.iloc[:0], 3) == []
