"""Calibration on later days and the cost-chosen threshold, on small frames built here."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from pipelines.training import calibration


def _days(count: int, rows_per_day: int = 4) -> pd.DataFrame:
    dates = [(date(2013, 3, 1) + timedelta(days=d)).isoformat() for d in range(count)]
    return pd.DataFrame(
        {
            "flight_date": np.repeat(dates, rows_per_day),
            "label": np.tile([0, 1, 0, 0], count)[: count * rows_per_day],
        }
    )


def test_the_calibration_days_are_the_newest_and_the_fit_never_sees_them():
    split = calibration.calibration_split(_days(10), days=3)
    assert split.fit["flight_date"].max() < split.calibration["flight_date"].min()
    assert split.calibration["flight_date"].nunique() == 3
    assert split.calibration_dates == ("2013-03-08", "2013-03-10")
    assert len(split.fit) + len(split.calibration) == 40


def test_a_short_window_calibrates_on_at_most_its_share_of_days():
    split = calibration.calibration_split(_days(8), days=14, max_share=0.25)
    assert split.calibration["flight_date"].nunique() == 2
    assert split.fit["flight_date"].nunique() == 6


def test_too_few_training_days_for_the_calibration_fold_is_a_clear_error():
    with pytest.raises(ValueError, match="no calibration days"):
        calibration.calibration_split(_days(3), days=3)
    with pytest.raises(ValueError, match="no calibration days"):
        calibration.calibration_split(_days(3), days=14, max_share=0.25)


def _brute_force_cost(y: np.ndarray, p: np.ndarray, threshold: float, ratio: float) -> float:
    flagged = p >= threshold
    return ratio * int(((y == 1) & ~flagged).sum()) + int(((y == 0) & flagged).sum())


@pytest.mark.parametrize("ratio", [0.5, 1.0, 2.0, 5.0])
def test_the_threshold_is_the_cheapest_of_all_possible_ones(ratio: float):
    rng = np.random.default_rng(3)
    p = np.round(rng.uniform(size=300), 2)  # ties: a threshold flags all of them
    y = (rng.uniform(size=300) < p).astype(int)
    chosen = calibration.cost_threshold(y, p, ratio)
    everything = [*np.unique(p), 1.01]
    cheapest = min(_brute_force_cost(y, p, t, ratio) for t in everything)
    assert _brute_force_cost(y, p, chosen, ratio) == cheapest


def test_a_dearer_missed_delay_lowers_the_threshold_and_the_labels_decide_it():
    rng = np.random.default_rng(4)
    p = rng.uniform(size=2000)
    y = (rng.uniform(size=2000) < p).astype(int)
    cheap, dear = (calibration.cost_threshold(y, p, r) for r in (1.0, 4.0))
    assert dear < cheap
    assert cheap == pytest.approx(0.5, abs=0.06) and dear == pytest.approx(0.2, abs=0.06)
    # the same scores on other days' labels (every flight on time) give another threshold
    assert calibration.cost_threshold(np.zeros(2000, dtype=int), p, 4.0) == 1.0


def test_calibration_on_later_days_repairs_a_shifted_base_rate():
    rng = np.random.default_rng(5)

    def days(rows: int, late_shift: float) -> tuple[pd.DataFrame, np.ndarray]:
        x = rng.normal(size=rows)
        y = (rng.uniform(size=rows) < 1 / (1 + np.exp(-(x + late_shift)))).astype(int)
        return pd.DataFrame({"x": x}), y

    fit_x, fit_y = days(4000, -2.0)  # winter: few delays
    later_x, later_y = days(4000, 0.0)  # summer: many more
    holdout_x, holdout_y = days(4000, 0.0)
    model = LogisticRegression().fit(fit_x, fit_y)
    calibrated = calibration.calibrate(model, later_x, later_y, "sigmoid")
    before = calibration.expected_calibration_error(holdout_y, model.predict_proba(holdout_x)[:, 1])
    after = calibration.expected_calibration_error(
        holdout_y, calibrated.predict_proba(holdout_x)[:, 1]
    )
    assert before > 0.15 and after < 0.03
    assert np.array_equal(  # sigmoid calibration keeps the ranking (so ROC AUC)
        np.argsort(model.predict_proba(holdout_x)[:, 1]),
        np.argsort(calibrated.predict_proba(holdout_x)[:, 1]),
    )


def test_expected_calibration_error_of_a_constant_score_is_its_distance_to_the_rate():
    y = np.array([1] * 20 + [0] * 80)
    assert calibration.expected_calibration_error(y, np.full(100, 0.5)) == pytest.approx(0.3)
    assert np.isnan(calibration.expected_calibration_error(y[:5], np.full(5, 0.5)))


def test_the_cost_of_a_decision_counts_missed_delays_at_their_ratio():
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.2, 0.6, 0.1])
    assert calibration.cost_per_flight(y, p, 0.5, 3.0) == pytest.approx((3 * 1 + 1) / 4)
    assert calibration.bayes_threshold(3.0) == pytest.approx(0.25)
