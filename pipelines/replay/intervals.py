"""Paired intervals that respect that neighbouring days are alike: a circular block bootstrap.

Days are resampled in blocks of `block_days` consecutive days (the same blocks for both
policies: the pairing), and three figures are compared on every draw: the pooled ROC AUC (the
headline, which ranks flights of different months against each other), the mean of daily ROC
AUC (each day ranks its own flights only) and the pooled log loss (lower is better; the
difference is reported as other − policy so that positive always means `policy` is better).

A resampled day enters with a weight (how often it was drawn), so a draw costs one pass over
the flights sorted once, not a concatenation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.monitoring.drift import SCORE_COLUMN

METRICS = ("pooled_roc_auc", "mean_daily_roc_auc", "pooled_log_loss")


def circular_blocks(days: int, block_days: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of `days` days is drawn by one circular block bootstrap sample."""
    block = max(1, min(block_days, days))
    starts = rng.integers(0, days, int(np.ceil(days / block)))
    picked = ((starts[:, None] + np.arange(block)[None, :]) % days).ravel()[:days]
    return np.bincount(picked, minlength=days).astype(float)


@dataclass(frozen=True)
class _Flights:
    """One policy's labelled flights over the compared days, sorted by score once."""

    y: np.ndarray
    day_index: np.ndarray  # each flight's day (index into the compared days)
    group: np.ndarray  # each flight's tie group (equal scores)
    groups: int
    daily_roc_auc: np.ndarray  # per day (NaN: one class only)
    daily_loss_sum: np.ndarray
    daily_rows: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, days: list[str]) -> _Flights:
        position = {d: i for i, d in enumerate(days)}
        frame = frame.loc[frame["flight_date"].isin(position)]
        score = frame[SCORE_COLUMN].to_numpy(dtype=float)
        y = frame["label"].to_numpy(dtype=float)
        order = np.argsort(score, kind="mergesort")
        score, y = score[order], y[order]
        day_index = frame["flight_date"].map(position).to_numpy()[order]
        _, group = np.unique(score, return_inverse=True)
        p = np.clip(score, 1e-6, 1 - 1e-6)
        loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        daily_auc = np.full(len(days), np.nan)
        for i in range(len(days)):
            mask = day_index == i
            daily_auc[i] = _weighted_auc(y[mask], group[mask], np.ones(int(mask.sum())))
        return cls(
            y=y,
            day_index=day_index,
            group=group,
            groups=int(group.max()) + 1 if len(group) else 0,
            daily_roc_auc=daily_auc,
            daily_loss_sum=np.bincount(day_index, weights=loss, minlength=len(days)),
            daily_rows=np.bincount(day_index, minlength=len(days)).astype(float),
        )

    def figures(self, day_weight: np.ndarray) -> dict[str, float]:
        weight = day_weight[self.day_index]
        valid = ~np.isnan(self.daily_roc_auc) & (day_weight > 0)
        return {
            "pooled_roc_auc": _weighted_auc(self.y, self.group, weight, self.groups),
            "mean_daily_roc_auc": float(
                np.average(self.daily_roc_auc[valid], weights=day_weight[valid])
            ),
            "pooled_log_loss": float(
                (day_weight * self.daily_loss_sum).sum() / (day_weight * self.daily_rows).sum()
            ),
        }


def _weighted_auc(
    y: np.ndarray, group: np.ndarray, weight: np.ndarray, groups: int | None = None
) -> float:
    """ROC AUC with row weights; `group` numbers tied scores in ascending score order."""
    if len(y) == 0:
        return float("nan")
    size = groups if groups is not None else int(group.max()) + 1
    positive = np.bincount(group, weights=weight * y, minlength=size)
    negative = np.bincount(group, weights=weight * (1 - y), minlength=size)
    below = np.cumsum(negative) - negative
    pairs = positive.sum() * negative.sum()
    if pairs <= 0:
        return float("nan")
    return float((positive * (below + 0.5 * negative)).sum() / pairs)


def paired_block_bootstrap(
    scored: pd.DataFrame,
    policy: str,
    other: str,
    start: str,
    samples: int,
    seed: int,
    block_days: int = 28,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """`policy` against `other` from `start` on, on the three figures, each with its paired
    block-bootstrap interval (positive: `policy` is better)."""
    window = scored.loc[scored["flight_date"] >= start]
    days = sorted(
        set(window.loc[window["policy"] == policy, "flight_date"])
        & set(window.loc[window["policy"] == other, "flight_date"])
    )
    mine = _Flights.of(window.loc[window["policy"] == policy], days)
    theirs = _Flights.of(window.loc[window["policy"] == other], days)

    def differences(day_weight: np.ndarray) -> dict[str, float]:
        a, b = mine.figures(day_weight), theirs.figures(day_weight)
        return {
            "pooled_roc_auc": a["pooled_roc_auc"] - b["pooled_roc_auc"],
            "mean_daily_roc_auc": a["mean_daily_roc_auc"] - b["mean_daily_roc_auc"],
            "pooled_log_loss": b["pooled_log_loss"] - a["pooled_log_loss"],
        }

    everything = np.ones(len(days))
    point = differences(everything)
    rng = np.random.default_rng(seed)
    draws = [differences(circular_blocks(len(days), block_days, rng)) for _ in range(samples)]
    alpha = (1 - confidence) / 2
    result: dict[str, Any] = {
        "policy": policy,
        "against": other,
        "from": start,
        "days": len(days),
        "block_days": block_days,
        "confidence": confidence,
        "bootstrap_samples": samples,
        "figures": {"policy": mine.figures(everything), "against": theirs.figures(everything)},
    }
    for metric in METRICS:
        low, high = np.quantile([d[metric] for d in draws], [alpha, 1 - alpha])
        result[metric] = {"difference": point[metric], "low": float(low), "high": float(high)}
    return result
