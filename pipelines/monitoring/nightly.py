"""The nightly monitoring of day D, as the `monitoring` DAG and `mlops monitor` run it.

1. D's published predictions (sampled when the day is big) and the version that scored them;
   that version's reference, stored with its MLflow run.
2. Drift of D's features and scores against the reference (Evidently, calibrated thresholds),
   ranked by drift × permutation importance.
3. The estimate of D's performance from its scores alone (CBPE), and over the rolling window.
4. Delayed labels: D-1's outcomes landed today; D-1's row gets its observed performance
   (Evidently's classification report), and the rolling window's ROC AUC its interval.
5. The verdict; `date=D/` reports, the history row, the on-call page, MLflow.

Re-running a date replaces its outputs and its history row; the row keeps the version that
scored D, whichever is champion at the time of the re-run.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.config import Params
from pipelines.data.landing import validated_uri
from pipelines.monitoring import current, drift, fingerprints, history, performance
from pipelines.monitoring import skew as skew_check
from pipelines.monitoring.alerts import RUNBOOK_BY_TRIGGER
from pipelines.monitoring.judge import Labelled, NightInputs, NightJudgement, WindowDay, judge_night
from pipelines.monitoring.reference import MonitoringReference, load_reference
from pipelines.run_cost import measured
from pipelines.storage import exists, join_uri, read_parquet, write_text
from pipelines.training.calibration import expected_calibration_error


def reports_root(params: Params) -> str:
    return params.workspace_path(params.monitoring.reports_dir)


def day_dir(params: Params, day: date) -> str:
    return join_uri(reports_root(params), f"date={day.isoformat()}")


def reference_cache(params: Params) -> Path:
    return Path(tempfile.gettempdir()) / "mlops-monitoring-reference"


@dataclass(frozen=True)
class DayPerformance:
    """One labelled day: its joined rows and what could not be joined."""

    day: date
    joined: performance.JoinedLabels


def scored_window(params: Params, day: date) -> dict[date, current.ScoredDay]:
    """D and the `rolling_days` days before it that were scored, each read once per night
    (the estimate and the labels both use them)."""
    found = {}
    for offset in range(params.monitoring.rolling_days + 1):
        earlier = day - timedelta(days=offset)
        try:
            found[earlier] = current.scored_day(params, earlier)
        except current.PredictionsMissing:
            continue
    return found


def labelled_day(params: Params, scored: current.ScoredDay) -> DayPerformance | None:
    """A scored day's (sampled) predictions joined to its validated outcomes; None while the
    outcomes are missing."""
    outcomes_uri = validated_uri(params, "outcomes", scored.day)
    if not exists(outcomes_uri):
        return None
    outcomes = read_parquet(outcomes_uri, columns=["flight_id", "arr_delay", "dep_time"])
    if scored.fraction < 1.0:
        outcomes = outcomes[current.sampled(outcomes["flight_id"], scored.fraction)]
    return DayPerformance(
        scored.day, performance.join_labels(scored.predictions, outcomes, params.features)
    )


def classification_report(labelled: pd.DataFrame) -> Any:
    """Evidently's classification preset on a labelled day (ROC AUC, log loss, confusion at
    the decision the served version made: its own threshold)."""
    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.metrics import MeanValue
    from evidently.presets import ClassificationPreset

    frame = pd.DataFrame(
        {
            "label": labelled["label"].astype(int).to_numpy(),
            "late_probability": labelled["late_probability"].to_numpy(),
            "predicted_late": labelled["predicted_late"].astype(int).to_numpy(),
        }
    )
    definition = DataDefinition(
        numerical_columns=["late_probability"],
        classification=[
            BinaryClassification(
                target="label",
                prediction_probas="late_probability",
                prediction_labels="predicted_late",
            )
        ],
    )
    report = Report(
        [ClassificationPreset(), MeanValue(column="label"), MeanValue(column="late_probability")]
    )
    return report.run(Dataset.from_pandas(frame, data_definition=definition), None)


def _evidently_values(snapshot: Any) -> dict[str, float]:
    values = {}
    for metric in snapshot.dict()["metrics"]:
        name = metric["metric_name"]
        if name.startswith("RocAuc("):
            values["roc_auc"] = float(metric["value"])
        elif name.startswith("LogLoss("):
            values["log_loss"] = float(metric["value"])
        elif name.startswith("MeanValue(column=label"):
            values["delay_rate"] = float(metric["value"])
    return values


def _save_snapshot(snapshot: Any, directory: str, name: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        html = Path(scratch) / f"{name}.html"
        snapshot.save_html(str(html))
        write_text(html.read_text(), join_uri(directory, f"{name}.html"))
        write_text(snapshot.json(), join_uri(directory, f"{name}.json"))


def actual_performance(params: Params, labelled: DayPerformance) -> dict[str, Any]:
    """D's observed figures (Evidently's report saved beside D's drift report)."""
    joined = labelled.joined
    fields: dict[str, Any] = {
        "labels": "in",
        "actual_rows": len(joined.labelled),
        "unmatched_outcomes": joined.unmatched_outcomes,
        "unlabelled_predictions": joined.unlabelled_predictions,
        "unobserved_arrivals": joined.unobserved,
    }
    figures = performance.observed_metrics(joined.labelled, params.monitoring.confidence)
    if "roc_auc" in figures:
        snapshot = classification_report(joined.labelled)
        _save_snapshot(snapshot, day_dir(params, labelled.day), "performance")
        from_evidently = _evidently_values(snapshot)
        figures.update(from_evidently)
        figures["calibration_error"] = expected_calibration_error(
            joined.labelled["label"], joined.labelled["late_probability"]
        )
    fields.update({f"actual_{k}": v for k, v in figures.items() if k != "rows"})
    return fields


