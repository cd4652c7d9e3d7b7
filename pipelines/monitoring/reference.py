"""The champion's monitoring reference, chosen and stored when its run is logged.

* `sample`: a seeded sample of the training rows' watched columns and the model's scores;
  the nightly drift compares a day against it and never re-reads the training data.
* `thresholds`: each column's drift threshold, a quantile of its drift scores over the
  training window's days (a normal day), with the per-day scores kept for audit.
* `false_alarms`: how often those thresholds fire on the holdout days (after the training
  window, not trained on): what on-call should expect from a healthy model.
* `calibration`: the holdout's scores and labels, for the performance estimate.
* `importance`, `holdout`: the permutation importance and holdout figures at training.

Stored as artifacts of the model's MLflow run under `monitoring_reference/`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from features.build import CATEGORICAL_FEATURES, model_inputs, numeric_features
from features.calendar import day_type
from pipelines.config import MlflowParams, Params
from pipelines.monitoring import drift
from pipelines.monitoring.estimate import Calibrator, fit_calibrator
from pipelines.monitoring.verdict import Signals, drift_level, important_features
from pipelines.training.candidate import Candidate
from pipelines.training_window import TrainingWindow, in_window

ARTIFACT_DIR = "monitoring_reference"
_FILES = ("sample.parquet", "calibration.parquet", "daily_scores.parquet", "reference.json")


class ReferenceMissing(LookupError):
    """The model version's run has no stored reference (a version older than monitoring)."""


@dataclass(frozen=True)
class MonitoringReference:
    sample: pd.DataFrame
    calibration: pd.DataFrame
    daily_scores: (
        pd.DataFrame
    )  # one row per day: `day`, `period` (train/holdout), a score per column
    columns: drift.DriftColumns
    thresholds: dict[str, float]
    importance: dict[str, float]
    holdout: dict[str, float]
    false_alarms: dict[str, Any]
    window: dict[str, str]
    # per day type (`features.calendar.day_type`): thresholds calibrated on the training days
    # of that type against the sample's rows of that type; empty: one reference for every day
    thresholds_by_day_type: dict[str, dict[str, float]] = field(default_factory=dict)

    def for_day(self, day: date) -> MonitoringReference:
        """The reference night D is compared with: the sample's days of D's type (a Saturday
        with Saturdays, a holiday with them too) and the thresholds calibrated the same way, so
        a normal Saturday is not "drift". Falls back to the whole reference when the training
        window had too few days of that type."""
        kind = day_type(day)
        thresholds = self.thresholds_by_day_type.get(kind)
        if not thresholds:
            return self
        typed = self.sample.loc[_day_types(self.sample["flight_date"]) == kind]
        return replace(self, sample=typed.reset_index(drop=True), thresholds=thresholds)

    @property
    def calibrator(self) -> Calibrator:
        return fit_calibrator(
            self.calibration["late_probability"].to_numpy(), self.calibration["label"].to_numpy()
        )

    def important(self, count: int) -> tuple[str, ...]:
        return important_features(self.importance, count)


def _daily_scores(
    frame: pd.DataFrame, sample: pd.DataFrame, columns: drift.DriftColumns, period: str
) -> pd.DataFrame:
    rows = [
        {
            "day": day,
            "period": period,
            "rows": len(part),
            **drift.drift_scores(sample, part, columns),
        }
        for day, part in frame.groupby("flight_date", sort=True)
    ]
    return pd.DataFrame(rows)


def _day_types(flight_date: pd.Series) -> pd.Series:
    kinds = {d: day_type(date.fromisoformat(str(d)[:10])) for d in flight_date.unique()}
    return flight_date.map(kinds)


#: A day type needs at least this many training days to get its own thresholds.
MIN_DAYS_PER_TYPE = 8


def typed_thresholds(
    train_scored: pd.DataFrame,
    sample: pd.DataFrame,
    columns: drift.DriftColumns,
    quantiles: tuple[float, float],
    floor: dict[str, float],
) -> dict[str, dict[str, float]]:
    """Per day type: each training day of that type scored against the sample's rows of that
    type, and the thresholds their quantiles give, at least `floor` (the whole reference's);
    types with too few days are left out."""
    out: dict[str, dict[str, float]] = {}
    train_types = _day_types(train_scored["flight_date"])
    sample_types = _day_types(sample["flight_date"])
    for kind in sorted(set(train_types)):
        days = train_scored.loc[train_types == kind]
        typed_sample = sample.loc[sample_types == kind]
        if days["flight_date"].nunique() < MIN_DAYS_PER_TYPE or len(typed_sample) < 200:
            continue
        scores = _daily_scores(days, typed_sample, columns, "train")
        typed = drift.calibrate_thresholds(scores.loc[:, list(columns.all)], *quantiles)
        # never stricter than the whole reference: a short window's few days of one type
        # set too low a tail (a month of weekdays alarmed on most of the next month's)
        out[kind] = {name: max(value, floor[name]) for name, value in typed.items()}
    return out


