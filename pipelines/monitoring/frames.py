"""Night D's inputs from frames in memory, for the year replay and the backtest (no server, no
files); the callers hand them to `judge.judge_night`, which judges them exactly as it judges
the nightly job's.

`scored` maps an ISO day to its scored flights (model inputs, `late_probability`, `label`, and
`version`, the model version that scored it). `labelled_on` maps an ISO day to the day its
outcomes landed: at night D the labels of the days whose outcomes landed by D are known (those
of D-1 land on D); D's own labels, or a day's whose outcomes have not landed, are never read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import pandas as pd

from pipelines.monitoring import drift
from pipelines.monitoring.judge import Labelled, NightInputs, WindowDay
from pipelines.monitoring.reference import MonitoringReference


def window_day(
    key: str, frame: pd.DataFrame, labelled_on: Mapping[str, date], night: date
) -> WindowDay:
    day = date.fromisoformat(key)
    landed = labelled_on.get(key)
    known = day < night and landed is not None and landed <= night
    labelled = None
    if known:
        rows = frame.dropna(subset=["label"])
        labelled = Labelled(
            rows["label"].to_numpy().astype(int), rows[drift.SCORE_COLUMN].to_numpy()
        )
    return WindowDay(
        day=day,
        version=str(frame["version"].iloc[0]),
        scores=frame[drift.SCORE_COLUMN].to_numpy(),
        labelled=labelled,
    )


def night_inputs(
    day: date,
    scored: Mapping[str, pd.DataFrame],
    labelled_on: Mapping[str, date],
    reference: MonitoringReference,
    rolling_days: int,
) -> NightInputs:
    """D's inputs: drift with Evidently's stattests (`drift.drift_scores`, what its report runs)
    and the window of the `rolling_days` days before D."""
    today = scored[day.isoformat()]
    keys = [(day - timedelta(days=offset)).isoformat() for offset in range(rolling_days + 1)]
    return NightInputs(
        day=day,
        version=str(today["version"].iloc[0]),
        rows=len(today),
        current=today,
        drift_scores=drift.drift_scores(reference.for_day(day).sample, today, reference.columns),
        window=tuple(window_day(k, scored[k], labelled_on, day) for k in keys if k in scored),
    )
