"""Validation folds that respect time, inside a run's training days (pure).

Expanding windows by calendar month: fold k validates on one calendar month of the training
days and trains on every day before that month, never on a day after it. The newest
`count` months that have at least `min_train_days` days before them are used, oldest first.
The holdout (the newest days of the window) is never part of a fold: it stays for the
champion/challenger decision."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Fold:
    train_index: np.ndarray  # positions in the training frame
    validate_index: np.ndarray
    train_days: tuple[str, str]  # first, last
    validate_days: tuple[str, str]

    def as_dict(self) -> dict[str, object]:
        return {
            "train_days": list(self.train_days),
            "validate_days": list(self.validate_days),
            "train_rows": len(self.train_index),
            "validate_rows": len(self.validate_index),
        }


def monthly_folds(flight_dates: pd.Series, count: int, min_train_days: int) -> list[Fold]:
    """At most `count` expanding-window folds over `flight_dates` ('YYYY-MM-DD' strings, one
    per training row); fewer when the days cannot give them (then none, and the caller keeps
    the configured model)."""
    dates = flight_dates.astype(str).to_numpy()
    days = np.unique(dates)
    if len(days) == 0 or count <= 0:
        return []
    first = pd.Timestamp(days[0])
    months = np.array([d[:7] for d in dates])
    folds: list[Fold] = []
    for month in sorted(set(months)):
        month_start = pd.Timestamp(f"{month}-01")
        if (month_start - first).days < min_train_days:
            continue
        validate = np.flatnonzero(months == month)
        train = np.flatnonzero(dates < month_start.strftime("%Y-%m-%d"))
        folds.append(
            Fold(
                train_index=train,
                validate_index=validate,
                train_days=(str(dates[train].min()), str(dates[train].max())),
                validate_days=(str(dates[validate].min()), str(dates[validate].max())),
            )
        )
    return folds[-count:]
