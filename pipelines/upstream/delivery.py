"""The simulated upstream system delivering day by day into the landing zone.

Delivery on day D brings the flights scheduled for D (the columns of `SCHEDULED_COLUMNS` only:
what is known the evening before) and the outcomes of D-1. Landing a day twice writes
identical files (idempotent). The year replay drives this module; the pipeline only reads
what it wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from pipelines.data.landing import (
    FLIGHT_KEY,
    OUTCOME_COLUMNS,
    SCHEDULED_COLUMNS,
    partition_uri,
    reference_uri,
)
from pipelines.progress import track
from pipelines.storage import write_parquet
from pipelines.upstream import sources


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


def scheduled_flights(flights: pd.DataFrame, day: date) -> pd.DataFrame:
    """The flights scheduled for `day`, restricted to pre-departure columns."""
    selected = flights.loc[flights["flight_date"] == day].copy()
    selected["flight_date"] = selected["flight_date"].map(date.isoformat)
    selected["flight_id"] = flight_id(selected)
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
    days = list(delivery_dates)
    flights = sources.source_flights()
    land_reference_tables(landing_root)
    return [land_day(landing_root, day, flights) for day in track(days, "landing", len(days))]
