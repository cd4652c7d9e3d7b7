"""The paired comparisons a promotion decision rests on (pure): the interval of a metric's
difference between two models scored on the same rows (DeLong for ROC AUC, a paired bootstrap
otherwise), a metric per slice, and a model against each simpler model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pipelines.config import (
    HIGHER_IS_BETTER,  # noqa: E402
    PromotionPolicy,
)
from pipelines.training.evaluate import classification_metrics


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    method: str


def delong_auc_difference(
    y_true: np.ndarray, first: np.ndarray, second: np.ndarray, confidence: float
) -> Interval:
    """CI of AUC(first) - AUC(second) on the same rows (DeLong et al. 1988, fast midranks)."""
    y = np.asarray(y_true).astype(bool)
    positives, negatives = y.sum(), (~y).sum()
    if positives == 0 or negatives == 0:
        raise ValueError("the holdout needs both classes to compare ROC AUC")
    scores = np.vstack([first, second])
    aucs, v10, v01 = [], [], []
    for row in scores:
        pos, neg = row[y], row[~y]
        all_ranks = stats.rankdata(np.concatenate([pos, neg]))
        pos_ranks, neg_ranks = stats.rankdata(pos), stats.rankdata(neg)
        auc = (all_ranks[:positives].sum() - positives * (positives + 1) / 2) / (
            positives * negatives
        )
        aucs.append(auc)
        v10.append((all_ranks[:positives] - pos_ranks) / negatives)
        v01.append(1.0 - (all_ranks[positives:] - neg_ranks) / positives)
    s10, s01 = np.cov(np.array(v10)), np.cov(np.array(v01))
    variance = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / positives + (
        s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]
    ) / negatives
    difference = aucs[0] - aucs[1]
    z = stats.norm.ppf(0.5 + confidence / 2)
    half_width = z * float(np.sqrt(max(variance, 0.0)))
    return Interval(float(difference), difference - half_width, difference + half_width, "delong")


def _row_losses(metric: str, y: np.ndarray, probability: np.ndarray) -> np.ndarray:
    clipped = np.clip(probability, 1e-6, 1 - 1e-6)
    if metric == "log_loss":
        return -(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
    if metric == "brier":
        return (clipped - y) ** 2
    raise ValueError(f"{metric} is not a per-row loss")


def paired_bootstrap_difference(
    metric: str,
    y_true: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    samples: int,
    confidence: float,
    seed: int,
) -> Interval:
    """CI of metric(first) - metric(second), resampling the same rows for both models."""
    y = np.asarray(y_true, dtype=float)
    if metric in ("log_loss", "brier"):
        per_row = _row_losses(metric, y, first) - _row_losses(metric, y, second)
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(len(y), np.full(len(y), 1 / len(y)), size=samples)
        replicates = weights @ per_row / len(y)
        estimate = float(per_row.mean())
    else:
        rng = np.random.default_rng(seed)
        replicates_list = []
        for _ in range(samples):
            index = rng.integers(0, len(y), len(y))
            if y[index].min() == y[index].max():
                continue
            replicates_list.append(
                classification_metrics(y[index], first[index])[metric]
                - classification_metrics(y[index], second[index])[metric]
            )
        replicates = np.array(replicates_list)
        estimate = (
            classification_metrics(y, first)[metric] - classification_metrics(y, second)[metric]
        )
    tail = (1 - confidence) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    return Interval(float(estimate), float(low), float(high), "paired_bootstrap")


def metric_difference(
    metric: str,
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    policy: PromotionPolicy,
) -> Interval:
    if metric == "roc_auc":
        return delong_auc_difference(y, challenger, champion, policy.confidence)
    return paired_bootstrap_difference(
        metric, y, challenger, champion, policy.bootstrap_samples, policy.confidence, policy.seed
    )


def slice_table(
    y: np.ndarray, probability: np.ndarray, values: pd.Series, metric: str, min_size: int
) -> dict[str, dict[str, float]]:
    """The metric per slice value, for slices large enough and holding both classes."""
    frame = pd.DataFrame({"y": y, "p": probability, "slice": values.to_numpy()})
    table = {}
    for value, group in frame.groupby("slice", observed=True):
        if len(group) < min_size or group["y"].nunique() < 2:
            continue
        table[str(value)] = {
            "rows": float(len(group)),
            metric: classification_metrics(group["y"].to_numpy(), group["p"].to_numpy())[metric],
        }
    return table


@dataclass(frozen=True)
class Comparison:
    """The challenger against one simpler model on one metric, oriented so that positive
    means the challenger is better."""

    baseline: str
    metric: str
    estimate: float
    low: float
    high: float
    method: str

    @property
    def verdict(self) -> str:
        if self.low > 0:
            return "the challenger is better"
        if self.high < 0:
            return f"the simpler model ({self.baseline}) is better"
        return "no significant difference"


def compare_with_simpler_models(
    y: np.ndarray,
    probability: np.ndarray,
    baselines: dict[str, np.ndarray],
    metrics: tuple[str, ...],
    policy: PromotionPolicy,
) -> list[Comparison]:
    """Each simpler model on each metric, on the interval of the paired difference (DeLong for
    ROC AUC, a paired bootstrap for losses): what the decision and `mlops holdout` report."""
    comparisons = []
    for name, other in sorted(baselines.items()):
        for metric in metrics:
            interval = metric_difference(metric, y, probability, other, policy)
            if HIGHER_IS_BETTER[metric]:
                low, estimate, high = interval.low, interval.estimate, interval.high
            else:
                low, estimate, high = -interval.high, -interval.estimate, -interval.low
            comparisons.append(Comparison(name, metric, estimate, low, high, interval.method))
    return comparisons
