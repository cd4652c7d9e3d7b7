"""Data contracts as reviewed code: one Great Expectations suite per contract.

Suites are static; what differs per batch (its dates, its learned row-count bounds, the known
carrier and airport codes) is passed at run time as expectation parameters (`$PARAMETER`), so
the same suite validates a landed day at scoring time and the training snapshot.

Severity: `critical` expectations block the batch; `warning` ones are recorded only.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import great_expectations as gx
from great_expectations.expectations import Expectation
from great_expectations.expectations.expectation import FailureSeverity

from features.build import CATEGORICAL_FEATURES, KEY_COLUMNS, numeric_features
from features.params import FeatureParams
from pipelines.config import GateParams
from pipelines.data.landing import OUTCOME_COLUMNS, SCHEDULED_COLUMNS
from pipelines.gate.expectations import (
    ExpectColumnPairValuesToDiffer,
    ExpectRouteDistanceToMatchReference,
    route_miles,
    routes_parameter,
)

E = gx.expectations
CRITICAL, WARNING = FailureSeverity.CRITICAL, FailureSeverity.WARNING
INTEGER_TYPES = ["int64", "Int64", "int32", "Int32", "int16", "int8"]
NUMBER_TYPES = [*INTEGER_TYPES, "float64", "Float64", "float32"]
NYC_ORIGINS = ["EWR", "JFK", "LGA"]
#: GX cannot name a tz-aware dtype in a type list; per-value `Timestamp` covers it.
TIMESTAMP = "Timestamp"


def parameter(name: str) -> dict[str, str]:
    return {"$PARAMETER": name}


def date_parameters(batch_dates: list[str]) -> dict[str, Any]:
    """The `$PARAMETER`s that pin a batch to its dates: `flight_date` must be one of them,
    and so must the date `flight_id` starts with."""
    return {
        "batch_dates": batch_dates,
        "flight_id_date_pattern": flight_id_date_pattern(batch_dates),
    }


def reference_code_parameters(airlines: Any, airports: Any) -> dict[str, Any]:
    """What the reference tables know (`$PARAMETER`s): the carrier and airport codes, and the
    great-circle miles of every route from New York."""
    return {
        "known_carriers": sorted(airlines["carrier"].dropna().astype(str).unique()),
        "known_airports": sorted(airports["faa"].dropna().astype(str).unique()),
        "route_miles": routes_parameter(route_miles(airports, NYC_ORIGINS)),
    }


def flight_id_date_pattern(batch_dates: list[str]) -> str:
    """`flight_id` starts with its flight's date: that date must be one of the batch's.

    The dates are folded into a trie (year, then month, then day): the regex engine tests a
    few digits per level instead of every date in turn, and one date is the literal."""
    tree: dict[str, dict[str, set[str]]] = {}
    for day in batch_dates:
        year, month, day_of_month = day.split("-")
        tree.setdefault(year, {}).setdefault(month, set()).add(day_of_month)

    def either(options: list[str]) -> str:
        return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"

    years = [
        re.escape(f"{year}-")
        + either(
            [
                re.escape(f"{month}-") + either(sorted(re.escape(d) for d in days))
                for month, days in sorted(months.items())
            ]
        )
        for year, months in sorted(tree.items())
    ]
    return "^" + either(years) + "_"


@dataclass(frozen=True)
class Contract:
    """A named suite; `row_level` expectations may quarantine single rows instead of the batch."""

    name: str
    expectations: tuple[Expectation, ...]

    def suite(self) -> gx.ExpectationSuite:
        suite = gx.ExpectationSuite(name=self.name)
        for expectation in self.expectations:
            suite.add_expectation(copy.deepcopy(expectation))
        return suite


def _types(columns: list[str], type_list: list[str]) -> list[Expectation]:
    return [E.ExpectColumnValuesToBeInTypeList(column=c, type_list=type_list) for c in columns]


def _not_null(columns: list[str]) -> list[Expectation]:
    return [E.ExpectColumnValuesToNotBeNull(column=c) for c in columns]


def _null_ceilings(
    ceilings: dict[str, float], severity: FailureSeverity = CRITICAL
) -> list[Expectation]:
    return [
        E.ExpectColumnProportionOfNonNullValuesToBeBetween(
            column=column, min_value=1.0 - ceiling, max_value=1.0, severity=severity
        )
        for column, ceiling in ceilings.items()
    ]


def scheduled_flights(gate: GateParams) -> Contract:
    """The day's scheduled flights, what is known the evening before (training and scoring).

    Every column must be present; every column carrying the date (`flight_date`, and the
    `flight_id` built from it) must name the partition's day, so they agree with each other."""
    return Contract(
        "scheduled_flights",
        (
            E.ExpectTableColumnsToMatchSet(column_set=list(SCHEDULED_COLUMNS), exact_match=True),
            E.ExpectTableRowCountToBeBetween(
                min_value=parameter("min_rows"), max_value=parameter("max_rows")
            ),
            *_types(
                ["sched_dep_time", "sched_arr_time", "flight", "distance"],
                NUMBER_TYPES,
            ),
            *_not_null(list(SCHEDULED_COLUMNS)),
            E.ExpectColumnValuesToBeUnique(column="flight_id"),
            E.ExpectColumnValuesToBeInSet(column="flight_date", value_set=parameter("batch_dates")),
            E.ExpectColumnValuesToMatchRegex(
                column="flight_id", regex=parameter("flight_id_date_pattern")
            ),
            E.ExpectColumnValuesToBeBetween(column="sched_dep_time", min_value=0, max_value=2359),
            E.ExpectColumnValuesToBeBetween(column="sched_arr_time", min_value=0, max_value=2359),
            E.ExpectColumnValuesToBeBetween(
                column="distance", min_value=gate.min_distance, max_value=gate.max_distance
            ),
            E.ExpectColumnValuesToBeInSet(column="origin", value_set=NYC_ORIGINS),
            # a relation the data must keep: no flight lands where it took off
            ExpectColumnPairValuesToDiffer(column_A="origin", column_B="dest"),
            # and flies the route's distance (in miles: kilometres reject the batch)
            ExpectRouteDistanceToMatchReference(
                column_list=["origin", "dest", "distance"],
                route_miles=parameter("route_miles"),
                tolerance=gate.route_distance_tolerance,
            ),
            E.ExpectColumnValuesToBeInSet(
                column="carrier",
                value_set=parameter("known_carriers"),
                mostly=1.0 - gate.unknown_carrier_budget,
            ),
            E.ExpectColumnValuesToBeInSet(
                column="dest",
                value_set=parameter("known_airports"),
                mostly=1.0 - gate.unknown_airport_budget,
            ),
        ),
    )