def _reference_for(
    params: Params, scored: current.ScoredDay
) -> tuple[MonitoringReference, str, str]:
    """The reference of the version that scored D (the champion now, if D has no rows)."""
    from pipelines import registry

    version, run_id = scored.model_version, scored.model_run_id
    if version is None or run_id is None:
        champion = registry.resolve_alias(params.mlflow)
        if champion is None:
            raise LookupError(f"{scored.day} has no scored rows and no champion is set")
        version, run_id = champion.version, champion.run_id
    return load_reference(params.mlflow, version, run_id, reference_cache(params)), version, run_id


@dataclass(frozen=True)
class NightDrift:
    """D's drift: every watched column ranked (drifted first), and what could not be judged."""

    judged: bool  # enough rows to judge drift
    ranked: list[dict[str, Any]]
    empty: tuple[str, ...]
    scores: dict[str, float | None]  # Evidently's score per watched column (None: not judged)

    @property
    def drifted(self) -> list[str]:
        return [r["column"] for r in self.ranked if r["drifted"]]

    @property
    def share(self) -> float | None:
        inputs = [r for r in self.ranked if r["column"] != drift.SCORE_COLUMN]
        moved = [r for r in inputs if r["drifted"]]
        return len(moved) / len(inputs) if inputs else None


def drift_of_day(
    params: Params, scored: current.ScoredDay, reference: MonitoringReference
) -> tuple[NightDrift, pd.DataFrame]:
    """Evidently's report of D (saved as `drift.html`/`.json`), ranked by score × importance,
    and D's (sampled) features it was run on (empty when D is too small to judge). D is
    compared with the reference's days of its type (`reference.for_day`)."""
    reference = reference.for_day(scored.day)
    scores: dict[str, float | None] = {name: None for name in reference.columns.all}
    empty: tuple[str, ...] = ()
    thresholds = reference.thresholds
    judged = scored.rows >= params.monitoring.min_rows
    features = pd.DataFrame(columns=list(reference.columns.all))
    if judged:
        features = current.scored_features(params, scored)
        run = drift.drift_report(reference.sample, features, reference.columns, thresholds)
        scores, empty = run.scores, run.empty_columns
        if run.snapshot is not None:
            _save_snapshot(run.snapshot, day_dir(params, scored.day), "drift")
    ranked = drift.ranked_drift(scores, thresholds, reference.importance)
    return NightDrift(judged, ranked, empty, scores), features


def window_of_night(
    params: Params, day: date, window: dict[date, current.ScoredDay]
) -> tuple[tuple[WindowDay, ...], list[DayPerformance]]:
    """The scored days of the window, newest first, each with its labelled flights where its
    outcomes have landed (never D's own), and those labelled days joined."""
    days, found = [], []
    for earlier in sorted(window, reverse=True):
        scored = window[earlier]
        labelled = labelled_day(params, scored) if earlier < day else None
        if labelled is not None:
            found.append(labelled)
        rows = labelled.joined.labelled if labelled is not None else None
        days.append(
            WindowDay(
                day=earlier,
                version=str(scored.model_version),
                scores=scored.predictions["late_probability"].to_numpy(),
                labelled=(
                    Labelled(
                        rows["label"].to_numpy().astype(int), rows["late_probability"].to_numpy()
                    )
                    if rows is not None
                    else None
                ),
            )
        )
    return tuple(days), found


