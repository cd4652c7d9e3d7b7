"""Judge night D: the monitoring step every caller runs (pure: frames in, a judgement out).

The `monitoring` DAG and `mlops monitor` (`nightly.monitor_day`, which reads the published
partitions and writes the reports), the year replay and the backtest (`frames.night_inputs`,
from frames in memory) build the same `NightInputs` and call `judge_night`; only the I/O around
it differs. The drift scores are measured by the caller with Evidently's stattests: its report at
night (the HTML on-call opens), the same stattests without a report in the replay (a test checks
both give the same score).

What a night may see: D's scores and inputs, and the scores of the `rolling_days` days before it
with the labels that have landed by D (outcomes of D-1 land on D). Performance, the estimate
and the observed window, is judged on the serving version's own scores only, from the first
night of the window it scored (`judged_since`): a new champion is never judged on its
predecessor's scores, and its reference is its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from pipelines.config import MonitoringParams
from pipelines.monitoring import drift, estimate, performance
from pipelines.monitoring.reference import MonitoringReference
from pipelines.monitoring.verdict import ObservedWindow, Signals, Verdict, decide_verdict


@dataclass(frozen=True)
class Labelled:
    """A day's flights with an observed outcome: their label and the score they got."""

    label: np.ndarray  # 0/1
    score: np.ndarray


@dataclass(frozen=True)
class WindowDay:
    """One scored day of the rolling window, as night D knows it."""

    day: date
    version: str  # the model version that scored it
    scores: np.ndarray  # late_probability of its (sampled) flights
    labelled: Labelled | None  # its labelled flights; None: its outcomes have not landed


@dataclass(frozen=True)
class NightInputs:
    day: date
    version: str  # the version that scored D: the one judged
    rows: int  # every flight scored on D (`current` may be a sample)
    current: pd.DataFrame  # D's model inputs with `late_probability`
    drift_scores: Mapping[str, float | None]  # per watched column, None where it had no values
    window: tuple[WindowDay, ...]  # D and the scored days of the `rolling_days` before it


@dataclass(frozen=True)
class NightJudgement:
    drift_scores: dict[str, float | None]
    drifted: tuple[str, ...]
    missing_features: tuple[str, ...]
    estimated_day: dict[str, float]
    estimated_window: dict[str, float]
    window_start: date
    judged_since: date
    observed: ObservedWindow | None
    labels_missing: tuple[str, ...]
    signals: Signals
    verdict: Verdict

    @property
    def drift_share(self) -> float:
        """Drifted model inputs over judged ones (the score column aside)."""
        judged = [
            c for c, s in self.drift_scores.items() if s is not None and c != drift.SCORE_COLUMN
        ]
        moved = [c for c in self.drifted if c != drift.SCORE_COLUMN]
        return len(moved) / len(judged) if judged else 0.0


def empty_columns(current: pd.DataFrame, columns: tuple[str, ...]) -> tuple[str, ...]:
    """Watched columns with no usable value tonight (all NaN, infinite, or no rows)."""
    return tuple(
        name for name in columns if current[name].replace([-np.inf, np.inf], np.nan).dropna().empty
    )


def missing_features(
    empty: tuple[str, ...], reference: MonitoringReference, min_share: float
) -> tuple[str, ...]:
    """The empty columns the reference has values for in at least `min_share` of its rows: an
    outage (a weather feed down), not a column that is often empty (wind gusts)."""
    present = reference.sample.notna().mean()
    return tuple(name for name in empty if float(present.get(name, 0.0)) >= min_share)


def serving_since(window: tuple[WindowDay, ...], day: date, version: str) -> date:
    """The first night of the unbroken run of nights `version` scored, ending on D."""
    since = day
    for scored in sorted(window, key=lambda d: d.day, reverse=True):
        if scored.day > day:
            continue
        if scored.version != version:
            break
        since = scored.day
    return since


