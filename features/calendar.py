"""Calendar features: known as soon as the flight is scheduled.

A raw month number extrapolates badly to months the model never saw, so the season is encoded
on the unit circle (day of year as sine and cosine): 31 December sits next to 1 January.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar

_DAYS_PER_YEAR = 365.25


def _dates(flight_date: pd.Series) -> pd.Series:
    return pd.to_datetime(flight_date)


def per_date(flight_date: pd.Series, feature: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """`feature` computed once per distinct date and spread to the rows: a batch has a few
    dates and up to millions of rows, and every calendar feature is a function of the date."""
    codes, dates = pd.factorize(flight_date, sort=True)
    if len(dates) == 0:
        return pd.Series(dtype="float64", index=flight_date.index)
    values = feature(pd.Series(dates)).to_numpy()
    return pd.Series(values[codes], index=flight_date.index)


def day_of_week(flight_date: pd.Series) -> pd.Series:
    """0 = Monday … 6 = Sunday."""
    return per_date(flight_date, lambda d: _dates(d).dt.dayofweek.astype("float64"))


def dep_hour(sched_dep_time: pd.Series) -> pd.Series:
    return (sched_dep_time // 100).astype("float64")


def dep_minute_of_day(sched_dep_time: pd.Series) -> pd.Series:
    return ((sched_dep_time // 100) * 60 + sched_dep_time % 100).astype("float64")


def season_sin(flight_date: pd.Series) -> pd.Series:
    return per_date(
        flight_date, lambda d: np.sin(2 * np.pi * _dates(d).dt.dayofyear / _DAYS_PER_YEAR)
    )


def season_cos(flight_date: pd.Series) -> pd.Series:
    return per_date(
        flight_date, lambda d: np.cos(2 * np.pi * _dates(d).dt.dayofyear / _DAYS_PER_YEAR)
    )


def days_to_holiday(flight_date: pd.Series, window_days: int) -> pd.Series:
    """Signed days to the nearest US federal holiday (negative: just after), capped."""
    return per_date(flight_date, lambda d: _days_to_holiday(d, window_days))


@functools.cache
def _holiday_day_numbers(first_year: int, last_year: int) -> np.ndarray:
    """US federal holidays from the year before `first_year` to the year after `last_year` (the
    nearest holiday of any day in between is always among them), as day numbers; cached, since
    pandas builds the calendar anew each time (10 ms, per online request before)."""
    holidays = USFederalHolidayCalendar().holidays(
        start=date(first_year - 1, 1, 1), end=date(last_year + 1, 12, 31)
    )
    numbers = holidays.to_numpy(dtype="datetime64[D]").astype("int64")
    numbers.setflags(write=False)
    return numbers


def _days_to_holiday(flight_date: pd.Series, window_days: int) -> pd.Series:
    dates = _dates(flight_date)
    if dates.empty:
        return pd.Series(dtype="float64", index=flight_date.index)
    holiday_numbers = _holiday_day_numbers(dates.min().year, dates.max().year)
    if len(holiday_numbers) == 0:
        return pd.Series(float(window_days), index=flight_date.index)
    day_numbers = dates.to_numpy(dtype="datetime64[D]").astype("int64")
    offsets = holiday_numbers[None, :] - day_numbers[:, None]
    nearest = offsets[np.arange(len(day_numbers)), np.abs(offsets).argmin(axis=1)]
    return pd.Series(
        np.clip(nearest, -window_days, window_days).astype("float64"), index=flight_date.index
    )


#: Days whose schedule is a holiday's, not a weekday's (Christmas Eve is no federal holiday).
_HOLIDAY_EVES = ((12, 24), (12, 31))


@functools.cache
def _federal_holidays(year: int) -> frozenset[date]:
    found = USFederalHolidayCalendar().holidays(start=f"{year}-01-01", end=f"{year}-12-31")
    return frozenset(stamp.date() for stamp in found)


@functools.cache
def day_type(day: date) -> str:
    """`weekday`, `saturday` or `sunday`; a US federal holiday (and Christmas or New Year's
    Eve) runs a reduced schedule and counts as `saturday` (monitoring compares like with like)."""
    holiday = day in _federal_holidays(day.year) or (day.month, day.day) in _HOLIDAY_EVES
    if holiday or day.weekday() == 5:
        return "saturday"
    return "sunday" if day.weekday() == 6 else "weekday"
