"""Shadow scoring: the challenger scores beside the champion, never acted upon."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pipelines.registry import ModelVersionRef


@dataclass
class AgreementSums:
    """Sums over rows from which the shadow's agreement with the champion is computed, so
    shards can be combined without holding both models' scores for the whole day."""

    rows: int = 0
    same_decision: int = 0
    abs_difference: float = 0.0
    sx: float = 0.0
    sy: float = 0.0
    sxx: float = 0.0
    syy: float = 0.0
    sxy: float = 0.0

    def add(
        self,
        champion: np.ndarray,
        challenger: np.ndarray,
        champion_threshold: float,
        challenger_threshold: float,
    ) -> None:
        """Both models' probabilities for the same rows, each decided at its own threshold."""
        x, y = champion.astype("float64"), challenger.astype("float64")
        self.rows += len(x)
        self.same_decision += int(((x >= champion_threshold) == (y >= challenger_threshold)).sum())
        self.abs_difference += float(np.abs(x - y).sum())
        self.sx += float(x.sum())
        self.sy += float(y.sum())
        self.sxx += float((x * x).sum())
        self.syy += float((y * y).sum())
        self.sxy += float((x * y).sum())

    def plus(self, other: AgreementSums) -> AgreementSums:
        return AgreementSums(**{k: getattr(self, k) + getattr(other, k) for k in asdict(self)})

    def summary(self) -> dict[str, float]:
        if self.rows == 0:
            return {"rows": 0.0}
        n = self.rows
        covariance = self.sxy - self.sx * self.sy / n
        spread = (self.sxx - self.sx**2 / n) * (self.syy - self.sy**2 / n)
        return {
            "rows": float(n),
            "decision_agreement": self.same_decision / n,
            "probability_correlation": float(covariance / np.sqrt(spread)) if spread > 0 else 1.0,
            "mean_absolute_difference": self.abs_difference / n,
        }


def shadow_of(
    champion: ModelVersionRef, challenger: ModelVersionRef | None
) -> ModelVersionRef | None:
    """The challenger scores in shadow only when it is another version than the champion."""
    return challenger if challenger is not None and challenger.version != champion.version else None
