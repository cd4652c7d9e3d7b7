"""The landing zone: what the upstream system delivers, day by day.

Layout under the landing root (a local folder or `s3://bucket/prefix`):

    flights/date=YYYY-MM-DD/part-0.parquet    the day's scheduled flights (pre-departure columns)
    outcomes/date=YYYY-MM-DD/part-0.parquet   that day's actual times and delays (the labels)
    reference/<table>/part-0.parquet          weather, planes, airlines, airports

Delivery on day D brings the flights scheduled for D and the outcomes of D-1: labels arrive
the day after the flights. The landing zone belongs to the upstream system: this code reads it and
never moves, rewrites or deletes anything in it (`pipelines/upstream/` plays that system here).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from pipelines.config import Params
from pipelines.storage import exists, join_uri, read_parquet

FLIGHT_KEY = "flight_id"
REFERENCE_TABLES = ("weather", "planes", "airlines", "airports")

#: Columns known the evening before, and only those: the flight columns scoring ever sees.
#: Not delivered: `tailnum` (the source empties it for cancelled flights, so its emptiness
#: carries the outcome: see README, "What the nightly batch may carry") and the columns that
#: repeat the date or time in other forms (`year`, `month`, `day`, `hour`, `minute`,
#: `time_hour`), which nothing reads and which could disagree with the partition.
SCHEDULED_COLUMNS = (
    "flight_id",
    "flight_date",
    "sched_dep_time",
    "sched_arr_time",
    "carrier",
    "flight",
    "origin",
    "dest",
    "distance",
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


def partition_uri(landing_root: str, dataset: str, day: date) -> str:
    return join_uri(landing_root, dataset, f"date={day.isoformat()}", "part-0.parquet")


def validated_uri(params: Params, dataset: str, day: date) -> str:
    """The day's validated partition (same layout under `gate.validated_root`): what the gate
    publishes and downstream stages read."""
    return partition_uri(params.workspace_path(params.gate.validated_root), dataset, day)


def reference_uri(landing_root: str, table: str) -> str:
    return join_uri(landing_root, "reference", table, "part-0.parquet")


def days(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def read_partition(landing_root: str, dataset: str, day: date) -> pd.DataFrame:
    return read_parquet(partition_uri(landing_root, dataset, day))


def partition_exists(landing_root: str, dataset: str, day: date) -> bool:
    return exists(partition_uri(landing_root, dataset, day))


def read_reference(landing_root: str, table: str) -> pd.DataFrame:
    return read_parquet(reference_uri(landing_root, table))
