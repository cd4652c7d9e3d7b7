"""Calendar features: known as soon as the flight is scheduled.

A raw month number extrapolates badly to months the model never saw, so the season is encoded
on the unit circle (day of year as sine and cosine): 31 December sits next to 1 January.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar

_DAYS_PER_YEAR = 365.25


def _dates(flight_date: pd.Series) -> pd.Series:
    return pd.to_datetime(flight_date)


def day_of_week(flight_date: pd.Series) -> pd.Series:
    """0 = Monday … 6 = Sunday."""
    return _dates(flight_date).dt.dayofweek.astype("float64")


def dep_hour(sched_dep_time: pd.Series) -> pd.Series:
    return (sched_dep_time // 100).astype("float64")


def dep_minute_of_day(sched_dep_time: pd.Series) -> pd.Series:
    return ((sched_dep_time // 100) * 60 + sched_dep_time % 100).astype("float64")


def season_sin(flight_date: pd.Series) -> pd.Series:
    return np.sin(2 * np.pi * _dates(flight_date).dt.dayofyear / _DAYS_PER_YEAR)


def season_cos(flight_date: pd.Series) -> pd.Series:
    return np.cos(2 * np.pi * _dates(flight_date).dt.dayofyear / _DAYS_PER_YEAR)


def days_to_holiday(flight_date: pd.Series, window_days: int) -> pd.Series:
    """Signed days to the nearest US federal holiday (negative: just after), capped."""
    dates = _dates(flight_date)
    if dates.empty:
        return pd.Series(dtype="float64", index=flight_date.index)
    margin = pd.Timedelta(days=366)  # wide enough that the nearest holiday is always included
    holidays = USFederalHolidayCalendar().holidays(
        start=dates.min() - margin, end=dates.max() + margin
    )
    if len(holidays) == 0:
        return pd.Series(float(window_days), index=flight_date.index)
    day_numbers = dates.to_numpy(dtype="datetime64[D]").astype("int64")
    holiday_numbers = holidays.to_numpy(dtype="datetime64[D]").astype("int64")
    offsets = holiday_numbers[None, :] - day_numbers[:, None]
    nearest = offsets[np.arange(len(day_numbers)), np.abs(offsets).argmin(axis=1)]
    return pd.Series(
        np.clip(nearest, -window_days, window_days).astype("float64"), index=flight_date.index
    )
