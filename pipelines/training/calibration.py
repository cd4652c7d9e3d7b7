"""Calibrated probabilities and the decision threshold, both learned on days later than the fit.

The nightly performance estimate (CBPE) reads the served probabilities as probabilities, and
the decision `predicted_late` weighs a missed delay against a false alarm: both need scores
that mean what they say on days the model has not seen. So the newest training days are
held out of the fit, a calibrator is fitted on the model's scores there, and the threshold
that minimises the configured cost on those same days is what scoring decides with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CalibrationSplit:
    fit: pd.DataFrame  # the model is fitted on these days
    calibration: pd.DataFrame  # … and calibrated on these, every one of them later

    @property
    def calibration_dates(self) -> tuple[str, str]:
        dates = self.calibration["flight_date"]
        return str(dates.min()), str(dates.max())


def calibration_split(
    train_frame: pd.DataFrame, days: int, max_share: float = 1.0
) -> CalibrationSplit:
    """The newest `days` training days (no more than `max_share` of them, so a short window
    still fits on most of its days) calibrate; the model fits on the days before them."""
    dates = np.sort(train_frame["flight_date"].unique())
    days = min(days, int(max_share * len(dates)))
    if days < 1 or len(dates) <= days:
        raise ValueError(
            f"{len(dates)} training days leave no calibration days after the fit; widen the "
            "window or raise train.calibration.max_share"
        )
    is_calibration = train_frame["flight_date"] >= dates[-days]
    calibration = train_frame.loc[is_calibration]
    if calibration["label"].nunique() < 2:
        raise ValueError("the calibration days hold a single class; raise train.calibration.days")
    return CalibrationSplit(fit=train_frame.loc[~is_calibration], calibration=calibration)


def calibrate(model: Any, inputs: pd.DataFrame, labels: np.ndarray, method: str) -> Any:
    """The fitted `model` (left as it is) with a calibrator fitted on these later rows."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    return CalibratedClassifierCV(FrozenEstimator(model), method=method).fit(inputs, labels)


def cost_threshold(labels: np.ndarray, probability: np.ndarray, missed_delay_cost: float) -> float:
    """The threshold (flag `probability >= threshold`) with the least
    `missed_delay_cost × missed delays + false alarms` on these rows."""
    y = np.asarray(labels, dtype="int64")
    p = np.asarray(probability, dtype="float64")
    order = np.argsort(-p, kind="stable")
    ranked, ranked_y = p[order], y[order]
    flagged_late = np.cumsum(ranked_y)
    false_alarms = np.cumsum(1 - ranked_y)
    costs = missed_delay_cost * (y.sum() - flagged_late) + false_alarms
    ends_a_tie = np.r_[ranked[1:] != ranked[:-1], True]  # a threshold flags all of a tie
    candidates = np.flatnonzero(ends_a_tie)
    best = candidates[np.argmin(costs[candidates])]
    if missed_delay_cost * y.sum() <= costs[best]:  # flagging nothing is cheapest
        return 1.0
    return float(ranked[best])


def bayes_threshold(missed_delay_cost: float) -> float:
    """The cost-optimal threshold for a perfectly calibrated probability: flag when
    `p × missed_delay_cost > 1 - p`. Used for a version registered without its own threshold."""
    return 1.0 / (1.0 + missed_delay_cost)


def cost_per_flight(
    labels: np.ndarray, probability: np.ndarray, threshold: float, missed_delay_cost: float
) -> float:
    """Mean cost per flight (in false alarms) of deciding at `threshold`."""
    y = np.asarray(labels, dtype="int64")
    flagged = np.asarray(probability) >= threshold
    missed = int(((y == 1) & ~flagged).sum())
    false_alarms = int(((y == 0) & flagged).sum())
    return (missed_delay_cost * missed + false_alarms) / max(len(y), 1)


def expected_calibration_error(
    labels: np.ndarray, probability: np.ndarray, bins: int = 10
) -> float:
    """Expected calibration error over equal-count bins of the score, tied scores in one bin
    (NaN below `bins` rows)."""
    y = np.asarray(labels, dtype="float64")
    p = np.asarray(probability, dtype="float64")
    if len(p) < bins:
        return float("nan")
    inner_edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)[1:-1]))
    binned = pd.DataFrame({"p": p, "y": y, "bin": np.searchsorted(inner_edges, p, side="right")})
    grouped = binned.groupby("bin").agg(p=("p", "mean"), y=("y", "mean"), n=("y", "size"))
    return float(np.sum(np.abs(grouped["p"] - grouped["y"]) * grouped["n"]) / len(p))
