"""Holdout figures with no server: the README's table (`mlops holdout`): the model fitted as
training fits it, against the simpler models as the promotion decision compares them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import pandas as pd

from features.build import BuildInputs, attach_labels, build_features_timed, model_inputs
from pipelines.config import Params
from pipelines.data import landing, snapshot
from pipelines.promotion import statistics
from pipelines.training import feature_groups
from pipelines.training.candidate import fit_candidate
from pipelines.training.steps import feature_group_report
from pipelines.training_window import fixed_window
from pipelines.upstream import delivery


@dataclass(frozen=True)
class HoldoutReport:
    metrics: dict[str, float]
    feature_groups: pd.DataFrame  # contribution, cost, justified (feature_groups.group_report)
    family: str
    hyperparameters: dict[str, Any]
    search: dict[str, Any]  # the search's result (folds, each family's best, trials), or {}
    versus_simpler_models: pd.DataFrame  # the model minus each baseline, with its interval


def labelled_snapshot_window(
    params: Params, landing_root: str
) -> tuple[pd.DataFrame, dict[str, float], int]:
    """Land the snapshot window from the upstream source into `landing_root` and build its
    labelled features as training does, with no server; also each group's build seconds and
    the rows built."""
    start, end = params.data.snapshot_start, params.data.snapshot_end
    delivery.land_days(landing_root, landing.days(start, end + timedelta(days=1)))
    tables = snapshot.collect_snapshot(landing_root, start, end)
    features, seconds = build_features_timed(
        BuildInputs(tables["flights"], tables["weather"], params.features)
    )
    labelled = attach_labels(features, tables["outcomes"], params.features)
    return labelled, seconds, len(features)


def holdout_figures(params: Params, landing_root: str) -> HoldoutReport:
    """Land the snapshot window from the upstream source into `landing_root`, then features,
    split, fit and score exactly as training does, with no server: the README's holdout table
    and its feature-group table."""
    labelled, seconds, built_rows = labelled_snapshot_window(params, landing_root)
    candidate = fit_candidate(labelled, fixed_window(params), params)
    split, fitted = candidate.split, candidate.fitted
    groups = feature_group_report(
        params,
        fitted.model,
        model_inputs(split.holdout, params.features),
        split.holdout["label"].astype(int).to_numpy(),
        feature_groups.per_million_rows(seconds, built_rows),
    )
    y = split.holdout["label"].astype(int).to_numpy()
    baselines = {
        "logistic_regression": fitted.curves["logistic_regression_baseline"],
        "base_rate": fitted.curves["base_rate"],
    }
    comparisons = statistics.compare_with_simpler_models(
        y, fitted.curves[fitted.family], baselines, ("roc_auc", "log_loss"), params.promotion
    )
    versus = pd.DataFrame([{**asdict(c), "verdict": c.verdict} for c in comparisons])
    return HoldoutReport(
        fitted.metrics,
        groups,
        fitted.family,
        fitted.hyperparameters,
        fitted.tuning.as_dict() if fitted.tuning else {},
        versus,
    )
