"""Drift of one day's model inputs and scores against the champion's reference, with Evidently.

* The nightly report is an Evidently `Report` of one `ValueDrift` per column, each with its
  method and the column's *calibrated* threshold, so the HTML on-call opens says the same as
  the summary.
* Calibration scores hundreds of days against the same reference: it calls the same Evidently
  stattest `ValueDrift` calls (`column_drift_score`), without building a report per day
  (a test checks both give the same score).
* Only distance methods are allowed: drift is a score at or above its threshold, so a
  threshold can be a quantile of normal days' scores (a p-value test would invert that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import MonitoringParams

SCORE_COLUMN = "late_probability"
MIN_THRESHOLD = 1e-6
DISTANCE_METHODS = ("wasserstein", "jensenshannon", "psi", "kl_div", "hellinger", "TVD")


@dataclass(frozen=True)
class DriftColumns:
    """The columns watched for drift, each with its kind and Evidently method."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    methods: dict[str, str]

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical)


def drift_columns(
    numeric: Iterable[str], categorical: Iterable[str], params: MonitoringParams
) -> DriftColumns:
    """Model inputs minus the exempt calendar columns, plus the score; methods from params."""
    exempt = set(params.exempt_columns)
    numeric_watched = tuple(c for c in numeric if c not in exempt) + (SCORE_COLUMN,)
    categorical_watched = tuple(c for c in categorical if c not in exempt)
    methods = {c: params.numeric_method for c in numeric_watched}
    methods.update({c: params.categorical_method for c in categorical_watched})
    unwatched = sorted(set(params.per_column_method) - set(methods))
    if unwatched:
        raise ValueError(
            f"monitoring.per_column_method names columns that are not watched: {unwatched} "
            f"(exempt: {sorted(exempt)})"
        )
    methods.update(params.per_column_method)
    refused = sorted({m for m in methods.values() if m not in DISTANCE_METHODS})
    if refused:
        raise ValueError(
            f"drift methods {refused} are not distances; use one of {list(DISTANCE_METHODS)}"
        )
    return DriftColumns(numeric_watched, categorical_watched, methods)


def _clean(column: pd.Series) -> pd.Series:
    """What Evidently drops before a stattest: NaN and infinities."""
    return column.replace([-np.inf, np.inf], np.nan).dropna()


def column_drift_score(
    reference: pd.Series, current: pd.Series, method: str, numeric: bool
) -> float | None:
    """The score of Evidently's stattest `method` (as `ValueDrift` runs it); None when the
    current column is entirely empty (Evidently refuses it)."""
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    kind = ColumnType.Numerical if numeric else ColumnType.Categorical
    reference_values, current_values = _clean(reference), _clean(current)
    if current_values.empty or reference_values.empty:
        return None
    test = get_stattest(reference_values, current_values, kind, method)
    return float(test(reference_values, current_values, kind, None).drift_score)


def drift_scores(
    reference: pd.DataFrame, current: pd.DataFrame, columns: DriftColumns
) -> dict[str, float | None]:
    """Every watched column's score for one current frame (the calibration's fast path)."""
    return {
        name: column_drift_score(
            reference[name], current[name], columns.methods[name], name in columns.numeric
        )
        for name in columns.all
    }


def calibrate_thresholds(
    daily_scores: pd.DataFrame, quantile: float, score_quantile: float
) -> dict[str, float]:
    """Each column's threshold: the `quantile` of its scores over normal days (one row per day).

    A column that never moved on a normal day (score 0 every day) gets `MIN_THRESHOLD`, not
    0: "at or above 0" would call it drifted every night."""
    thresholds = {}
    for name in daily_scores.columns:
        q = score_quantile if name == SCORE_COLUMN else quantile
        values = daily_scores[name].dropna()
        thresholds[name] = (
            max(float(values.quantile(q)), MIN_THRESHOLD) if len(values) else float("inf")
        )
    return thresholds


def severe_drift(
    scores: Mapping[str, float], thresholds: Mapping[str, float], factor: float
) -> tuple[str, ...]:
    """Columns at or above `factor` × their threshold: far past what a normal day reaches."""
    return tuple(name for name, score in scores.items() if score >= factor * thresholds[name])


def drifted(
    scores: Mapping[str, float | None], thresholds: Mapping[str, float]
) -> dict[str, float]:
    """The columns whose score is at or above their threshold (distance methods)."""
    return {
        name: float(score)
        for name, score in scores.items()
        if score is not None and score >= thresholds[name]
    }


@dataclass(frozen=True)
class DriftRun:
    """One night's drift: per-column scores and the Evidently snapshot they were read from."""

    scores: dict[str, float | None]
    empty_columns: tuple[str, ...]
    snapshot: Any | None


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: DriftColumns,
    thresholds: Mapping[str, float],
) -> DriftRun:
    """Evidently `ValueDrift` per column with its method and calibrated threshold.

    A column entirely empty in the current data (a day without wind gusts) is left out and
    named: Evidently refuses it, and "no values" is not drift."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    empty = tuple(name for name in columns.all if _clean(current[name]).empty)
    watched = [name for name in columns.all if name not in empty]
    if not watched:
        return DriftRun({name: None for name in columns.all}, empty, None)
    definition = DataDefinition(
        numerical_columns=[c for c in columns.numeric if c in watched],
        categorical_columns=[c for c in columns.categorical if c in watched],
    )
    report = Report(
        [
            ValueDrift(column=name, method=columns.methods[name], threshold=thresholds[name])
            for name in watched
        ],
        include_tests=True,
    )
    frame = list(columns.all)
    snapshot = report.run(
        Dataset.from_pandas(current.loc[:, frame], data_definition=definition),
        Dataset.from_pandas(reference.loc[:, frame], data_definition=definition),
    )
    scores: dict[str, float | None] = {name: None for name in columns.all}
    for metric in snapshot.dict()["metrics"]:
        scores[metric["config"]["column"]] = float(metric["value"])
    return DriftRun(scores, empty, snapshot)


def ranked_drift(
    scores: Mapping[str, float | None],
    thresholds: Mapping[str, float],
    importance: Mapping[str, float],
) -> list[dict[str, Any]]:
    """Drifted columns first, each ranked by how far past its threshold it is, weighted by
    the model's permutation importance (the score column counts as the most important)."""
    top_importance = max([v for v in importance.values() if v > 0] or [1.0])
    rows = []
    for name, score in scores.items():
        if score is None:
            continue
        threshold = thresholds[name]
        weight = top_importance if name == SCORE_COLUMN else max(importance.get(name, 0.0), 0.0)
        excess = score / threshold if threshold > 0 else float("inf")
        rows.append(
            {
                "column": name,
                "score": round(score, 6),
                "threshold": round(threshold, 6),
                "drifted": score >= threshold,
                "importance": round(weight, 6),
                "weighted": round(excess * weight, 6),
            }
        )
    return sorted(rows, key=lambda r: (not r["drifted"], -r["weighted"], -r["score"]))