def _scored(frame: pd.DataFrame, model: Any, params: Params) -> pd.DataFrame:
    scored = frame.copy()
    scored[drift.SCORE_COLUMN] = model.predict_proba(model_inputs(frame, params.features))[:, 1]
    return scored


def false_alarm_rates(
    holdout_scores: pd.DataFrame,
    thresholds: dict[str, float],
    importance: dict[str, float],
    params: Params,
) -> dict[str, Any]:
    """The drift verdicts the thresholds give on days the model never saw (labels aside)."""
    policy = params.monitoring.verdict
    important = important_features(importance, policy.important_features)
    levels: list[str] = []
    per_column: dict[str, int] = {}
    for row in holdout_scores.to_dict("records"):
        scores = {name: row.get(name) for name in thresholds}
        valid = {k: float(v) for k, v in scores.items() if pd.notna(v)}
        drifted = drift.drifted(valid, thresholds)
        for name in drifted:
            per_column[name] = per_column.get(name, 0) + 1
        signals = Signals(
            drifted=tuple(drifted),
            important=important,
            rows=int(row["rows"]),
            min_rows=params.monitoring.min_rows,
            holdout_roc_auc=float("nan"),  # drift alone: performance is not part of this rate
            estimated_roc_auc=None,
            observed=None,
            severe=drift.severe_drift(valid, thresholds, policy.severe_drift_factor),
        )
        levels.append(drift_level(signals, policy))
    days = max(len(levels), 1)
    return {
        "days": len(levels),
        "watch_or_act": sum(level != "ok" for level in levels) / days,
        "act": sum(level == "act" for level in levels) / days,
        "per_column": {name: count / days for name, count in per_column.items()},
    }


