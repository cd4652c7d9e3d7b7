"""The landing zone: what the upstream system delivers, day by day.

Layout under the landing root (a local folder or `s3://bucket/prefix`):

    flights/date=YYYY-MM-DD/part-0.parquet    the day's scheduled flights (pre-departure columns)
    outcomes/date=YYYY-MM-DD/part-0.parquet   that day's actual times and delays (the labels)
    reference/<table>/part-0.parquet          weather, planes, airlines, airports

Delivery on day D brings the flights scheduled for D and the outcomes of D-1: labels arrive
the day after the flights. Landing a day twice writes identical files (idempotent).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from pipelines.storage import exists, join_uri, read_parquet, write_parquet
from pipelines.upstream import sources

FLIGHT_KEY = "flight_id"

#: Columns known before departure: the only flight columns the scoring side ever sees.
SCHEDULED_COLUMNS = (
    "flight_id",
    "flight_date",
    "year",
    "month",
    "day",
    "sched_dep_time",
    "sched_arr_time",
    "carrier",
    "flight",
    "tailnum",
    "origin",
    "dest",
    "distance",
    "hour",
    "minute",
    "time_hour",
)
#: Columns observed only once the flight has happened: labels and their raw material.
OUTCOME_COLUMNS = (
    "flight_id",
    "flight_date",
    "dep_time",
    "dep_delay",
    "arr_time",
    "arr_delay",
    "air_time",
)


def flight_id(frame: pd.DataFrame) -> pd.Series:
    """Unique per flight: (date, carrier, flight number, origin) never repeats in 2013."""
    return (
        frame["flight_date"].astype(str)
        + "_"
        + frame["carrier"].astype(str)
        + frame["flight"].astype(str)
        + "_"
        + frame["origin"].astype(str)
    )


def partition_uri(landing_root: str, dataset: str, day: date) -> str:
    return join_uri(landing_root, dataset, f"date={day.isoformat()}", "part-0.parquet")


def reference_uri(landing_root: str, table: str) -> str:
    return join_uri(landing_root, "reference", table, "part-0.parquet")


def scheduled_flights(flights: pd.DataFrame, day: date) -> pd.DataFrame:
    """The flights scheduled for `day`, restricted to pre-departure columns."""
    selected = flights.loc[flights["flight_date"] == day].copy()
    selected["flight_date"] = selected["flight_date"].map(date.isoformat)
    selected["flight_id"] = flight_id(selected)
    selected["time_hour"] = pd.to_datetime(selected["time_hour"], utc=True)
    return selected.loc[:, list(SCHEDULED_COLUMNS)].sort_values(FLIGHT_KEY).reset_index(drop=True)


def flight_outcomes(flights: pd.DataFrame, day: date) -> pd.DataFrame:
    selected = flights.loc[flights["flight_date"] == day].copy()
    selected["flight_date"] = selected["flight_date"].map(date.isoformat)
    selected["flight_id"] = flight_id(selected)
    return selected.loc[:, list(OUTCOME_COLUMNS)].sort_values(FLIGHT_KEY).reset_index(drop=True)


@dataclass(frozen=True)
class Delivery:
    """What one day's delivery wrote."""

    delivery_date: date
    flights_rows: int | None
    outcomes_rows: int | None
    uris: tuple[str, ...]


def days(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def land_reference_tables(landing_root: str) -> list[str]:
    return [
        write_parquet(sources.source_reference_table(table), reference_uri(landing_root, table))
        for table in sources.REFERENCE_TABLES
    ]


def land_day(landing_root: str, delivery_date: date, flights: pd.DataFrame) -> Delivery:
    """Deliver the flights of `delivery_date` and the outcomes of the day before."""
    known_days = set(flights["flight_date"])
    uris: list[str] = []
    flights_rows = outcomes_rows = None
    if delivery_date in known_days:
        scheduled = scheduled_flights(flights, delivery_date)
        uris.append(write_parquet(scheduled, partition_uri(landing_root, "flights", delivery_date)))
        flights_rows = len(scheduled)
    outcome_day = delivery_date - timedelta(days=1)
    if outcome_day in known_days:
        outcomes = flight_outcomes(flights, outcome_day)
        uris.append(write_parquet(outcomes, partition_uri(landing_root, "outcomes", outcome_day)))
        outcomes_rows = len(outcomes)
    if not uris:
        raise ValueError(f"the upstream system has no data to deliver on {delivery_date}")
    return Delivery(delivery_date, flights_rows, outcomes_rows, tuple(uris))


def land_days(landing_root: str, delivery_dates: Iterable[date]) -> list[Delivery]:
    """Deliver each date, plus the reference tables; returns what was written."""
    flights = sources.source_flights()
    land_reference_tables(landing_root)
    return [land_day(landing_root, day, flights) for day in delivery_dates]


def read_partition(landing_root: str, dataset: str, day: date) -> pd.DataFrame:
    return read_parquet(partition_uri(landing_root, dataset, day))


def partition_exists(landing_root: str, dataset: str, day: date) -> bool:
    return exists(partition_uri(landing_root, dataset, day))


def read_reference(landing_root: str, table: str) -> pd.DataFrame:
    return read_parquet(reference_uri(landing_root, table))
