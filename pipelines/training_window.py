"""Which days a training run may learn from and be judged on.

A run for day T knows the outcomes of the days before T only (those of T-1 land on T), so a
moving window ends at T-1: its newest `holdout_days` are the holdout, the `window_days -
holdout_days` before them the training days. The fixed window of `params.yaml` (`data:` and
`train.holdout_start`) is what `make demo` and `dvc repro` train on."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from pipelines.config import Params, RetrainingParams


@dataclass(frozen=True)
class TrainingWindow:
    train_start: date
    holdout_start: date
    end: date  # the newest labelled day: the last holdout day
    as_of: date | None = None  # the decision day T of a moving window (None: the fixed window)

    def __post_init__(self) -> None:
        if not self.train_start < self.holdout_start <= self.end:
            raise ValueError(f"not a training window: {self}")
        if self.as_of is not None and self.end >= self.as_of:
            raise ValueError(f"window ends on {self.end}, not before its day {self.as_of}")

    @property
    def name(self) -> str:
        """A folder name: `as_of=T` for a moving window, `fixed` otherwise."""
        return f"as_of={self.as_of.isoformat()}" if self.as_of else "fixed"

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if v else None) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainingWindow:
        as_of = raw.get("as_of")
        return cls(
            train_start=date.fromisoformat(raw["train_start"]),
            holdout_start=date.fromisoformat(raw["holdout_start"]),
            end=date.fromisoformat(raw["end"]),
            as_of=date.fromisoformat(as_of) if as_of else None,
        )


def moving_window(as_of: date, policy: RetrainingParams) -> TrainingWindow:
    """The window of a retraining run for day `as_of` (see the module docstring); it starts no
    earlier than `earliest_day`, the first day data exists (the replay and the DAG agree)."""
    end = as_of - timedelta(days=1)
    return TrainingWindow(
        train_start=max(end - timedelta(days=policy.window_days - 1), policy.earliest_day),
        holdout_start=end - timedelta(days=policy.holdout_days - 1),
        end=end,
        as_of=as_of,
    )


def first_model_window(first_day: date, as_of: date, policy: RetrainingParams) -> TrainingWindow:
    """The window of a first model, trained when only the days since `first_day` exist: all
    of them, the newest `holdout_days` held out, but never more than a third of them (the
    replay's first model; a manual training run with `{"as_of": T, "holdout_days": n}` trains
    on the same window)."""
    days = (as_of - first_day).days
    holdout_days = min(policy.holdout_days, days // 3)
    return TrainingWindow(
        train_start=first_day,
        holdout_start=as_of - timedelta(days=holdout_days),
        end=as_of - timedelta(days=1),
        as_of=as_of,
    )


def fixed_window(params: Params) -> TrainingWindow:
    return TrainingWindow(
        train_start=params.data.snapshot_start,
        holdout_start=params.train.holdout_start,
        end=params.data.snapshot_end,
    )


def in_window(table: pd.DataFrame, window: TrainingWindow) -> pd.DataFrame:
    """The rows of `table` (a `flight_date` column) whose day lies inside the window."""
    days = table["flight_date"]
    return table.loc[(days >= window.train_start.isoformat()) & (days <= window.end.isoformat())]
