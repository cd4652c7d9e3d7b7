from __future__ import annotations

import pandas as pd
import pytest

from features import calendar, schedule


def test_time_of_day_from_hhmm():
    hhmm = pd.Series([5, 1530, 2359])
    assert calendar.dep_hour(hhmm).tolist() == [0, 15, 23]
    assert calendar.dep_minute_of_day(hhmm).tolist() == [5, 930, 1439]


def test_season_is_continuous_across_new_year():
    dates = pd.Series(["2013-12-31", "2013-01-01", "2013-07-01"])
    sin, cos = calendar.season_sin(dates), calendar.season_cos(dates)
    assert abs(cos[0] - cos[1]) < 0.01 and abs(sin[0] - sin[1]) < 0.05
    assert cos[2] < -0.9


def test_days_to_holiday_is_signed_and_capped():
    dates = pd.Series(["2013-07-04", "2013-07-02", "2013-07-06", "2013-08-20"])
    assert calendar.days_to_holiday(dates, 10).tolist() == [0, 2, -2, 10]


def test_day_of_week():
    assert calendar.day_of_week(pd.Series(["2013-01-07"])).tolist() == [0]  # a Monday


def test_block_minutes_wrap_past_midnight():
    assert schedule.scheduled_block_minutes(pd.Series([2300]), pd.Series([115])).tolist() == [135]


def test_origin_hour_load_counts_same_airport_same_hour():
    frame = pd.DataFrame(
        {
            "d": ["2013-01-01"] * 4,
            "o": ["EWR", "EWR", "JFK", "EWR"],
            "c": ["UA", "AA", "UA", "UA"],
            "h": [5, 5, 5, 6],
        }
    )
    day = schedule.count_schedule(frame["d"], frame["o"], frame["c"], frame["h"])
    counts = schedule.origin_hour_flights(frame["d"], frame["o"], frame["h"], day)
    assert counts.tolist() == pytest.approx([2, 2, 1, 1])


def test_counts_summed_over_record_batches_equal_the_whole_day_counts():
    frame = pd.DataFrame(
        {
            "d": ["2013-01-01"] * 5,
            "o": ["EWR", "EWR", "JFK", "EWR", "JFK"],
            "c": ["UA", "AA", "UA", "UA", "B6"],
            "h": [5, 5, 5, 6, 7],
        }
    )
    whole = schedule.count_schedule(frame["d"], frame["o"], frame["c"], frame["h"])
    first, rest = frame.iloc[:2], frame.iloc[2:]
    summed = schedule.count_schedule(first["d"], first["o"], first["c"], first["h"]).plus(
        schedule.count_schedule(rest["d"], rest["o"], rest["c"], rest["h"])
    )
    # A record batch (`rest`) scored with the day's counts sees what the whole day sees.
    in_batch = schedule.origin_day_flights(rest["d"], rest["o"], summed)
    assert in_batch.tolist() == pytest.approx([2, 3, 2])  # the batch alone would say [2, 1, 2]
    assert (
        in_batch.tolist()
        == schedule.origin_day_flights(frame["d"], frame["o"], whole).iloc[2:].tolist()
    )
    assert schedule.carrier_day_flights(rest["d"], rest["c"], summed).tolist() == pytest.approx(
        [3, 3, 1]
    )


def test_day_types_put_holidays_and_their_eves_with_saturdays():
    from datetime import date

    from features.calendar import day_type

    assert day_type(date(2013, 10, 9)) == "weekday"  # a Wednesday
    assert day_type(date(2013, 10, 12)) == "saturday"
    assert day_type(date(2013, 10, 13)) == "sunday"
    assert day_type(date(2013, 11, 28)) == "saturday"  # Thanksgiving, a Thursday
    assert day_type(date(2013, 12, 24)) == "saturday"  # Christmas Eve, a Tuesday
    assert day_type(date(2013, 12, 25)) == "saturday"
