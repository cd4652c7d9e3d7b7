"""The label: did the flight arrive 15+ minutes late?

Cancelled flights (no departure time) and diverted ones (departed, no arrival delay) have no
arrival delay at all. With `unobserved_arrival: exclude` (default) their label is missing and
they are left out of training and evaluation; with `positive` they count as late.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def is_cancelled(dep_time: pd.Series) -> pd.Series:
    return dep_time.isna()


def is_diverted(dep_time: pd.Series, arr_delay: pd.Series) -> pd.Series:
    return dep_time.notna() & arr_delay.isna()


def is_late(
    arr_delay: pd.Series, dep_time: pd.Series, delay_minutes: int, unobserved: str
) -> pd.Series:
    """1.0 late, 0.0 on time, NaN where the arrival delay is unobserved and excluded."""
    late = (arr_delay >= delay_minutes).astype("float64")
    unobserved_rows = is_cancelled(dep_time) | is_diverted(dep_time, arr_delay)
    if unobserved == "exclude":
        return late.where(~unobserved_rows, np.nan)
    if unobserved == "positive":
        return late.where(~unobserved_rows, 1.0)
    raise ValueError(f"unobserved must be 'exclude' or 'positive', got {unobserved!r}")
