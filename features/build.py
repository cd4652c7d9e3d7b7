"""The feature table: one call, used unchanged by training and by scoring.

Input is the scheduled-flights batch (pre-departure columns only) plus reference tables;
outcomes never enter here, so no actual time, delay or air time can reach the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import calendar, label, schedule, weather
from features.params import FeatureParams

KEY_COLUMNS = ("flight_id", "flight_date")
CATEGORICAL_FEATURES = ("carrier", "origin", "dest")
#: Columns that exist only after a flight happened; none may ever be a feature.
FORBIDDEN_COLUMNS = ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time", "label")
_UNKNOWN = "unknown"


def weather_features(params: FeatureParams) -> tuple[str, ...]:
    return (
        *(f"wx_{column}" for column in params.weather_columns),
        f"wx_precip_sum_{params.weather_lookback_hours}h",
    )


def numeric_features(params: FeatureParams) -> tuple[str, ...]:
    """Every group's inputs but the categorical ones, in build order: a feature is declared
    once, by its group in `FEATURE_GROUPS`."""
    return tuple(
        column
        for group in FEATURE_GROUPS
        for column in group.inputs(params)
        if column not in CATEGORICAL_FEATURES
    )


def feature_columns(params: FeatureParams) -> tuple[str, ...]:
    return (*CATEGORICAL_FEATURES, *numeric_features(params))


#: The scheduled-flights columns `build_features` reads: scoring reads no others from a file.
FLIGHT_INPUT_COLUMNS = (
    "flight_id",
    "flight_date",
    "sched_dep_time",
    "sched_arr_time",
    "carrier",
    "origin",
    "dest",
    "distance",
)
#: The scheduled-flights columns `day_schedule_counts` needs (a cheap first pass on a big day).
SCHEDULE_COUNT_COLUMNS = ("flight_date", "origin", "carrier", "sched_dep_time")


def day_schedule_counts(flights: pd.DataFrame) -> schedule.ScheduleCounts:
    return schedule.count_schedule(
        flights["flight_date"],
        flights["origin"],
        flights["carrier"],
        calendar.dep_hour(flights["sched_dep_time"]),
    )


@dataclass(frozen=True)
class BuildInputs:
    """What every feature group is built from: the batch, the weather, the parameters and the
    batch's schedule counts (`day_schedule_counts`)."""

    flights: pd.DataFrame
    weather_observations: pd.DataFrame
    params: FeatureParams
    schedule_counts: schedule.ScheduleCounts | None = None


Columns = dict[str, pd.Series]


def _route(inputs: BuildInputs, built: Columns) -> Columns:
    """Who flies where: carrier, airports and distance."""
    flights = inputs.flights
    return {
        "carrier": flights["carrier"].astype("object"),
        "origin": flights["origin"].astype("object"),
        "dest": flights["dest"].astype("object"),
        "distance": flights["distance"].astype("float64"),
    }


def _time_of_day(inputs: BuildInputs, built: Columns) -> Columns:
    """When in the day it leaves: delays build up from morning to evening."""
    sched_dep_time = inputs.flights["sched_dep_time"]
    return {
        "dep_hour": calendar.dep_hour(sched_dep_time),
        "dep_minute_of_day": calendar.dep_minute_of_day(sched_dep_time),
    }


def _calendar(inputs: BuildInputs, built: Columns) -> Columns:
    """Which day: weekday, season and holidays."""
    date = built["flight_date"]
    return {
        "day_of_week": calendar.day_of_week(date),
        "season_sin": calendar.season_sin(date),
        "season_cos": calendar.season_cos(date),
        "days_to_holiday": calendar.days_to_holiday(date, inputs.params.holiday_window_days),
    }


def _timetable(inputs: BuildInputs, built: Columns) -> Columns:
    """The published timetable: block time and how busy the airport and carrier are."""
    flights, date = inputs.flights, built["flight_date"]
    counts = inputs.schedule_counts or day_schedule_counts(flights)
    return {
        "scheduled_block_minutes": schedule.scheduled_block_minutes(
            flights["sched_dep_time"], flights["sched_arr_time"]
        ),
        "origin_hour_flights": schedule.origin_hour_flights(
            date, flights["origin"], built["dep_hour"], counts
        ),
        "origin_day_flights": schedule.origin_day_flights(date, flights["origin"], counts),
        "carrier_day_flights": schedule.carrier_day_flights(date, flights["carrier"], counts),
    }


def _weather(inputs: BuildInputs, built: Columns) -> Columns:
    """The origin's weather observed by the prediction cutoff (`cutoff_at`, `wx_observed_at`
    are its metadata, not model inputs)."""
    params = inputs.params
    columns = {
        "cutoff_at": weather.prediction_cutoff(
            built["flight_date"], params.timezone, params.cutoff_hours_before_day
        )
    }
    observed = weather.weather_at_cutoff(
        inputs.flights["origin"],
        columns["cutoff_at"],
        inputs.weather_observations,
        params.weather_columns,
        params.weather_lookback_hours,
    )
    columns.update({name: observed[name] for name in observed.columns})
    return columns


