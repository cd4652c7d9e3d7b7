"""Schedule features: the published timetable, known days ahead."""

from __future__ import annotations

import pandas as pd

_MINUTES_PER_DAY = 24 * 60


def _minute_of_day(hhmm: pd.Series) -> pd.Series:
    return (hhmm // 100) * 60 + hhmm % 100


def scheduled_block_minutes(sched_dep_time: pd.Series, sched_arr_time: pd.Series) -> pd.Series:
    """Scheduled departure to scheduled arrival, in local clock minutes (wraps past midnight)."""
    block = (_minute_of_day(sched_arr_time) - _minute_of_day(sched_dep_time)) % _MINUTES_PER_DAY
    return block.astype("float64")


def origin_hour_flights(
    flight_date: pd.Series, origin: pd.Series, dep_hour: pd.Series
) -> pd.Series:
    """Flights scheduled to leave the same airport in the same hour: congestion."""
    keys = pd.DataFrame({"d": flight_date, "o": origin, "h": dep_hour})
    return keys.groupby(["d", "o", "h"])["d"].transform("size").astype("float64")


def origin_day_flights(flight_date: pd.Series, origin: pd.Series) -> pd.Series:
    keys = pd.DataFrame({"d": flight_date, "o": origin})
    return keys.groupby(["d", "o"])["d"].transform("size").astype("float64")


def carrier_day_flights(flight_date: pd.Series, carrier: pd.Series) -> pd.Series:
    keys = pd.DataFrame({"d": flight_date, "c": carrier})
    return keys.groupby(["d", "c"])["d"].transform("size").astype("float64")
