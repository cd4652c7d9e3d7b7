"""The feature table: one call, used unchanged by training and by scoring.

Input is the scheduled-flights batch (pre-departure columns only) plus reference tables;
outcomes never enter here, so no actual time, delay or air time can reach the model.
"""

from __future__ import annotations

import pandas as pd

from features import aircraft, calendar, label, schedule, weather
from pipelines.config import FeatureParams

KEY_COLUMNS = ("flight_id", "flight_date")
CATEGORICAL_FEATURES = ("carrier", "origin", "dest", "plane_engine")
BASE_NUMERIC_FEATURES = (
    "distance",
    "dep_hour",
    "dep_minute_of_day",
    "day_of_week",
    "season_sin",
    "season_cos",
    "days_to_holiday",
    "scheduled_block_minutes",
    "origin_hour_flights",
    "origin_day_flights",
    "carrier_day_flights",
    "plane_age",
    "plane_seats",
)
#: Columns that exist only after a flight happened; none may ever be a feature.
FORBIDDEN_COLUMNS = ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time", "label")
_UNKNOWN = "unknown"


def weather_features(params: FeatureParams) -> tuple[str, ...]:
    return (
        *(f"wx_{column}" for column in params.weather_columns),
        f"wx_precip_sum_{params.weather_lookback_hours}h",
    )


def numeric_features(params: FeatureParams) -> tuple[str, ...]:
    return (*BASE_NUMERIC_FEATURES, *weather_features(params))


def feature_columns(params: FeatureParams) -> tuple[str, ...]:
    return (*CATEGORICAL_FEATURES, *numeric_features(params))


#: The scheduled-flights columns `day_schedule_counts` needs (a cheap first pass on a big day).
SCHEDULE_COUNT_COLUMNS = ("flight_date", "origin", "carrier", "sched_dep_time")


def day_schedule_counts(flights: pd.DataFrame) -> schedule.ScheduleCounts:
    return schedule.count_schedule(
        flights["flight_date"],
        flights["origin"],
        flights["carrier"],
        calendar.dep_hour(flights["sched_dep_time"]),
    )


def build_features(
    flights: pd.DataFrame,
    weather_observations: pd.DataFrame,
    planes: pd.DataFrame,
    params: FeatureParams,
    schedule_counts: schedule.ScheduleCounts | None = None,
) -> pd.DataFrame:
    """Keys, model inputs and the cutoff metadata (`cutoff_at`, `wx_observed_at`) per flight.

    `schedule_counts` are the whole batch's (`day_schedule_counts`) when `flights` is one
    record batch of it; by default they are counted on `flights` itself."""
    leaked = sorted(set(flights.columns) & set(FORBIDDEN_COLUMNS))
    if leaked:
        raise ValueError(f"post-departure columns reached feature building: {leaked}")
    date = flights["flight_date"]
    table = pd.DataFrame({"flight_id": flights["flight_id"], "flight_date": date})
    table["carrier"] = flights["carrier"].astype("object")
    table["origin"] = flights["origin"].astype("object")
    table["dest"] = flights["dest"].astype("object")
    table["plane_engine"] = aircraft.plane_engine(flights["tailnum"], planes)
    table["distance"] = flights["distance"].astype("float64")
    table["dep_hour"] = calendar.dep_hour(flights["sched_dep_time"])
    table["dep_minute_of_day"] = calendar.dep_minute_of_day(flights["sched_dep_time"])
    table["day_of_week"] = calendar.day_of_week(date)
    table["season_sin"] = calendar.season_sin(date)
    table["season_cos"] = calendar.season_cos(date)
    table["days_to_holiday"] = calendar.days_to_holiday(date, params.holiday_window_days)
    table["scheduled_block_minutes"] = schedule.scheduled_block_minutes(
        flights["sched_dep_time"], flights["sched_arr_time"]
    )
    counts = schedule_counts or day_schedule_counts(flights)
    table["origin_hour_flights"] = schedule.origin_hour_flights(
        date, flights["origin"], table["dep_hour"], counts
    )
    table["origin_day_flights"] = schedule.origin_day_flights(date, flights["origin"], counts)
    table["carrier_day_flights"] = schedule.carrier_day_flights(date, flights["carrier"], counts)
    table["plane_age"] = aircraft.plane_age(flights["tailnum"], flights["year"], planes)
    table["plane_seats"] = aircraft.plane_seats(flights["tailnum"], planes)
    table["cutoff_at"] = weather.prediction_cutoff(
        date, params.timezone, params.cutoff_hours_before_day
    )
    observed = weather.weather_at_cutoff(
        flights["origin"],
        table["cutoff_at"],
        weather_observations,
        params.weather_columns,
        params.weather_lookback_hours,
    )
    table = pd.concat([table, observed], axis=1)
    for column in CATEGORICAL_FEATURES:
        table[column] = table[column].fillna(_UNKNOWN).astype("object")
    for column in numeric_features(params):
        table[column] = table[column].astype("float64")
    return table.reset_index(drop=True)


def model_inputs(features: pd.DataFrame, params: FeatureParams) -> pd.DataFrame:
    """Exactly the columns the model sees, in a fixed order."""
    return features.loc[:, list(feature_columns(params))]


def attach_labels(
    features: pd.DataFrame, outcomes: pd.DataFrame, params: FeatureParams
) -> pd.DataFrame:
    """Join the label by flight key; unobserved arrivals follow `unobserved_arrival`."""
    labels = pd.DataFrame(
        {
            "flight_id": outcomes["flight_id"],
            "label": label.is_late(
                outcomes["arr_delay"],
                outcomes["dep_time"],
                params.label_delay_minutes,
                params.unobserved_arrival,
            ),
        }
    )
    labelled = features.merge(labels, on="flight_id", how="left", validate="one_to_one")
    return labelled