def outcomes(gate: GateParams) -> Contract:
    """The day's actual times and delays (labels), delivered the day after."""
    return Contract(
        "outcomes",
        (
            E.ExpectTableColumnsToMatchSet(column_set=list(OUTCOME_COLUMNS), exact_match=True),
            E.ExpectTableRowCountToBeBetween(
                min_value=parameter("min_rows"), max_value=parameter("max_rows")
            ),
            *_types(["dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"], NUMBER_TYPES),
            *_not_null(["flight_id", "flight_date"]),
            E.ExpectColumnValuesToBeUnique(column="flight_id"),
            E.ExpectColumnValuesToBeInSet(column="flight_date", value_set=parameter("batch_dates")),
            E.ExpectColumnValuesToBeBetween(column="dep_time", min_value=0, max_value=2400),
            E.ExpectColumnValuesToBeBetween(column="arr_time", min_value=0, max_value=2400),
            E.ExpectColumnValuesToBeBetween(
                column="arr_delay",
                min_value=-gate.max_delay_minutes,
                max_value=gate.max_delay_minutes,
            ),
            E.ExpectColumnValuesToBeBetween(column="air_time", min_value=1, max_value=1000),
            *_null_ceilings(gate.null_share_ceilings.get("outcomes", {})),
            *_null_ceilings({"arr_delay": 0.2}, severity=WARNING),
        ),
    )


def reference_airlines() -> Contract:
    return Contract(
        "reference_airlines",
        (
            E.ExpectTableColumnsToMatchSet(column_set=["carrier", "name"], exact_match=True),
            E.ExpectTableRowCountToBeBetween(min_value=1, max_value=1000),
            *_not_null(["carrier", "name"]),
            E.ExpectColumnValuesToBeUnique(column="carrier"),
        ),
    )


