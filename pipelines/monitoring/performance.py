"""Delayed-label performance: D's predictions joined to D's outcomes (landed on D+1).

Pure functions on frames; reading the partitions is `nightly.labelled_predictions`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from features import label
from features.params import FeatureParams
from pipelines.training.evaluate import classification_metrics


@dataclass(frozen=True)
class JoinedLabels:
    """Predictions with their label; what could not be matched either way is counted."""

    labelled: pd.DataFrame  # flight_id, late_probability, label (unobserved arrivals dropped)
    unmatched_outcomes: int  # outcome keys with no prediction (a flight added after scoring)
    unlabelled_predictions: int  # predictions with no outcome row
    unobserved: int  # cancelled / diverted under `unobserved_arrival: exclude`


def join_labels(
    predictions: pd.DataFrame, outcomes: pd.DataFrame, params: FeatureParams
) -> JoinedLabels:
    """Join on the flight key; the label is the training label (`features.label.is_late`)."""
    labels = pd.DataFrame(
        {
            "flight_id": outcomes["flight_id"].to_numpy(),
            "label": label.is_late(
                outcomes["arr_delay"],
                outcomes["dep_time"],
                params.label_delay_minutes,
                params.unobserved_arrival,
            ).to_numpy(),
        }
    )
    kept = [c for c in ("flight_id", "late_probability", "predicted_late") if c in predictions]
    joined = predictions.loc[:, kept].merge(
        labels, on="flight_id", how="outer", indicator=True, validate="one_to_one"
    )
    both = joined[joined["_merge"] == "both"]
    observed = both.dropna(subset=["label"])
    return JoinedLabels(
        labelled=observed.loc[:, [*kept, "label"]].reset_index(drop=True),
        unmatched_outcomes=int((joined["_merge"] == "right_only").sum()),
        unlabelled_predictions=int((joined["_merge"] == "left_only").sum()),
        unobserved=int(len(both) - len(observed)),
    )


def auc_interval(y: np.ndarray, score: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """ROC AUC and its DeLong confidence interval (one model, one sample)."""
    y = np.asarray(y).astype(bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives < 2 or negatives < 2:
        return float("nan"), float("nan"), float("nan")
    pos, neg = score[y], score[~y]
    all_ranks = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (all_ranks[:positives] - stats.rankdata(pos)) / negatives
    v01 = 1.0 - (all_ranks[positives:] - stats.rankdata(neg)) / positives
    auc = float(v10.mean())
    variance = np.var(v10, ddof=1) / positives + np.var(v01, ddof=1) / negatives
    half = float(stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(max(variance, 0.0)))
    return auc, auc - half, auc + half


def observed_metrics(labelled: pd.DataFrame, confidence: float) -> dict[str, float]:
    """ROC AUC (with its interval), PR AUC, log loss, Brier, delay rate, rows."""
    y = labelled["label"].to_numpy().astype(int)
    p = labelled["late_probability"].to_numpy()
    out: dict[str, float] = {
        "rows": float(len(y)),
        "delay_rate": float(y.mean()) if len(y) else float("nan"),
    }
    if len(np.unique(y)) < 2:
        return out
    out.update(classification_metrics(y, p))
    _, out["roc_auc_low"], out["roc_auc_high"] = auc_interval(y, p, confidence)
    out["mean_probability"] = float(p.mean())
    return out


#: Probabilities are clipped here before the log: a score of exactly 0 or 1 that was wrong
#: still ranks first without making the loss infinite.
LOG_LOSS_EPSILON = 1e-15


def worst_flights(labelled: pd.DataFrame, rows: int) -> list[dict[str, object]]:
    """The `rows` labelled flights with the largest log loss (the confidently wrong ones that
    drive a bad night's errors), worst first, each with its share of the day's summed log
    loss: what on-call runs `mlops explain` on."""
    if rows < 1 or labelled.empty:
        return []
    y = labelled["label"].to_numpy().astype(int)
    p = np.clip(labelled["late_probability"].to_numpy(dtype=float), LOG_LOSS_EPSILON, 1.0)
    p = np.minimum(p, 1.0 - LOG_LOSS_EPSILON)
    loss = -(y * np.log(p) + (1 - y) * np.log(1.0 - p))
    worst = np.argsort(-loss, kind="stable")[:rows]
    total = float(loss.sum())
    return [
        {
            "flight_id": str(labelled["flight_id"].iloc[i]),
            "late_probability": float(labelled["late_probability"].iloc[i]),
            "predicted_late": (
                bool(labelled["predicted_late"].iloc[i]) if "predicted_late" in labelled else None
            ),
            "late": bool(y[i]),
            "log_loss": float(loss[i]),
            "share_of_log_loss": float(loss[i]) / total if total > 0 else 0.0,
        }
        for i in worst
    ]