@dataclass(frozen=True)
class Night:
    """Everything known about night D once its signals are in."""

    scored: current.ScoredDay
    version: str
    run_id: str
    reference: MonitoringReference
    drift: NightDrift
    judgement: NightJudgement
    yesterday: DayPerformance | None  # D-1's labelled flights (its outcomes landed on D)


def previous_fingerprint(table: pd.DataFrame, day: date) -> fingerprints.Fingerprint | None:
    """The fingerprint of the latest monitored night before D in the history (None: none yet,
    or a history from before fingerprints)."""
    if "fingerprint" not in table:
        return None
    earlier = table.loc[(table["date"] < day.isoformat()) & table["fingerprint"].notna()]
    if earlier.empty:
        return None
    return fingerprints.Fingerprint.from_json(
        str(earlier.sort_values("date")["fingerprint"].iloc[-1])
    )


def serving_skew_of_day(
    params: Params, day: date, features: pd.DataFrame
) -> skew_check.SkewReport | None:
    """D's flights served online (the served log) against D's batch features; None when
    nothing was served for D."""
    from pipelines.serving.served_log import read_served

    served = read_served(params.workspace_path(params.serving.served_log_dir), day.isoformat())
    if served is None or features.empty:
        return None
    return _skew(params, served, features)


def batch_skew_of_day(params: Params, day: date) -> skew_check.SkewReport | None:
    """The features the night's batch scored its sample of D's flights with
    (`served_features/date=D`) against those flights' features built now from the validated
    store; None when the batch kept none."""
    from pipelines.scoring.publish import read_published
    from pipelines.scoring.shards import SERVED_FEATURES

    served = read_published(params, day, folder=SERVED_FEATURES)
    if served is None:
        return None
    kept = set(served["flight_id"])
    features = current.day_features(params, day, lambda ids: ids.isin(kept).to_numpy())
    return _skew(params, served, features)


def _skew(params: Params, served: pd.DataFrame, features: pd.DataFrame) -> skew_check.SkewReport:
    """Served rows against the store's features, on every model input, by the policy."""
    from features.build import feature_columns

    return skew_check.feature_skew(
        served,
        features,
        tuple(feature_columns(params.features)),
        params.monitoring.skew_tolerance,
        params.monitoring.skew_max_share,
    )


def monitor_day(params: Params, day: date, log_to_mlflow: bool = True) -> dict[str, Any]:
    """Monitor day D; returns its summary (also written to `date=D/summary.json`). What the
    night cost goes to the ledger (part `night`) and onto the monitoring run (`cost_*`)."""
    from pipelines.monitoring import tracking

    with measured(params, "monitoring", day, "night") as meter:
        summary = _monitor_day(params, day, log_to_mlflow)
        meter.wrote(day_dir(params, day))
    if meter.result is not None and summary.get("mlflow_run_id"):
        tracking.log_night_cost(
            params, summary["mlflow_run_id"], day, meter.result.mlflow_metrics()
        )
    return summary


def flights_to_explain(params: Params, labelled: DayPerformance | None) -> dict[str, Any] | None:
    """D-1's labelled flights with the largest log loss, for the page's `mlops explain` lines
    (None while D-1's labels are pending)."""
    if labelled is None:
        return None
    return {
        "date": labelled.day.isoformat(),
        "flights": performance.worst_flights(labelled.joined.labelled, params.explain.page_flights),
    }


