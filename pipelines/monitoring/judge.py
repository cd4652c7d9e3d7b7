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

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import MonitoringParams, VerdictPolicy
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
    serving_skew: tuple[str, ...] = ()  # inputs served unlike the store's next night (skew.py)
    upstream_changes: tuple[str, ...] = ()  # since the previous night (fingerprints.py)
    package_changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class NightJudgement:
    drift_scores: dict[str, float | None]
    drift_ratios: dict[str, float]  # each judged column's score over its threshold tonight
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


def out_of_range_shares(
    current: pd.DataFrame, reference: MonitoringReference, margin_share: float
) -> dict[str, float]:
    """Each model input's share of tonight's values outside what the reference sample has (the
    columns with any): a numeric range widened by `margin_share` of its span on each side (a
    unit change lands far outside; a busier timetable or a warmer month edges past) or a set of
    codes (a recoding)."""
    shares: dict[str, float] = {}
    for name in reference.columns.numeric:
        if name == drift.SCORE_COLUMN or name not in current:
            continue
        seen = reference.sample[name].replace([-np.inf, np.inf], np.nan).dropna()
        values = current[name].replace([-np.inf, np.inf], np.nan).dropna()
        if seen.empty or values.empty:
            continue
        low, high = float(seen.min()), float(seen.max())
        margin = margin_share * (high - low)  # a season edging past the range is no fault
        shares[name] = float(((values < low - margin) | (values > high + margin)).mean())
    for name in reference.columns.categorical:
        if name not in current:
            continue
        values = current[name].dropna().astype(str)
        known = set(reference.sample[name].dropna().astype(str))
        if known and not values.empty:
            shares[name] = float((~values.isin(known)).mean())  # codes the reference never had
    return {name: share for name, share in shares.items() if share > 0}


def out_of_range(
    current: pd.DataFrame,
    reference: MonitoringReference,
    min_share: float,
    margin_share: float,
) -> tuple[str, ...]:
    """Model inputs with at least `min_share` of tonight's values outside the reference's
    range or codes (`out_of_range_shares`), whatever the column's importance."""
    shares = out_of_range_shares(current, reference, margin_share)
    return tuple(name for name, share in shares.items() if share >= min_share)


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
    data_end = reference.window.get("holdout_end")  # the newest day the model's data holds
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
        serving_skew=night.serving_skew,
        upstream_changes=night.upstream_changes,
        package_changes=night.package_changes,
        data_end=data_end,
        model_age_days=(night.day - date.fromisoformat(data_end)).days if data_end else None,
    )
    return NightJudgement(
        drift_scores=scores,
        drift_ratios={name: score / reference.thresholds[name] for name, score in judged.items()},
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


# -- A night's signals as a flat record, and its verdict decided again from it ----------------
# The replay keeps one record per night (`nights.csv`); `mlops simulate` chooses the verdict's
# thresholds on the nights before a cut by deciding every night again under each candidate
# (pipelines/replay/thresholds.py), with this step's own `decide_verdict`.


def signals_record(
    night: NightJudgement,
    current: pd.DataFrame,
    reference: MonitoringReference,
    margins: tuple[float, ...],
) -> dict[str, Any]:
    """Night D's signals as one flat record: what `verdict_from_record` needs under any
    threshold (the drifted columns' score over threshold, the out-of-range shares at each of
    `margins`, the delayed-label window, the model's age); `reference` is the whole one."""
    signals, observed = night.signals, night.observed
    return {
        "judged_since": night.judged_since.isoformat(),
        "rows": signals.rows,
        "estimated_window_roc_auc": signals.estimated_roc_auc,
        "observed_window_roc_auc": observed.roc_auc if observed else None,
        "observed_low": observed.low if observed else None,
        "observed_high": observed.high if observed else None,
        "observed_days": observed.days if observed else 0,
        "expected_observed_roc_auc": observed.expected_roc_auc if observed else None,
        "holdout_roc_auc": signals.holdout_roc_auc,
        "labels_missing": ",".join(night.labels_missing),
        "drift_ratios": json.dumps({c: r for c, r in night.drift_ratios.items() if r >= 1.0}),
        "important": ",".join(signals.important),
        "missing_features": ",".join(night.missing_features),
        "invalid_inputs": ",".join(signals.invalid_inputs),
        "data_end": signals.data_end or "",
        "model_age_days": signals.model_age_days,
        "out_of_range_shares": json.dumps(
            {_margin_key(m): out_of_range_shares(current, reference, m) for m in margins}
        ),
    }


def _names(value: Any) -> tuple[str, ...]:
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    return tuple(part for part in text.split(",") if part)


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _whole(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


@functools.cache
def _parsed(text: str) -> Any:
    """A record's JSON field, parsed once however many candidates read it (never mutated)."""
    return json.loads(text)


def _margin_key(margin: float) -> str:
    return f"{margin:g}"


def signals_from_record(record: Mapping[str, Any], policy: VerdictPolicy, min_rows: int) -> Signals:
    """The `Signals` of a `signals_record` (as a CSV reads it back) under `policy`'s
    thresholds: severe drift, out of range and its margin, the model's age limit."""
    ratios: dict[str, float] = _parsed(record["drift_ratios"])
    shares_by_margin: dict[str, dict[str, float]] = _parsed(record["out_of_range_shares"])
    shares = shares_by_margin.get(_margin_key(policy.out_of_range_margin))
    if shares is None:
        raise ValueError(
            f"out_of_range_margin {policy.out_of_range_margin:g} was not recorded "
            f"(recorded: {sorted(shares_by_margin)}): add it to "
            "simulation.threshold_candidates and rerun the replay"
        )
    observed_auc = _number(record.get("observed_window_roc_auc"))
    observed = (
        ObservedWindow(
            roc_auc=observed_auc,
            low=float(record["observed_low"]),
            high=float(record["observed_high"]),
            days=int(record["observed_days"]),
            rows=0,
            expected_roc_auc=_number(record.get("expected_observed_roc_auc")),
        )
        if observed_auc is not None
        else None
    )
    return Signals(
        drifted=tuple(ratios),
        important=_names(record["important"]),
        rows=int(record["rows"]),
        min_rows=min_rows,
        holdout_roc_auc=float(record["holdout_roc_auc"]),
        estimated_roc_auc=_number(record.get("estimated_window_roc_auc")),
        observed=observed,
        labels_missing=_names(record.get("labels_missing")),
        missing_features=_names(record.get("missing_features")),
        invalid_inputs=_names(record.get("invalid_inputs")),
        version=str(record.get("version")),
        judged_since=str(record["judged_since"]),
        severe=tuple(c for c, r in ratios.items() if r >= policy.severe_drift_factor),
        out_of_range=tuple(c for c, s in shares.items() if s >= policy.out_of_range_share),
        data_end=str(record.get("data_end") or "") or None,
        model_age_days=_whole(record.get("model_age_days")),
    )


def verdict_from_record(record: Mapping[str, Any], policy: VerdictPolicy, min_rows: int) -> Verdict:
    """The night decided again from its record under `policy` (the what-if of a threshold)."""
    return decide_verdict(signals_from_record(record, policy, min_rows), policy)
