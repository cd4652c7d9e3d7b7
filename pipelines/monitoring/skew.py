"""Training/serving skew: the inputs a flight was served with (online, or by the night's batch:
a sample of every `scoring.served_features_every`-th flight) against the features monitoring
builds for the same flight from the validated store the next night (pure).

Online and batch call the same feature code, so on the same data they agree to the bit; what
makes them differ is the data each had: a request answered before its day was gated counts the
day's schedule from its own flights, a weather hour that landed late, a reference table changed
in between. Per model input: the served rows compared, those that differ beyond
`tolerance` (relative), the largest difference. A column is skewed when more than
`max_share` of its compared rows differ; the verdict says `watch` and names it
(`serving_skew`, runbooks/serving.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ColumnSkew:
    column: str
    compared: int
    differing: int
    share: float
    max_abs_difference: float | None  # numeric columns only


@dataclass(frozen=True)
class SkewReport:
    served_rows: int  # rows a model answered for flights of the day (online, or sampled batch)
    compared_rows: int  # of those, the flights the batch has features for
    columns: tuple[ColumnSkew, ...]
    skewed: tuple[str, ...]  # more than `max_share` of compared rows differing
    fallbacks: dict[str, int] = field(default_factory=dict)  # fallback rows by reason

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _differs(
    served: pd.Series, batch: pd.Series, tolerance: float
) -> tuple[np.ndarray, float | None]:
    missing = served.isna().to_numpy() != batch.isna().to_numpy()
    both = served.notna().to_numpy() & batch.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(served) and pd.api.types.is_numeric_dtype(batch):
        a, b = served.to_numpy(dtype="float64"), batch.to_numpy(dtype="float64")
        gap = np.where(both, np.abs(a - b), 0.0)
        apart = gap > tolerance * (1.0 + np.abs(np.where(both, b, 0.0)))
        return missing | apart, float(gap.max()) if len(gap) else 0.0
    apart = both & (served.astype(str).to_numpy() != batch.astype(str).to_numpy())
    return missing | apart, None


def feature_skew(
    served: pd.DataFrame,
    batch: pd.DataFrame,
    columns: tuple[str, ...],
    tolerance: float,
    max_share: float,
) -> SkewReport:
    """Every model-served row of `served` (the served log: champion or canary; or the batch's
    sample) against `batch`'s row of the same flight (its features, one row per `flight_id`);
    the fallback's rows counted by reason (a stale weather hour, a timeout)."""
    answered = served.loc[served["served_by"] != "fallback"]
    fell_back = served.loc[served["served_by"] == "fallback"]
    reasons = (
        fell_back["fallback_reason"].fillna("unknown")
        if "fallback_reason" in fell_back
        else pd.Series("unknown", index=fell_back.index)
    )
    joined = answered.merge(
        batch.loc[:, ["flight_id", *columns]],
        on="flight_id",
        how="inner",
        suffixes=("_served", "_batch"),
        validate="many_to_one",
    )
    found = []
    for column in columns:
        differing, largest = _differs(
            joined[f"{column}_served"], joined[f"{column}_batch"], tolerance
        )
        count = int(differing.sum())
        found.append(
            ColumnSkew(
                column, len(joined), count, count / len(joined) if len(joined) else 0.0, largest
            )
        )
    return SkewReport(
        served_rows=len(answered),
        compared_rows=len(joined),
        columns=tuple(found),
        skewed=tuple(c.column for c in found if c.share > max_share),
        fallbacks={str(k): int(v) for k, v in reasons.value_counts().sort_index().items()},
    )