def out_of_range(
    current: pd.DataFrame,
    reference: MonitoringReference,
    min_share: float,
    margin_share: float,
) -> tuple[str, ...]:
    """Model inputs with at least `min_share` of tonight's values outside what the reference
    sample has: a numeric range widened by `margin_share` of its span on each side (a unit
    change lands far outside; a busier timetable or a warmer month edges past) or a set of
    codes (a recoding), whatever the column's importance."""
    found = []
    for name in reference.columns.numeric:
        if name == drift.SCORE_COLUMN or name not in current:
            continue
        seen = reference.sample[name].replace([-np.inf, np.inf], np.nan).dropna()
        values = current[name].replace([-np.inf, np.inf], np.nan).dropna()
        if seen.empty or values.empty:
            continue
        low, high = float(seen.min()), float(seen.max())
        margin = margin_share * (high - low)  # a season edging past the range is no fault
        outside = ((values < low - margin) | (values > high + margin)).mean()
        if float(outside) >= min_share:
            found.append(name)
    for name in reference.columns.categorical:
        if name not in current:
            continue
        values = current[name].dropna().astype(str)
        known = set(reference.sample[name].dropna().astype(str))
        if known and not values.empty and float((~values.isin(known)).mean()) >= min_share:
            found.append(name)  # codes the reference never had: a recoding, not a season
    return tuple(found)


def observed_window(
    days: list[WindowDay], confidence: float, calibrator: estimate.Calibrator | None = None
) -> ObservedWindow | None:
    """Delayed-label ROC AUC of the labelled days, with its interval and (given the calibrator)
    what the CBPE estimate expects on the same flights; None while there are fewer than two of
    either class (pending, not a number)."""
    labelled = [d.labelled for d in days if d.labelled is not None and len(d.labelled.label)]
    if not labelled:
        return None
    y = np.concatenate([part.label for part in labelled]).astype(int)
    if min(int(y.sum()), int(len(y) - y.sum())) < 2:
        return None
    scores = np.concatenate([part.score for part in labelled])
    auc, low, high = performance.auc_interval(y, scores, confidence)
    expected = (
        estimate.estimated_metrics(scores, calibrator)["roc_auc"]
        if calibrator is not None
        else None
    )
    return ObservedWindow(auc, low, high, len(labelled), len(y), expected)


def _estimated(scores: np.ndarray, calibrator: estimate.Calibrator) -> dict[str, float]:
    return estimate.estimated_metrics(scores, calibrator) if len(scores) >= 2 else {}


def judge_night(
    night: NightInputs, reference: MonitoringReference, settings: MonitoringParams
) -> NightJudgement:
    """Drift against the reference (its days of D's type: `reference.for_day`), the estimate,
    the delayed labels, the verdict."""
    whole, reference = reference, reference.for_day(night.day)
    policy = settings.verdict
    empty = empty_columns(night.current, reference.columns.all)
    missing = missing_features(empty, whole, policy.feature_missing_reference_share)
    scores = {name: night.drift_scores.get(name) for name in reference.columns.all}
    invalid = tuple(
        name
        for name, score in scores.items()
        if night.rows >= settings.min_rows
        and name not in empty
        and (score is None or np.isnan(score))
    )
    judged = {k: v for k, v in scores.items() if v is not None and not np.isnan(v)}
    drifted = tuple(drift.drifted(judged, reference.thresholds))
    since = serving_since(night.window, night.day, night.version)
    own = [d for d in night.window if since <= d.day <= night.day]
    window_start = night.day - timedelta(days=settings.rolling_days - 1)
    today = next(d for d in own if d.day == night.day)
    pooled = np.concatenate([d.scores for d in own if d.day >= window_start])
    calibrator = reference.calibrator
    estimated_day = _estimated(today.scores, calibrator)
    estimated_window = _estimated(pooled, calibrator)
    observed = observed_window(
        [d for d in own if d.day < night.day], settings.confidence, calibrator
    )
    labels_missing = tuple(
        sorted(d.day.isoformat() for d in night.window if d.day < night.day and d.labelled is None)
    )
    signals = Signals(
        drifted=drifted,
        important=reference.important(policy.important_features),
        rows=night.rows,
        min_rows=settings.min_rows,
        holdout_roc_auc=reference.holdout["holdout_roc_auc"],
        estimated_roc_auc=estimated_window.get("roc_auc"),
        observed=observed,
        labels_missing=labels_missing,
        missing_features=missing,
        invalid_inputs=invalid,
        version=night.version,
        judged_since=since.isoformat(),
        severe=drift.severe_drift(judged, reference.thresholds, policy.severe_drift_factor),
        # the range of the whole reference: a Sunday's sample alone is too narrow a range
        out_of_range=out_of_range(
            night.current, whole, policy.out_of_range_share, policy.out_of_range_margin
        ),
    )
    return NightJudgement(
        drift_scores=scores,
        drifted=drifted,
        missing_features=missing,
        estimated_day=estimated_day,
        estimated_window=estimated_window,
        window_start=max(window_start, since),
        judged_since=since,
        observed=observed,
        labels_missing=labels_missing,
        signals=signals,
        verdict=decide_verdict(signals, policy),
    )
