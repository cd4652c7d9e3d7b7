"""Expectations Great Expectations does not ship: a route's distance agrees with the
great-circle distance between its airports in the `airports` reference table; and a flight
does not land where it took off, two columns that must differ (GX's
`expect_select_column_values_to_be_unique_within_record` says the same, but its pandas
metric is `nunique(axis=1)`, a Python call per row: 10 s per pass at 1M rows, vectorised here).

A relation the data must keep across columns (a flight's `distance` in miles, given its `origin`
and `dest`), checked by GX like any multicolumn map expectation: row by row, its unexpected
rows counted, listed and quarantined, so a unit change (kilometres) rejects the batch and one
mistyped distance is set aside alone. Routes whose airport the table lacks are not judged (the
known-airports expectation budgets those)."""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    ColumnPairMapExpectation,
    MulticolumnMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnPairMapMetricProvider,
    MulticolumnMapMetricProvider,
)
from great_expectations.expectations.metrics.map_metric_provider.column_pair_condition_partial import (  # noqa: E501
    column_pair_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (  # noqa: E501
    multicolumn_condition_partial,
)

EARTH_RADIUS_MILES = 3958.8


def great_circle_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in statute miles (the unit of `flights.distance`)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(h))


def route_key(origin: str, dest: str) -> str:
    return f"{origin}-{dest}"


def route_miles(airports: pd.DataFrame, origins: list[str]) -> dict[str, float]:
    """Great-circle miles of every route from `origins` to an airport of the reference table
    (`faa`, `lat`, `lon`): the expectation's `$PARAMETER`."""
    located = airports.dropna(subset=["faa", "lat", "lon"]).drop_duplicates("faa")
    where = {str(r.faa): (float(r.lat), float(r.lon)) for r in located.itertuples()}
    return {
        route_key(origin, dest): round(great_circle_miles(*where[origin], *where[dest]), 1)
        for origin in origins
        if origin in where
        for dest in where
        if dest != origin
    }


def reference_miles(origin: pd.Series, dest: pd.Series, miles: dict[str, float]) -> np.ndarray:
    """Each row's route miles (NaN where the table lacks the route), looked up by the codes of
    the few distinct airports: no per-row string is built (a string per row, 10 passes per
    validation, was 1.7 s per 500k rows)."""
    origin_codes, origins = pd.factorize(origin)
    dest_codes, dests = pd.factorize(dest)
    table = np.full((len(origins) + 1, len(dests) + 1), np.nan)  # the last row/column: missing
    for i, o in enumerate(origins):
        for j, d in enumerate(dests):
            table[i, j] = miles.get(route_key(str(o), str(d)), np.nan)
    return table[origin_codes, dest_codes]  # a code of -1 (missing) reads the NaN edge


def routes_parameter(miles: dict[str, float]) -> str:
    """`route_miles` as the expectation's parameter: one string ("JFK-LAX=2475.0;…").

    GX copies and validates an expectation's arguments with pydantic dozens of times per
    validation, element by element: the 4,000 routes as a dict cost 1.5–2 s per validated
    chunk whatever its size; one string is one value."""
    return ";".join(f"{route}={value}" for route, value in sorted(miles.items()))


@functools.lru_cache(maxsize=4)
def _parsed_routes(encoded: str) -> dict[str, float]:
    pairs = (item.split("=") for item in encoded.split(";") if item)
    return {route: float(value) for route, value in pairs}


def route_miles_of(parameter: str | dict[str, float]) -> dict[str, float]:
    """The routes' miles from the parameter (a `routes_parameter` string, or a dict)."""
    return _parsed_routes(parameter) if isinstance(parameter, str) else parameter


class RouteDistanceMatchesReference(MulticolumnMapMetricProvider):
    """Row by row: `distance` within `tolerance` (a share) of the route's reference miles."""

    condition_metric_name = "multicolumn_values.route_distance_matches_reference"
    condition_domain_keys = (
        "batch_id",
        "table",
        "column_list",
        "row_condition",
        "condition_parser",
        "ignore_row_if",
    )
    condition_value_keys = ("route_miles", "tolerance")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)  # type: ignore[misc]
    def _pandas(cls, column_list: pd.DataFrame, **kwargs: Any) -> pd.Series:
        origin, dest, distance = (column_list.iloc[:, i] for i in range(3))
        expected = pd.Series(
            reference_miles(origin, dest, route_miles_of(kwargs["route_miles"])),
            index=column_list.index,
        )
        off = (pd.to_numeric(distance, errors="coerce") / expected - 1.0).abs()
        return expected.isna() | (off <= float(kwargs["tolerance"]))


class ExpectRouteDistanceToMatchReference(MulticolumnMapExpectation):
    """Expect each flight's distance, `column_list` = [origin, dest, distance], to be within
    `tolerance` of its route's great-circle miles in `route_miles` (from the airports table)."""

    route_miles: str | dict[str, float] | dict[str, str]  # `routes_parameter`, or {"$PARAMETER"}
    tolerance: float = 0.05
    # Every row is judged (a missing value is the not-null checks'): GX's default drops the
    # rows whose values are all missing first, a copy of the frame and most of the cost.
    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"

    map_metric = "multicolumn_values.route_distance_matches_reference"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "route_miles", "tolerance")
    args_keys = ("column_list",)


class ColumnPairValuesDiffer(ColumnPairMapMetricProvider):
    """Row by row: the two columns' values differ (one vectorised comparison)."""

    condition_metric_name = "column_pair_values.differ"
    condition_domain_keys = (
        "batch_id",
        "table",
        "column_A",
        "column_B",
        "row_condition",
        "condition_parser",
        "ignore_row_if",
    )
    condition_value_keys = ()

    @column_pair_condition_partial(engine=PandasExecutionEngine)  # type: ignore[misc]
    def _pandas(cls, column_A: pd.Series, column_B: pd.Series, **kwargs: Any) -> pd.Series:  # noqa: N803
        a, b = column_A.to_numpy(dtype=object), column_B.to_numpy(dtype=object)
        present = ~(pd.isna(a) | pd.isna(b))  # a missing value is the not-null checks' to judge
        same = np.zeros(len(a), dtype=bool)
        same[present] = a[present] == b[present]
        return pd.Series(~same, index=column_A.index)


class ExpectColumnPairValuesToDiffer(ColumnPairMapExpectation):
    """Expect the values of `column_A` and `column_B` to differ on every row (origin ≠ dest)."""

    # Every row is compared (a missing value is the not-null check's): dropping the rows with
    # a missing value first would copy the frame, the largest part of this check's cost.
    ignore_row_if: str = "neither"
    map_metric = "column_pair_values.differ"
    success_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B", "ignore_row_if", "mostly")
    args_keys = ("column_A", "column_B")
