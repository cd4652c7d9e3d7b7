"""Performance before the labels exist: confidence-based performance estimation (CBPE).

With calibrated probabilities p, a flight's label is a coin with bias p, so the expected
confusion of a score ranking, and with it the expected ROC AUC, Brier score, log loss and
delay rate, follow from the scores alone. The champion's scores are first calibrated
(isotonic) on its holdout, which is later in time than its fit. Evidently has no such
estimate (evidently#869); it is what on-call has the night a day is scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression

_EPSILON = 1e-6


@dataclass(frozen=True)
class Calibrator:
    """Isotonic map score → probability, stored as its breakpoints (JSON-able, no pickle)."""

    scores: tuple[float, ...]
    probabilities: tuple[float, ...]

    def __call__(self, score: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(score, dtype=float), self.scores, self.probabilities)


def fit_calibrator(score: np.ndarray, label: np.ndarray) -> Calibrator:
    isotonic = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    isotonic.fit(np.asarray(score, dtype=float), np.asarray(label, dtype=float))
    return Calibrator(
        tuple(float(x) for x in isotonic.X_thresholds_),
        tuple(float(y) for y in isotonic.y_thresholds_),
    )


def expected_roc_auc(score: np.ndarray, probability: np.ndarray) -> float:
    """E[concordant pairs] / E[positive-negative pairs] when label_i ~ Bernoulli(p_i).

    O(n log n): rows sorted by score; each row, as the positive, is concordant with the
    expected negatives ranked below it (ties count one half)."""
    s = np.asarray(score, dtype=float)
    p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    if len(s) < 2:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    s, p = s[order], p[order]
    q = 1.0 - p
    unique, start = np.unique(s, return_index=True)
    group_q = np.add.reduceat(q, start)
    below_q = np.concatenate([[0.0], np.cumsum(group_q)[:-1]])  # negatives strictly below
    group_of_row = np.repeat(np.arange(len(unique)), np.diff(np.append(start, len(s))))
    # a row's own (1 - p) is not a pair with itself: remove it from its tie group
    tied_q = group_q[group_of_row] - q
    concordant = float(np.sum(p * (below_q[group_of_row] + 0.5 * tied_q)))
    pairs = float(p.sum() * q.sum() - np.sum(p * q))
    return concordant / pairs if pairs > 0 else float("nan")


def estimated_metrics(score: np.ndarray, calibrator: Calibrator) -> dict[str, float]:
    """Expected ROC AUC, Brier, log loss and delay rate of `score` on unlabelled rows."""
    s = np.clip(np.asarray(score, dtype=float), _EPSILON, 1 - _EPSILON)
    p = calibrator(s)
    return {
        "roc_auc": expected_roc_auc(s, p),
        "brier": float(np.mean((s - p) ** 2 + p * (1 - p))),
        "log_loss": float(np.mean(-(p * np.log(s) + (1 - p) * np.log(1 - s)))),
        "delay_rate": float(np.mean(p)),
    }
