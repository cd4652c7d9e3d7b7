"""Training as the CLI, `dvc.yaml` and the DAGs call it: I/O at the edges, the pure steps
(features/, train.py, evaluate.py) in the middle."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.build import model_inputs
from pipelines.config import REPO_ROOT, Params
from pipelines.data.versioning import DataVersion, file_uncommitted, git_revision
from pipelines.registry import ModelVersionRef
from pipelines.run_cost import measured
from pipelines.storage import read_parquet
from pipelines.training import evaluate, feature_groups, tracking
from pipelines.training.candidate import fit_candidate
from pipelines.training_window import TrainingWindow, fixed_window


@dataclass(frozen=True)
class TrainingResult:
    run_id: str
    metrics: dict[str, float]


#: The code a model is fitted and served with: uncommitted changes here make a run unpromotable
SOURCE_FOLDERS = ("pipelines", "features", "dags", "orchestration")


def train_and_log(
    params: Params,
    features_uri: str,
    data_version: DataVersion,
    reports_dir: Path,
    run_name: str,
    extra_tags: dict[str, str] | None = None,
    validation: list[dict[str, Any]] | None = None,
    window: TrainingWindow | None = None,
) -> TrainingResult:
    """Fit the configured model and the baselines on the window's temporal split (default: the
    fixed window of params.yaml) with `fit_candidate`; log all of it to MLflow. The run's
    monitoring reference is the monitoring stage's next step (`rebuild.reference_for_run`).

    What the fit cost (CPU, wall, peak memory, the artifacts' bytes) goes to the cost ledger
    (the window's day, its name as the part) and onto the run as `cost_*` metrics."""
    window = window or fixed_window(params)
    with measured(params, "training", training_day(window), window.name) as meter:
        result = _fit_and_log(
            params,
            features_uri,
            data_version,
            reports_dir,
            run_name,
            extra_tags,
            validation,
            window,
        )
        meter.wrote_bytes(tracking.artifact_bytes(params.mlflow, result.run_id))
    if meter.result is not None:
        tracking.log_cost(params.mlflow, result.run_id, meter.result.mlflow_metrics())
    return result


def training_day(window: TrainingWindow) -> date:
    """The day a training run is counted on: its decision day, or the day after a fixed
    window's last labelled day (when it could first have run)."""
    return window.as_of or window.end + timedelta(days=1)


def _fit_and_log(
    params: Params,
    features_uri: str,
    data_version: DataVersion,
    reports_dir: Path,
    run_name: str,
    extra_tags: dict[str, str] | None,
    validation: list[dict[str, Any]] | None,
    window: TrainingWindow,
) -> TrainingResult:
    candidate = fit_candidate(read_parquet(features_uri), window, params)
    split, fitted, importances = candidate.split, candidate.fitted, candidate.importance
    y_holdout = split.holdout["label"].astype(int).to_numpy()
    model, curves, metrics, family = fitted.model, fitted.curves, fitted.metrics, fitted.family
    holdout_inputs = model_inputs(split.holdout, params.features)
    slices = evaluate.slice_quality(
        split.holdout, y_holdout, curves[family], _slice_min_rows(params)
    )
    groups = feature_group_report(
        params, model, holdout_inputs, y_holdout, feature_groups.read_build_seconds(features_uri)
    )
    plotted = {name: curves[name] for name in curves if name != "base_rate"}
    before_after = {**plotted, f"{family} before calibration": fitted.uncalibrated}
    figures = {
        "roc": evaluate.roc_figure(y_holdout, plotted),
        "precision_recall": evaluate.precision_recall_figure(y_holdout, plotted),
        "calibration": evaluate.calibration_figure(y_holdout, before_after),
        "feature_importance": evaluate.importance_figure(importances),
    }
    code = git_revision(REPO_ROOT)
    tags = {
        "data.dvc_md5": data_version.md5,
        "data.dvc_path": data_version.path,
        "data.dvc_remote": data_version.remote,
        "data.git_rev": data_version.git_rev,
        "data.git_dirty": str(data_version.git_dirty).lower(),
        "data.snapshot_start": window.train_start.isoformat(),
        "data.snapshot_end": window.end.isoformat(),
        "window.kind": "moving" if window.as_of else "fixed",
        "window.as_of": window.as_of.isoformat() if window.as_of else "",
        "code.git_rev": code.git_rev,
        "code.git_dirty": str(code.git_dirty).lower(),
        # The code that fits and params.yaml as the run read them, not as committed (an edit,
        # a `dvc exp run -S`): the promotion refuses such a run (`rules.committed_tree_check`).
        # code.git_dirty above is the whole checkout's (a landed dvc.lock counts there).
        "code.source_dirty": str(file_uncommitted(REPO_ROOT, *SOURCE_FOLDERS)).lower(),
        "params.git_dirty": str(file_uncommitted(params.workspace, "params.yaml")).lower(),
        "model.family": family,
        "model.hyperparameters": json.dumps(fitted.hyperparameters, sort_keys=True),
        "model.search": fitted.tuning.summary() if fitted.tuning else "off",
        "model.decision_threshold": f"{fitted.decision_threshold:.6g}",
        "model.calibration": (
            f"{params.train.calibration.method} on {fitted.calibration_dates[0]}.."
            f"{fitted.calibration_dates[1]} (the fit ends before); threshold for a missed delay "
            f"costing {params.train.calibration.missed_delay_cost:g} false alarms"
        ),
        "split.train_start": split.train_dates[0],
        "split.train_end": split.train_dates[1],
        "split.holdout_start": split.holdout_dates[0],
        "split.holdout_end": split.holdout_dates[1],
        "data.validation": _validation_status(validation),
        "slices.weakest": evaluate.weakest_slices(slices),
        "features.unjustified": ",".join(feature_groups.unjustified_groups(groups)) or "none",
        "features.over_budget": ",".join(feature_groups.over_budget_groups(groups)) or "none",
        **(extra_tags or {}),
    }
    run_params = {
        "model": family,
        "seed": params.train.seed,
        "holdout_start": window.holdout_start.isoformat(),
        "cutoff_hours_before_day": params.features.cutoff_hours_before_day,
        "unobserved_arrival": params.features.unobserved_arrival,
        "label_delay_minutes": params.features.label_delay_minutes,
        **{f"hp.{k}": v for k, v in fitted.hyperparameters.items()},
    }
    metrics = {
        **metrics,
        **{f"group_drop_{r.group}": float(r.roc_auc_drop) for r in groups.itertuples()},
    }
    points = evaluate.curve_points(y_holdout, curves[family])
    _write_reports(reports_dir, metrics, figures, importances, points)
    slices.to_csv(reports_dir / "slices.csv", index=False)
    groups.to_csv(reports_dir / "feature_groups.csv", index=False)
    sample = holdout_inputs.sample(n=min(1000, len(holdout_inputs)), random_state=params.train.seed)
    run_id = tracking.log_training_run(
        params.mlflow,
        run_name,
        model,
        sample,
        sample.head(5),
        run_params,
        metrics,
        tags,
        figures,
        {
            "feature_importance.json": importances.to_dict(),
            "data_version.json": data_version.as_dict(),
            "data_validation.json": {"reports": validation or []},
            "slices.json": {"slices": slices.to_dict("records")},
            "feature_groups.json": {"groups": groups.to_dict("records")},
            "search.json": fitted.tuning.as_dict() if fitted.tuning else {"search": "off"},
        },
    )
    weekly = evaluate.metrics_by_week(
        split.holdout["flight_date"],
        y_holdout,
        curves[family],
        window.holdout_start.isoformat(),
    )
    tracking.log_by_week(params.mlflow, run_id, weekly)
    if fitted.tuning:
        tracking.log_trials(params.mlflow, run_id, fitted.tuning)
    weekly.to_csv(reports_dir / "holdout_by_week.csv", index=False)
    # What `mlops monitoring-reference --run-file` (the next `dvc.yaml` stage) builds on.
    (reports_dir / "run.json").write_text(json.dumps({"run_id": run_id}, indent=2) + "\n")
    return TrainingResult(run_id=run_id, metrics=metrics)


def feature_group_report(
    params: Params,
    model: Any,
    holdout_inputs: pd.DataFrame,
    y_holdout: np.ndarray,
    build_seconds: dict[str, float],
) -> pd.DataFrame:
    """Each feature group's holdout contribution with its interval, its build cost, and
    whether it is justified (`pipelines/training/feature_groups.py`)."""
    contribution = feature_groups.grouped_permutation_drop(
        lambda frame: model.predict_proba(frame)[:, 1],
        holdout_inputs,
        y_holdout,
        feature_groups.group_columns(params.features),
        params.train.group_importance_repeats,
        params.train.importance_sample_rows,
        params.train.seed,
    )
    return feature_groups.group_report(
        contribution,
        build_seconds,
        feature_groups.keep_reasons(),
        params.train.group_budget_seconds_per_million_rows,
    )


def _slice_min_rows(params: Params) -> int:
    """Slices smaller than the promotion rule's smallest judged slice are only listed."""
    return min((rule.min_size for rule in params.promotion.slices), default=500)


def _validation_status(validation: list[dict[str, Any]] | None) -> str:
    """`passed`, `passed_with_warnings`, or `not_run` (e.g. `dvc repro` without the gate)."""
    if not validation:
        return "not_run"
    warned = any(report.get("warnings") for report in validation)
    return "passed_with_warnings" if warned else "passed"


def _write_reports(
    reports_dir: Path,
    metrics: dict[str, float],
    figures: dict[str, Any],
    importances: pd.Series,
    curves: dict[str, pd.DataFrame],
) -> None:
    """Metrics and plots on disk too, for `dvc metrics show` / `dvc plots show`, and the
    model's curves as data (`curves/<curve>.csv`, small and versioned in git, unlike the
    images) for `dvc plots diff` against main."""
    plots_dir = reports_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / "curves").mkdir(exist_ok=True)
    for name, points in curves.items():
        points.round(6).to_csv(reports_dir / "curves" / f"{name}.csv", index=False)
    (reports_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    importances.rename("roc_auc_drop").rename_axis("feature").reset_index().to_csv(
        reports_dir / "feature_importance.csv", index=False
    )
    for name, figure in figures.items():
        figure.savefig(plots_dir / f"{name}.png", dpi=100)


def register(params: Params, run_id: str) -> ModelVersionRef:
    return tracking.register_model(params.mlflow, run_id)