def reference_airports() -> Contract:
    return Contract(
        "reference_airports",
        (
            E.ExpectTableColumnsToMatchSet(
                column_set=["faa", "name", "lat", "lon"], exact_match=False
            ),
            E.ExpectTableRowCountToBeBetween(min_value=1, max_value=100_000),
            *_not_null(["faa"]),
            E.ExpectColumnValuesToBeUnique(column="faa"),
            E.ExpectColumnValuesToBeBetween(
                column="lat", min_value=-90, max_value=90, severity=WARNING
            ),
        ),
    )


def reference_planes() -> Contract:
    return Contract(
        "reference_planes",
        (
            E.ExpectTableColumnsToMatchSet(
                column_set=["tailnum", "year", "seats", "engine"], exact_match=False
            ),
            E.ExpectTableRowCountToBeBetween(min_value=1, max_value=1_000_000),
            *_not_null(["tailnum"]),
            E.ExpectColumnValuesToBeUnique(column="tailnum"),
            *_types(["year", "seats"], NUMBER_TYPES),
            E.ExpectColumnValuesToBeBetween(column="seats", min_value=1, max_value=1000),
            E.ExpectColumnValuesToBeBetween(
                column="year", min_value=1900, max_value=2100, severity=WARNING
            ),
        ),
    )


def reference_weather() -> Contract:
    return Contract(
        "reference_weather",
        (
            E.ExpectTableColumnsToMatchSet(
                column_set=["origin", "time_hour", "temp", "precip", "wind_speed", "visib"],
                exact_match=False,
            ),
            E.ExpectTableRowCountToBeBetween(min_value=1, max_value=10_000_000),
            *_not_null(["origin", "time_hour"]),
            E.ExpectColumnValuesToBeOfType(column="time_hour", type_=TIMESTAMP),
            E.ExpectColumnValuesToBeInSet(column="origin", value_set=NYC_ORIGINS),
            E.ExpectCompoundColumnsToBeUnique(column_list=["origin", "time_hour"]),
            *_types(["temp", "precip", "wind_speed", "visib"], NUMBER_TYPES),
            E.ExpectColumnValuesToBeBetween(column="precip", min_value=0, max_value=10),
            # 2013 holds one wind speed of 1,048 mph: recorded, not blocking.
            E.ExpectColumnValuesToBeBetween(
                column="wind_speed", min_value=0, max_value=200, severity=WARNING
            ),
            E.ExpectColumnValuesToBeBetween(
                column="temp", min_value=-40, max_value=130, severity=WARNING
            ),
        ),
    )


def feature_table(features: FeatureParams) -> Contract:
    """What the model sees: typed, complete keys and categories, and nothing past the cutoff."""
    numeric = list(numeric_features(features))
    return Contract(
        "feature_table",
        (
            E.ExpectTableColumnsToMatchSet(
                column_set=[
                    *KEY_COLUMNS,
                    *CATEGORICAL_FEATURES,
                    *numeric,
                    "cutoff_at",
                    "wx_observed_at",
                ],
                exact_match=False,
            ),
            E.ExpectTableRowCountToBeBetween(min_value=1),
            *_types(numeric, ["float64"]),
            *_not_null([*KEY_COLUMNS, *CATEGORICAL_FEATURES]),
            E.ExpectColumnValuesToBeUnique(column="flight_id"),
            E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="cutoff_at",
                column_B="wx_observed_at",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
        ),
    )


def labelled_feature_table(features: FeatureParams) -> Contract:
    base = feature_table(features)
    return Contract(
        "labelled_feature_table",
        (*base.expectations, E.ExpectColumnValuesToBeInSet(column="label", value_set=[0.0, 1.0])),
    )


def reference_contract(table: str) -> Contract:
    builders = {
        "airlines": reference_airlines,
        "airports": reference_airports,
        "planes": reference_planes,
        "weather": reference_weather,
    }
    return builders[table]()


def contract_for(name: str, gate: GateParams, features: FeatureParams) -> Contract:
    if name == "scheduled_flights":
        return scheduled_flights(gate)
    if name == "outcomes":
        return outcomes(gate)
    if name == "feature_table":
        return feature_table(features)
    if name == "labelled_feature_table":
        return labelled_feature_table(features)
    if name.startswith("reference_"):
        return reference_contract(name.removeprefix("reference_"))
    raise KeyError(f"no contract named {name!r}")


def describe(contract: Contract) -> list[dict[str, Any]]:
    """The suite as plain data (for review, docs and `mlops gate suites`)."""
    return [
        {"type": e.expectation_type, "severity": str(e.severity.value), **e.configuration.kwargs}
        for e in contract.expectations
    ]