def scheduled_split(window: pd.DataFrame, holdout_start: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every scheduled flight of the window, split by date as training splits it.

    Unlike the training split, flights without a label (cancelled, diverted) stay: the night
    compares all the flights it scored, and a storm day's cancellations are part of its normal."""
    is_holdout = window["flight_date"] >= holdout_start.isoformat()
    return window.loc[~is_holdout], window.loc[is_holdout]


def build_reference(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    model: Any,
    importance: dict[str, float],
    holdout_metrics: dict[str, float],
    params: Params,
) -> MonitoringReference:
    """Sample, calibrate the thresholds on the training days, measure them on the holdout's.

    `train` and `holdout` are every scheduled flight of their days (`scheduled_split`); the
    performance estimate is calibrated on the holdout's labelled ones."""
    settings = params.monitoring
    columns = drift.drift_columns(numeric_features(params.features), CATEGORICAL_FEATURES, settings)
    train_scored, holdout_scored = _scored(train, model, params), _scored(holdout, model, params)
    keep = ["flight_date", *columns.all]
    sample = (
        train_scored.sample(
            n=min(settings.reference_rows, len(train_scored)), random_state=settings.reference_seed
        )
        .loc[:, keep]
        .reset_index(drop=True)
    )
    train_days = _daily_scores(train_scored, sample, columns, "train")
    holdout_days = _daily_scores(holdout_scored, sample, columns, "holdout")
    quantiles = (settings.threshold_quantile, settings.prediction_threshold_quantile)
    thresholds = drift.calibrate_thresholds(train_days.loc[:, list(columns.all)], *quantiles)
    by_type = (
        typed_thresholds(train_scored, sample, columns, quantiles, thresholds)
        if settings.drift_by_day_type
        else {}
    )
    labelled = holdout_scored.dropna(subset=["label"])
    return MonitoringReference(
        sample=sample,
        calibration=pd.DataFrame(
            {
                "flight_date": labelled["flight_date"].to_numpy(),
                "late_probability": labelled[drift.SCORE_COLUMN].to_numpy(),
                "label": labelled["label"].to_numpy().astype(int),
            }
        ),
        daily_scores=pd.concat([train_days, holdout_days], ignore_index=True),
        columns=columns,
        thresholds=thresholds,
        importance={k: float(v) for k, v in importance.items()},
        holdout={k: float(v) for k, v in holdout_metrics.items()},
        false_alarms=false_alarm_rates(holdout_days, thresholds, importance, params),
        thresholds_by_day_type=by_type,
        window={
            "train_start": str(train["flight_date"].min()),
            "train_end": str(train["flight_date"].max()),
            "holdout_start": str(holdout["flight_date"].min()),
            "holdout_end": str(holdout["flight_date"].max()),
        },
    )


def reference_of(
    labelled: pd.DataFrame,
    window: TrainingWindow,
    model: Any,
    importance: dict[str, float],
    holdout_metrics: dict[str, float],
    params: Params,
) -> MonitoringReference:
    """The reference of a model fitted on `window` of `labelled` (every scheduled flight of the
    window's days): what the nightly job, the replay and the backtest all compare against."""
    return build_reference(
        *scheduled_split(in_window(labelled, window), window.holdout_start),
        model,
        importance,
        holdout_metrics,
        params,
    )


def reference_of_candidate(
    candidate: Candidate, labelled: pd.DataFrame, params: Params
) -> MonitoringReference:
    """`reference_of` a candidate in memory (the replay and the backtest; the training DAG
    builds the same from the logged run, `rebuild.reference_for_run`)."""
    return reference_of(
        labelled,
        candidate.window,
        candidate.model,
        candidate.importance.to_dict(),
        candidate.metrics,
        params,
    )


def save_reference(reference: MonitoringReference, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    reference.sample.to_parquet(directory / "sample.parquet", index=False)
    reference.calibration.to_parquet(directory / "calibration.parquet", index=False)
    reference.daily_scores.to_parquet(directory / "daily_scores.parquet", index=False)
    meta = {
        "numeric": list(reference.columns.numeric),
        "categorical": list(reference.columns.categorical),
        "methods": reference.columns.methods,
        "thresholds": reference.thresholds,
        "importance": reference.importance,
        "holdout": reference.holdout,
        "false_alarms": reference.false_alarms,
        "window": reference.window,
        "thresholds_by_day_type": reference.thresholds_by_day_type,
        "rows": len(reference.sample),
    }
    (directory / "reference.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    return directory


def read_reference(directory: Path) -> MonitoringReference:
    meta = json.loads((directory / "reference.json").read_text())
    return MonitoringReference(
        sample=pd.read_parquet(directory / "sample.parquet"),
        calibration=pd.read_parquet(directory / "calibration.parquet"),
        daily_scores=pd.read_parquet(directory / "daily_scores.parquet"),
        columns=drift.DriftColumns(
            tuple(meta["numeric"]), tuple(meta["categorical"]), dict(meta["methods"])
        ),
        thresholds={k: float(v) for k, v in meta["thresholds"].items()},
        importance=meta["importance"],
        holdout=meta["holdout"],
        false_alarms=meta["false_alarms"],
        window=meta["window"],
        thresholds_by_day_type={
            kind: {k: float(v) for k, v in values.items()}
            for kind, values in meta.get("thresholds_by_day_type", {}).items()
        },
    )


def log_reference(params: MlflowParams, run_id: str, reference: MonitoringReference) -> None:
    """Store the reference with the model's run (and its false-alarm rate as run metrics)."""
    from pipelines import registry

    client = registry.client(params)
    with tempfile.TemporaryDirectory() as scratch:
        client.log_artifacts(run_id, str(save_reference(reference, Path(scratch))), ARTIFACT_DIR)
    client.log_metric(
        run_id, "monitoring_false_alarm_watch_or_act", reference.false_alarms["watch_or_act"]
    )
    client.log_metric(run_id, "monitoring_false_alarm_act", reference.false_alarms["act"])


def load_reference(
    params: MlflowParams, version: str, run_id: str, cache_dir: Path
) -> MonitoringReference:
    """The reference stored with the version's run (cached on disk: a run's artifacts never
    change). A run without one raises `ReferenceMissing` naming the command that builds it."""
    from pipelines import registry

    target = cache_dir / run_id
    if not all((target / ARTIFACT_DIR / name).exists() for name in _FILES):
        client = registry.client(params)
        try:
            listed = {Path(f.path).name for f in client.list_artifacts(run_id, ARTIFACT_DIR)}
        except Exception as error:
            raise registry.RegistryUnavailable(
                f"cannot list the artifacts of run {run_id} at {params.tracking_uri}: {error}"
            ) from error
        if not set(_FILES) <= listed:
            raise ReferenceMissing(
                f"model version {version} (run {run_id}) has no monitoring reference; build it "
                f"once with `mlops monitoring-reference --model-version {version}`"
            )
        # Downloaded beside the cache, then renamed into place: a concurrent reader never
        # sees half a reference.
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{run_id}-", dir=cache_dir))
        client.download_artifacts(run_id, ARTIFACT_DIR, str(staging))
        try:
            staging.rename(target)
        except OSError:  # another process won the race: its copy is the same
            shutil.rmtree(staging, ignore_errors=True)
    return read_reference(target / ARTIFACT_DIR)
