"""A candidate model fitted on a training window: the training step every caller runs.

`fit_candidate` is pure (data and params in, a `Candidate` out, no I/O): the training DAG and
`mlops train` (through `steps.train_and_log`, which adds the logging), the year replay and the
monitoring backtest all fit with it, so what the replay measures is what trains at night."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from features.build import model_inputs
from pipelines.config import Params
from pipelines.training import calibration, evaluate, search, train
from pipelines.training_window import TrainingWindow, in_window


def _metrics(prefix: str, values: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{name}": value for name, value in values.items()}


@dataclass(frozen=True)
class FittedOnSplit:
    model: Any  # the calibrated model: what is logged, registered and served
    curves: dict[str, np.ndarray]  # holdout probabilities: `family`, and both baselines
    metrics: dict[str, float]
    family: str  # the model family fitted (the search's winner, or params.yaml's)
    hyperparameters: dict[str, Any]
    uncalibrated: np.ndarray  # the model's holdout probabilities before calibration
    decision_threshold: float  # chosen on the calibration days for the cost ratio
    calibration_dates: tuple[str, str]
    tuning: search.TuningResult | None = None


def fit_and_score(split: train.Split, params: Params) -> FittedOnSplit:
    """The model chosen on time-aware folds of the training days (`train.search`; the
    configured one when search is off), fitted on all but the newest training days, calibrated
    and given its decision threshold on those (`calibration.py`); logistic regression made the
    same way (`fit_simpler_model`) and the base rate of the training days; every one scored on
    the split's holdout (what `train_and_log` logs and `mlops holdout` prints)."""
    y_holdout = split.holdout["label"].astype(int).to_numpy()
    settings = params.train.calibration
    days = calibration.calibration_split(split.train, settings.days, settings.max_share)
    tuning = search.tune(days.fit, params)
    chosen = tuning.train_params(params.train) if tuning else params.train
    fitted = train.fit_model(days.fit, chosen, params.features)
    model = _calibrated(fitted, days, params)
    threshold = calibration.cost_threshold(
        days.calibration["label"].astype(int).to_numpy(),
        train.predict_late_probability(model, days.calibration, params.features),
        settings.missed_delay_cost,
    )
    baseline = fit_simpler_model(split.train, params)
    curves = {
        chosen.model: train.predict_late_probability(model, split.holdout, params.features),
        "logistic_regression_baseline": train.predict_late_probability(
            baseline, split.holdout, params.features
        ),
        "base_rate": evaluate.base_rate_probability(
            split.train["label"].to_numpy(), len(y_holdout)
        ),
    }
    uncalibrated = train.predict_late_probability(fitted, split.holdout, params.features)
    metrics = {
        **_metrics("holdout", evaluate.classification_metrics(y_holdout, curves[chosen.model])),
        **_metrics(
            "holdout_uncalibrated", evaluate.classification_metrics(y_holdout, uncalibrated)
        ),
        **_metrics(
            "baseline_logreg",
            evaluate.classification_metrics(y_holdout, curves["logistic_regression_baseline"]),
        ),
        **_metrics(
            "baseline_base_rate", evaluate.classification_metrics(y_holdout, curves["base_rate"])
        ),
        **_decision_metrics(y_holdout, curves[chosen.model], uncalibrated, threshold, params),
        "train_rows": float(len(split.train)),
        "fit_rows": float(len(days.fit)),
        "calibration_rows": float(len(days.calibration)),
        "holdout_rows": float(len(split.holdout)),
        "train_late_share": float(split.train["label"].mean()),
        "holdout_late_share": float(np.mean(y_holdout)),
    }
    if tuning:
        scores = tuning.family_scores.items()
        metrics.update({f"validation_{tuning.metric}_{family}": v for family, v in scores})
    return FittedOnSplit(
        model,
        curves,
        metrics,
        chosen.model,
        chosen.hyperparameters,
        uncalibrated,
        threshold,
        days.calibration_dates,
        tuning,
    )


def _calibrated(fitted: Any, days: calibration.CalibrationSplit, params: Params) -> Any:
    return calibration.calibrate(
        fitted,
        model_inputs(days.calibration, params.features),
        days.calibration["label"].astype(int).to_numpy(),
        params.train.calibration.method,
    )


def fit_simpler_model(train_frame: pd.DataFrame, params: Params) -> Any:
    """Logistic regression as the model is made: fitted on the same days, calibrated on the
    same later days, so the only difference the decision sees is the family (a baseline
    fitted on the calibration days too would be two weeks fresher than the model)."""
    settings = params.train.calibration
    days = calibration.calibration_split(train_frame, settings.days, settings.max_share)
    fitted = train.fit_logistic_baseline(days.fit, params.train, params.features)
    return _calibrated(fitted, days, params)


def _decision_metrics(
    y_holdout: np.ndarray,
    calibrated: np.ndarray,
    uncalibrated: np.ndarray,
    threshold: float,
    params: Params,
) -> dict[str, float]:
    """Calibration error before and after, the threshold, and its cost on the holdout next to
    the cost-optimal threshold's for a calibrated probability (what a constant would give)."""
    cost = params.train.calibration.missed_delay_cost
    bayes = calibration.bayes_threshold(cost)
    return {
        "holdout_ece": calibration.expected_calibration_error(y_holdout, calibrated),
        "holdout_ece_uncalibrated": calibration.expected_calibration_error(y_holdout, uncalibrated),
        "decision_threshold": threshold,
        "holdout_cost_per_flight": calibration.cost_per_flight(
            y_holdout, calibrated, threshold, cost
        ),
        "holdout_cost_per_flight_at_bayes_threshold": calibration.cost_per_flight(
            y_holdout, calibrated, bayes, cost
        ),
        "holdout_flagged_share": float(np.mean(calibrated >= threshold)),
    }


@dataclass(frozen=True)
class Candidate:
    """A fitted model, its holdout scores and what it was fitted and judged on."""

    window: TrainingWindow
    split: train.Split
    fitted: FittedOnSplit
    importance: pd.Series  # permutation importance on the holdout (ROC AUC drop per input)

    @property
    def model(self) -> Any:
        return self.fitted.model

    @property
    def family(self) -> str:
        return self.fitted.family

    @property
    def metrics(self) -> dict[str, float]:
        return self.fitted.metrics

    @property
    def holdout_probability(self) -> np.ndarray:
        return self.fitted.curves[self.fitted.family]

    @property
    def train_end(self) -> str:
        return self.split.train_dates[1]

    @property
    def max_label_day(self) -> date:
        """The newest day whose labels it was fitted or judged on."""
        return date.fromisoformat(self.split.holdout_dates[1])


def fit_candidate(labelled: pd.DataFrame, window: TrainingWindow, params: Params) -> Candidate:
    """Fit on the window's temporal split of `labelled` (every scheduled flight of its days,
    unlabelled ones dropped by the split) and measure the inputs' importance on the holdout."""
    split = train.temporal_split(in_window(labelled, window), window.holdout_start)
    fitted = fit_and_score(split, params)
    importance = evaluate.permutation_importances(
        fitted.model,
        model_inputs(split.holdout, params.features),
        split.holdout["label"].astype(int).to_numpy(),
        params.train.importance_sample_rows,
        params.train.importance_repeats,
        params.train.seed,
    )
    return Candidate(window, split, fitted, importance)
