"""An expectation Great Expectations does not ship: a route's distance agrees with the
great-circle distance between its airports in the `airports` reference table.

A relation the data must keep across columns (a flight's `distance` in miles, given its `origin`
and `dest`), checked by GX like any multicolumn map expectation: row by row, its unexpected
rows counted, listed and quarantined, so a unit change (kilometres) rejects the batch and one
mistyped distance is set aside alone. Routes whose airport the table lacks are not judged (the
known-airports expectation budgets those)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import MulticolumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    MulticolumnMapMetricProvider,
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
        routes = origin.astype(str) + "-" + dest.astype(str)
        expected = routes.map(kwargs["route_miles"]).astype(float)
        off = (pd.to_numeric(distance, errors="coerce") / expected - 1.0).abs()
        return expected.isna() | (off <= float(kwargs["tolerance"]))


class ExpectRouteDistanceToMatchReference(MulticolumnMapExpectation):
    """Expect each flight's distance, `column_list` = [origin, dest, distance], to be within
    `tolerance` of its route's great-circle miles in `route_miles` (from the airports table)."""

    route_miles: dict[str, float] | dict[str, str]  # or a {"$PARAMETER": ...}
    tolerance: float = 0.05

    map_metric = "multicolumn_values.route_distance_matches_reference"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly", "route_miles", "tolerance")
    args_keys = ("column_list",)
