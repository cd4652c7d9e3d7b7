"""A night's signals from in-memory frames: what `monitor_day` computes from the published
partitions, for the backtest and the year replay (no server, no files).

`scored` maps an ISO day to its scored flights (model inputs, `late_probability`, `label`). At
night D the labels of the days before D are known (outcomes of D-1 land on D); D's own labels
are never read here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from pipelines.config import Params
from pipelines.monitoring import drift, estimate, performance
from pipelines.monitoring.reference import MonitoringReference
from pipelines.monitoring.verdict import ObservedWindow, Signals, Verdict, decide_verdict


@dataclass(frozen=True)
class NightFromFrames:
    scores: dict[str, float | None]
    drifted: tuple[str, ...]
    signals: Signals
    verdict: Verdict
    estimated_window: dict[str, float]

    @property
    def drift_share(self) -> float:
        judged = [score for score in self.scores.values() if score is not None]
        return len(self.drifted) / len(judged) if judged else 0.0


def _days_back(day: date, offsets: range) -> list[str]:
    return [(day - timedelta(days=offset)).isoformat() for offset in offsets]


def observed_before(
    day: date, scored: Mapping[str, pd.DataFrame], rolling_days: int, confidence: float
) -> ObservedWindow | None:
    """Delayed-label ROC AUC of the `rolling_days` days before D (their labels have landed)."""
    before = [
        scored[key].dropna(subset=["label"])
        for key in _days_back(day, range(1, rolling_days + 1))
        if key in scored
    ]
    before = [frame for frame in before if len(frame)]
    if not before:
        return None
    prior = pd.concat(before, ignore_index=True)
    if prior["label"].nunique() < 2:
        return None
    auc, low, high = performance.auc_interval(
        prior["label"].to_numpy(), prior[drift.SCORE_COLUMN].to_numpy(), confidence
    )
    return ObservedWindow(auc, low, high, len(before), len(prior))


def night_from_frames(
    day: date,
    scored: Mapping[str, pd.DataFrame],
    reference: MonitoringReference,
    params: Params,
) -> NightFromFrames:
    settings = params.monitoring
    today = scored[day.isoformat()]
    scores = drift.drift_scores(reference.sample, today, reference.columns)
    drifted = tuple(drift.drifted(scores, reference.thresholds))
    recent = [scored[k] for k in _days_back(day, range(settings.rolling_days)) if k in scored]
    estimated_window = estimate.estimated_metrics(
        pd.concat(recent, ignore_index=True)[drift.SCORE_COLUMN].to_numpy(), reference.calibrator
    )
    signals = Signals(
        drifted=drifted,
        important=reference.important(settings.verdict.important_features),
        rows=len(today),
        min_rows=settings.min_rows,
        holdout_roc_auc=reference.holdout["holdout_roc_auc"],
        estimated_roc_auc=estimated_window["roc_auc"],
        observed=observed_before(day, scored, settings.rolling_days, settings.confidence),
    )
    return NightFromFrames(
        scores, drifted, signals, decide_verdict(signals, settings.verdict), estimated_window
    )