GroupBuilder = Callable[[BuildInputs, Columns], Columns]


@dataclass(frozen=True)
class FeatureGroup:
    """Features that stand or fall together: built by one function, reported as one
    (`pipelines/training/feature_groups.py`: contribution and build cost on every run)."""

    name: str
    build: GroupBuilder
    #: The model inputs it builds (its builder may add metadata such as `cutoff_at`).
    inputs: Callable[[FeatureParams], tuple[str, ...]]
    #: Why the group stays when its contribution's interval reaches zero ("" = it must help).
    keep_reason: str = ""


#: In build order (a group may use the columns of those before it). A new feature goes into
#: one of them, or into a new group here: it is then built, and reported, like the others.
FEATURE_GROUPS: tuple[FeatureGroup, ...] = (
    FeatureGroup("route", _route, lambda params: ("carrier", "origin", "dest", "distance")),
    FeatureGroup("time_of_day", _time_of_day, lambda params: ("dep_hour", "dep_minute_of_day")),
    FeatureGroup(
        "calendar",
        _calendar,
        lambda params: ("day_of_week", "season_sin", "season_cos", "days_to_holiday"),
    ),
    FeatureGroup(
        "timetable",
        _timetable,
        lambda params: (
            "scheduled_block_minutes",
            "origin_hour_flights",
            "origin_day_flights",
            "carrier_day_flights",
        ),
    ),
    FeatureGroup("weather", _weather, weather_features),
)


def build_group_columns(inputs: BuildInputs) -> tuple[Columns, dict[str, float]]:
    """Keys, every group's columns in order, and the seconds each group took to build."""
    import time

    flights = inputs.flights
    leaked = sorted(set(flights.columns) & set(FORBIDDEN_COLUMNS))
    if leaked:
        raise ValueError(f"post-departure columns reached feature building: {leaked}")
    columns: Columns = {"flight_id": flights["flight_id"], "flight_date": flights["flight_date"]}
    seconds: dict[str, float] = {}
    for group in FEATURE_GROUPS:
        began = time.perf_counter()
        columns.update(group.build(inputs, columns))
        seconds[group.name] = time.perf_counter() - began
    return columns, seconds


def build_features(
    flights: pd.DataFrame,
    weather_observations: pd.DataFrame,
    params: FeatureParams,
    schedule_counts: schedule.ScheduleCounts | None = None,
) -> pd.DataFrame:
    """Keys, model inputs and the cutoff metadata (`cutoff_at`, `wx_observed_at`) per flight.

    `schedule_counts` are the whole batch's (`day_schedule_counts`) when `flights` is one
    record batch of it; by default they are counted on `flights` itself."""
    inputs = BuildInputs(flights, weather_observations, params, schedule_counts)
    return build_features_timed(inputs)[0]


def build_features_timed(inputs: BuildInputs) -> tuple[pd.DataFrame, dict[str, float]]:
    """`build_features`, and the seconds each feature group took (what a group costs)."""
    # Columns are gathered first and the frame is built once: assigning them one by one made
    # pandas copy and consolidate its blocks over and over (a second per million rows).
    columns, seconds = build_group_columns(inputs)
    for name in CATEGORICAL_FEATURES:
        columns[name] = columns[name].fillna(_UNKNOWN).astype("object")
    for name in numeric_features(inputs.params):
        columns[name] = columns[name].astype("float64")
    return _frame(columns), seconds


def _frame(columns: dict[str, pd.Series]) -> pd.DataFrame:
    """The columns as one DataFrame, in order, with a fresh RangeIndex.

    Each run of adjacent float64 columns is stacked into one 2-D array, which pandas adopts
    as a block as it is; `pd.DataFrame(dict)` consolidated the same columns block by block
    and took two thirds of `build_features` at a million rows."""
    pieces: list[pd.DataFrame] = []
    run: list[str] = []

    def close_run() -> None:
        if run:
            stacked = np.vstack([columns[name].to_numpy() for name in run])
            pieces.append(pd.DataFrame(stacked.T, columns=list(run), copy=False))
            run.clear()

    for name, column in columns.items():
        if column.dtype == np.float64:
            run.append(name)
            continue
        close_run()
        # An object column goes in as its NumPy array: wrapped as `.array`, pandas scans it
        # for missing values on the way in (a quarter of a second per million rows).
        values = column.to_numpy() if column.dtype == object else column.array
        pieces.append(pd.DataFrame({name: values}, copy=False))
    close_run()
    return pd.concat(pieces, axis=1, copy=False)


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
