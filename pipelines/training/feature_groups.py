"""What each feature group buys and costs, on every training run.

* **Contribution**: the drop in holdout ROC AUC when the group's columns are shuffled together
  (one row permutation for the whole group, so its columns stay consistent with each other),
  repeated with different permutations; the interval is the mean ± 1.96 standard errors of the
  repeats.
* **Cost**: seconds to build the group per million rows, timed as the feature table is built
  (`features.build.build_features_timed`, `read_build_seconds`).
* **Justified**: a group helps (the interval's lower bound is above zero) within its cost
  budget (`train.group_budget_seconds_per_million_rows`), or the reason it stays is written
  next to it (`FeatureGroup.keep_reason`). A group that is neither is named on the run
  (`features.unjustified`, and `features.over_budget` for cost): remove it or write why it stays.

Groups come from `features.build.FEATURE_GROUPS`, so a feature added later is reported too."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features import build
from features.build import feature_columns
from features.params import FeatureParams
from pipelines.storage import exists, read_text

Z_95 = 1.96


def grouped_permutation_drop(
    predict: Callable[[pd.DataFrame], np.ndarray],
    inputs: pd.DataFrame,
    y_true: np.ndarray,
    groups: dict[str, tuple[str, ...]],
    repeats: int,
    sample_rows: int,
    seed: int,
) -> pd.DataFrame:
    """Per group: mean drop in ROC AUC over `repeats` joint shuffles, and its 95% interval.

    `predict(frame) -> probabilities` is the fitted model's scoring function."""
    rng = np.random.default_rng(seed)
    if len(inputs) > sample_rows:
        picked = rng.choice(len(inputs), size=sample_rows, replace=False)
        inputs, y_true = inputs.iloc[picked].reset_index(drop=True), y_true[picked]
    base = roc_auc_score(y_true, predict(inputs))
    rows = []
    for name, columns in groups.items():
        drops = []
        for _ in range(repeats):
            shuffled = inputs.copy()
            order = rng.permutation(len(inputs))
            for column in columns:
                shuffled[column] = inputs[column].to_numpy()[order]
            drops.append(base - roc_auc_score(y_true, predict(shuffled)))
        values = np.asarray(drops)
        half = Z_95 * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else np.inf
        rows.append(
            {
                "group": name,
                "columns": ",".join(columns),
                "roc_auc_drop": float(values.mean()),
                "low": float(values.mean() - half),
                "high": float(values.mean() + half),
                "repeats": len(values),
            }
        )
    return pd.DataFrame(rows)


def group_columns(params: FeatureParams) -> dict[str, tuple[str, ...]]:
    """Every group's model inputs (together exactly the model's inputs)."""
    return {group.name: group.inputs(params) for group in build.FEATURE_GROUPS}


def ungrouped_features(params: FeatureParams) -> list[str]:
    """Model inputs no group reports (must be empty)."""
    grouped = {c for columns in group_columns(params).values() for c in columns}
    return [c for c in feature_columns(params) if c not in grouped]


def group_report(
    contribution: pd.DataFrame,
    seconds_per_million: dict[str, float],
    keep_reasons: dict[str, str],
    budget_seconds_per_million: float,
) -> pd.DataFrame:
    """Contribution, cost and whether each group is justified (helps within its budget, or a
    reason is written). A cost not measured (a table built elsewhere) is not held against it."""
    report = contribution.copy()
    cost = report["group"].map(seconds_per_million)
    report["build_seconds_per_million_rows"] = cost
    report["helps"] = report["low"] > 0
    report["within_budget"] = cost.isna() | (cost <= budget_seconds_per_million)
    report["keep_reason"] = report["group"].map(keep_reasons).fillna("")
    report["justified"] = (report["helps"] & report["within_budget"]) | (
        report["keep_reason"] != ""
    )
    return report


def unjustified_groups(report: pd.DataFrame) -> list[str]:
    return [str(name) for name in report.loc[~report["justified"], "group"]]


def over_budget_groups(report: pd.DataFrame) -> list[str]:
    return [str(name) for name in report.loc[~report["within_budget"], "group"]]


def per_million_rows(seconds: dict[str, float], rows: int) -> dict[str, float]:
    """Each group's build seconds on `rows` rows, scaled to a million rows."""
    return {name: value * 1e6 / max(rows, 1) for name, value in seconds.items()}


def build_seconds_uri(features_uri: str) -> str:
    """Where `dataset.make_feature_table` writes each group's build cost, beside the table."""
    return features_uri + ".build_seconds.json"


def read_build_seconds(features_uri: str) -> dict[str, float]:
    """Seconds per million rows of each feature group, as measured when the table was built
    (empty if it was built elsewhere)."""
    uri = build_seconds_uri(features_uri)
    return json.loads(read_text(uri)) if exists(uri) else {}


def keep_reasons() -> dict[str, str]:
    return {group.name: group.keep_reason for group in build.FEATURE_GROUPS}
