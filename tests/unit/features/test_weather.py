"""Point-in-time weather: nothing observed after the prediction cutoff may reach a feature."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from features.weather import prediction_cutoff, weather_at_cutoff


def _hourly_weather(origin: str, start: str, hours: int, temp: float = 10.0) -> pd.DataFrame:
    times = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            "origin": origin,
            "time_hour": times,
            "temp": temp,
            "precip": 0.1,
        }
    )


def test_cutoff_is_the_evening_before_in_local_time():
    cutoff = prediction_cutoff(pd.Series(["2013-07-10"]), "America/New_York", 4)
    # 20:00 EDT on 9 July = 00:00 UTC on 10 July
    assert cutoff.iloc[0] == pd.Timestamp("2013-07-10 00:00", tz="UTC")
    winter = prediction_cutoff(pd.Series(["2013-01-10"]), "America/New_York", 4)
    assert winter.iloc[0] == pd.Timestamp("2013-01-10 01:00", tz="UTC")


def test_join_never_uses_observations_after_the_cutoff():
    cutoff = pd.Series(pd.to_datetime(["2013-01-10 01:00"], utc=True))
    before = _hourly_weather("EWR", "2013-01-09 00:00", 26, temp=5.0)  # up to 2013-01-10 01:00
    after = _hourly_weather("EWR", "2013-01-10 02:00", 48, temp=999.0)  # poisoned future
    weather = pd.concat([before, after], ignore_index=True)
    joined = weather_at_cutoff(pd.Series(["EWR"]), cutoff, weather, ("temp",), 24)
    assert joined.loc[0, "wx_temp"] == 5.0
    assert joined.loc[0, "wx_observed_at"] <= cutoff.iloc[0]


def test_future_weather_changes_nothing():
    """Property: rewriting every observation after the cutoff leaves the features unchanged."""
    rng = np.random.default_rng(0)
    weather = _hourly_weather("JFK", "2013-03-01", 24 * 10)
    weather["temp"] = rng.normal(size=len(weather))
    weather["precip"] = rng.random(len(weather))
    dates = pd.Series(["2013-03-03", "2013-03-05", "2013-03-08"])
    cutoff = prediction_cutoff(dates, "America/New_York", 4)
    origin = pd.Series(["JFK"] * 3)
    baseline = weather_at_cutoff(origin, cutoff, weather, ("temp", "precip"), 24)
    for position in range(3):
        tampered = weather.copy()
        future = tampered["time_hour"] > cutoff.iloc[position]
        tampered.loc[future, ["temp", "precip"]] = 1e6
        result = weather_at_cutoff(origin, cutoff, tampered, ("temp", "precip"), 24)
        pd.testing.assert_series_equal(result.iloc[position], baseline.iloc[position])
    assert (baseline["wx_observed_at"] <= cutoff).all()


def test_stale_observations_beyond_the_lookback_are_missing():
    weather = _hourly_weather("LGA", "2013-01-01", 5)
    cutoff = pd.Series(pd.to_datetime(["2013-01-05 01:00"], utc=True))
    joined = weather_at_cutoff(pd.Series(["LGA"]), cutoff, weather, ("temp",), 24)
    assert np.isnan(joined.loc[0, "wx_temp"])


def test_precipitation_is_summed_over_the_lookback_only():
    weather = _hourly_weather("EWR", "2013-01-01 00:00", 48)
    weather["precip"] = 1.0
    cutoff = pd.Series(pd.to_datetime(["2013-01-02 23:00"], utc=True))
    joined = weather_at_cutoff(pd.Series(["EWR"]), cutoff, weather, ("precip",), 24)
    assert joined.loc[0, "wx_precip_sum_24h"] == pytest.approx(24.0)


def test_one_flight_gets_the_features_its_row_gets_in_a_batch_of_many_days():
    """Weather and the calendar read only what a call's dates need (online, one flight): its
    features are the ones the same flight gets among two months of flights, to the bit."""
    from features.build import build_features, day_schedule_counts
    from pipelines.config import REPO_ROOT, load_params
    from pipelines.data.landing import SCHEDULED_COLUMNS
    from pipelines.upstream import delivery, sources

    params = load_params(REPO_ROOT / "params.yaml").features
    year = sources.source_flights()
    months = year.loc[year["flight_date"].between(date(2013, 6, 1), date(2013, 7, 31))].copy()
    months["flight_date"] = months["flight_date"].map(date.isoformat)
    months["flight_id"] = delivery.flight_id(months)
    scheduled = months.loc[:, list(SCHEDULED_COLUMNS)].reset_index(drop=True)
    weather = sources.source_reference_table("weather")
    many = build_features(scheduled, weather, params)
    for row in (0, 7, len(scheduled) - 1):  # early June, the 4th of July's side, the last
        flight = scheduled.iloc[[row]].reset_index(drop=True)
        day = scheduled.loc[scheduled["flight_date"] == flight.loc[0, "flight_date"]]
        one = build_features(flight, weather, params, day_schedule_counts(day))
        expected = many.iloc[[row]].reset_index(drop=True)
        pd.testing.assert_frame_equal(one, expected, check_categorical=False, check_exact=True)