def _monitor_day(params: Params, day: date, log_to_mlflow: bool) -> dict[str, Any]:
    from pipelines.monitoring import page, tracking

    window = scored_window(params, day)
    if day not in window:
        current.scored_day(params, day)  # raises PredictionsMissing, naming the path
    scored = window[day]
    reference, version, run_id = _reference_for(params, scored)
    night_drift, features = drift_of_day(params, scored, reference)
    days, labelled = window_of_night(params, day, window)
    skew = serving_skew_of_day(params, day, features)
    batch_skew = batch_skew_of_day(params, day)
    skewed = tuple(
        dict.fromkeys((*(skew.skewed if skew else ()), *(batch_skew.skewed if batch_skew else ())))
    )
    table = history.read_history(reports_root(params))
    fingerprint = fingerprints.night_fingerprint(params.landing_root, day)
    changes = fingerprints.changes_since(previous_fingerprint(table, day), fingerprint)
    inputs = NightInputs(
        day,
        version,
        scored.rows,
        features,
        night_drift.scores,
        days,
        skewed,
        tuple(changes["upstream"]),
        tuple(changes["packages"]),
    )
    yesterday = next((d for d in labelled if d.day == day - timedelta(days=1)), None)
    night = Night(
        scored,
        version,
        run_id,
        reference,
        night_drift,
        judge_night(inputs, reference, params.monitoring),
        yesterday,
    )
    summary = summarise(params, night)
    summary["serving_skew"] = skew.as_dict() if skew is not None else None
    summary["batch_skew"] = batch_skew.as_dict() if batch_skew is not None else None
    summary["changes_since_previous_night"] = changes
    summary["fingerprint"] = fingerprint.as_json()
    summary["flights_to_explain"] = flights_to_explain(params, night.yesterday)
    if night.yesterday is not None:
        fields = actual_performance(params, night.yesterday)
        table = history.update(table, night.yesterday.day.isoformat(), fields)
    table = history.upsert_night(table, history.night_row(summary))
    monitoring_run = None
    if log_to_mlflow:  # the run first: the page links it
        monitoring_run = tracking.monitoring_run_id(params, version, run_id)
        summary["mlflow_run_id"] = monitoring_run
        summary["mlflow_url"] = tracking.run_url(params, monitoring_run)
    directory = day_dir(params, day)
    write_text(
        json.dumps(summary, indent=2, sort_keys=True, default=str),
        join_uri(directory, "summary.json"),
    )
    history.write_history(table, reports_root(params))
    page.write_pages(params, day, summary, table)
    if monitoring_run is not None:
        tracking.log_night(params, monitoring_run, day, summary, directory)
    return summary


def summarise(params: Params, night: Night) -> dict[str, Any]:
    """The night as JSON: what the page, the history row, MLflow and the alert read."""
    settings = params.monitoring
    judgement, ranked = night.judgement, night.drift.ranked
    verdict = judgement.verdict
    runbooks = [RUNBOOK_BY_TRIGGER[t] for t in verdict.triggers if t in RUNBOOK_BY_TRIGGER]
    return {
        "date": night.scored.day.isoformat(),
        "model": {
            "name": params.mlflow.registered_model,
            "version": night.version,
            "run_id": night.run_id,
            "data_version": night.scored.model_data_version,
            "data_end": judgement.signals.data_end,
            "age_days": judgement.signals.model_age_days,
            "serving_since": judgement.judged_since.isoformat(),
        },
        "rows": night.scored.rows,
        "sampled_rows": len(night.scored.predictions),
        "sample_fraction": night.scored.fraction,
        "drift": {
            "judged": night.drift.judged,
            "share": night.drift.share,
            "drifted": night.drift.drifted,
            "top": ranked[: settings.top_columns],
            "columns": ranked,
            "empty_columns": list(night.drift.empty),
            "missing_features": list(judgement.missing_features),
            "prediction_drift_score": next(
                (r["score"] for r in ranked if r["column"] == drift.SCORE_COLUMN), None
            ),
        },
        "estimate": {
            "day": judgement.estimated_day,
            "window": judgement.estimated_window,
            "window_start": judgement.window_start.isoformat(),
        },
        "performance": {
            "labels_for_previous_day": "in" if night.yesterday else "pending",
            "labels_missing": list(judgement.labels_missing),
            "judged_since": judgement.judged_since.isoformat(),
            "window": asdict(judgement.observed) if judgement.observed else None,
            "holdout": {
                k: v for k, v in night.reference.holdout.items() if k.startswith("holdout_")
            },
        },
        "reference": {
            "window": night.reference.window,
            "false_alarms": {
                k: v for k, v in night.reference.false_alarms.items() if k != "per_column"
            },
        },
        "verdict": verdict.as_dict(),
        "runbooks": list(dict.fromkeys(runbooks)),  # worst signal's first
    }
