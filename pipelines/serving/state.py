"""What the service reads at start, from the same stores as batch scoring (side effects)."""

from __future__ import annotations

import functools
from datetime import date

import pandas as pd

from pipelines.config import Params
from pipelines.data import landing
from pipelines.data.landing import validated_uri
from pipelines.gate.contracts import NYC_ORIGINS
from pipelines.gate.expectations import route_miles
from pipelines.scoring.shards import count_day_schedule
from pipelines.serving.app import ServingInputs
from pipelines.serving.fallback import BaseRates, base_rates, fallback_window
from pipelines.storage import exists, read_parquet


def load_base_rates(params: Params, until: date) -> BaseRates:
    """Base rates over the landed days with outcomes in the `serving.fallback_days` before
    `until` (the days that exist: none gives a rate of 0 and says so in `/health`)."""
    flights: list[pd.DataFrame] = []
    outcomes: list[pd.DataFrame] = []
    root = params.landing_root
    for day in fallback_window(until, params.serving.fallback_days):
        if landing.partition_exists(root, "outcomes", day) and exists(
            landing.partition_uri(root, "flights", day)
        ):
            for dataset, frames in (("flights", flights), ("outcomes", outcomes)):
                frames.append(read_parquet(landing.partition_uri(root, dataset, day)))
    if not flights:
        return BaseRates({}, {}, 0.0, 0)
    return base_rates(
        pd.concat(flights, ignore_index=True),
        pd.concat(outcomes, ignore_index=True),
        params.features,
        params.serving.fallback_min_flights,
    )


def serving_inputs(params: Params, today: date) -> ServingInputs:
    airlines = landing.read_reference(params.landing_root, "airlines")
    airports = landing.read_reference(params.landing_root, "airports")

    @functools.lru_cache(maxsize=8)
    def schedule_counts(day: date):  # type: ignore[no-untyped-def]
        if not exists(validated_uri(params, "flights", day)):
            return None
        return count_day_schedule(params, day)

    return ServingInputs(
        weather=landing.read_reference(params.landing_root, "weather"),
        known_carriers=frozenset(airlines["carrier"].dropna().astype(str)),
        known_airports=frozenset(airports["faa"].dropna().astype(str)),
        route_miles=route_miles(airports, NYC_ORIGINS),
        base_rates=load_base_rates(params, today),
        schedule_counts=schedule_counts,
    )
