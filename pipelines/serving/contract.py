"""What a caller sends and gets back online: the scheduled batch's fields, held to the same
contract as the nightly gate.

Types and structural ranges are pydantic's (a 422 naming the field); the ranges and relations
that come from `params.yaml` and the reference tables (distance bounds, origin ≠ destination,
a route's great-circle miles) are `contract_errors`, a pure function with the gate's numbers.
An unknown carrier or destination is not an error: the model answers with its handling of
unknown values and the response names the field (`unknown_codes`)."""

from __future__ import annotations

from datetime import date
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from pipelines.config import GateParams
from pipelines.data.landing import SCHEDULED_COLUMNS
from pipelines.gate.expectations import route_key


class ScheduledFlight(BaseModel):
    """One scheduled flight, in the nightly batch's fields."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    flight_id: str = Field(min_length=1, max_length=64)
    flight_date: date
    sched_dep_time: int = Field(ge=0, le=2359, description="hhmm, local time")
    sched_arr_time: int = Field(ge=0, le=2359, description="hhmm, local time")
    carrier: str = Field(min_length=1, max_length=8)
    flight: int = Field(ge=0)
    origin: Literal["EWR", "JFK", "LGA"]
    dest: str = Field(min_length=3, max_length=4)
    distance: float = Field(gt=0, description="statute miles")


class PredictionRequest(BaseModel):
    """A list of flights (one is fine), at most `serving.max_flights_per_request`."""

    model_config = ConfigDict(extra="forbid")

    flights: list[ScheduledFlight] = Field(min_length=1)


class Prediction(BaseModel):
    flight_id: str
    late_probability: float
    predicted_late: bool
    threshold: float
    model_name: str
    model_version: str
    served_by: Literal["champion", "challenger", "fallback"]
    fallback: bool
    unknown_codes: list[str]
    fallback_reason: str | None = None  # timeout, weather_stale, no model loaded, an error type


class PredictionResponse(BaseModel):
    request_id: str
    predictions: list[Prediction]


def flights_frame(flights: list[ScheduledFlight]) -> pd.DataFrame:
    """The flights as the nightly batch's columns (what the feature code reads)."""
    rows = [flight.model_dump() for flight in flights]
    frame = pd.DataFrame(rows, columns=list(SCHEDULED_COLUMNS))
    frame["flight_date"] = frame["flight_date"].map(date.isoformat)
    return frame


def contract_errors(
    flights: list[ScheduledFlight], gate: GateParams, route_miles: dict[str, float]
) -> list[dict[str, object]]:
    """The gate's ranges and relations, per flight: FastAPI-style error entries (empty if none)."""
    errors: list[dict[str, object]] = []

    def error(index: int, field: str, message: str) -> None:
        errors.append({"loc": ["body", "flights", index, field], "msg": message})

    for i, flight in enumerate(flights):
        if flight.sched_dep_time % 100 > 59 or flight.sched_arr_time % 100 > 59:
            field = "sched_dep_time" if flight.sched_dep_time % 100 > 59 else "sched_arr_time"
            error(i, field, "not a time of day (hhmm with minutes 00–59)")
        if not gate.min_distance <= flight.distance <= gate.max_distance:
            error(i, "distance", f"outside [{gate.min_distance}, {gate.max_distance}] miles")
        if flight.origin == flight.dest:
            error(i, "dest", "equals the origin: no flight lands where it took off")
            continue
        expected = route_miles.get(route_key(flight.origin, flight.dest))
        if expected and abs(flight.distance / expected - 1.0) > gate.route_distance_tolerance:
            error(
                i,
                "distance",
                f"{flight.distance:g} miles, the route {flight.origin}-{flight.dest} is "
                f"{expected:g} (within {gate.route_distance_tolerance:.0%}): kilometres?",
            )
    return errors


def unknown_codes(
    flight: ScheduledFlight, known_carriers: frozenset[str], known_airports: frozenset[str]
) -> list[str]:
    """The fields whose code the reference tables do not know (answered, and named)."""
    unknown = []
    if flight.carrier not in known_carriers:
        unknown.append("carrier")
    if flight.dest not in known_airports:
        unknown.append("dest")
    return unknown
