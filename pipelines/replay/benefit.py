"""The ground truth for "retraining would help", measured after the fact (never a decision input).

For a night D and a policy, the benefit a retraining on D would have had: the candidate the
guard's retraining would fit on D (the training step on the moving window ending D-1, the one
`retrain` uses) against the model that policy was serving on D, both scored on the labelled
flights of the next `horizon_days` days. Benefit is the paired difference in ROC AUC (DeLong)
and in log loss (serving minus candidate, so positive is better), each with its interval.
"Helps" means the ROC AUC difference's interval lies above zero.

Those next days' labels landed after D: the replay computes this once every policy has run,
from labels it already holds, and writes it to the report only. No decision reads it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

from pipelines.promotion.statistics import delong_auc_difference


@dataclass(frozen=True)
class Benefit:
    day: str  # the night a retraining would have been decided
    policy: str
    serving_version: int
    rows: int  # labelled flights of the next days
    roc_auc_difference: float  # candidate − serving
    roc_auc_low: float
    roc_auc_high: float
    log_loss_difference: float  # serving − candidate (positive: the candidate is better)
    log_loss_low: float
    log_loss_high: float
    candidate_roc_auc: float
    serving_roc_auc: float

    @property
    def helps(self) -> bool:
        return bool(self.roc_auc_low > 0)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "helps": self.helps}


def _log_losses(y: np.ndarray, probability: np.ndarray) -> np.ndarray:
    p = np.clip(probability, 1e-6, 1 - 1e-6)
    return np.asarray(-(y * np.log(p) + (1 - y) * np.log(1 - p)))


def retraining_benefit(
    day: str,
    policy: str,
    serving_version: int,
    y: np.ndarray,
    candidate: np.ndarray,
    serving: np.ndarray,
    confidence: float = 0.95,
) -> Benefit:
    """The paired benefit of the candidate over the serving model on the same flights."""
    y = np.asarray(y).astype(int)
    auc = delong_auc_difference(y, candidate, serving, confidence)
    losses = _log_losses(y, serving) - _log_losses(y, candidate)
    half = float(
        stats.norm.ppf(0.5 + confidence / 2) * losses.std(ddof=1) / np.sqrt(max(len(losses), 1))
    )
    mean = float(losses.mean())
    return Benefit(
        day=day,
        policy=policy,
        serving_version=serving_version,
        rows=len(y),
        roc_auc_difference=float(auc.estimate),
        roc_auc_low=float(auc.low),
        roc_auc_high=float(auc.high),
        log_loss_difference=mean,
        log_loss_low=mean - half,
        log_loss_high=mean + half,
        candidate_roc_auc=float(roc_auc_score(y, candidate)),
        serving_roc_auc=float(roc_auc_score(y, serving)),
    )
