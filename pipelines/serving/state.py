"""What the service reads at start, from the same stores as batch scoring (side effects)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from features.schedule import ScheduleCounts
from pipelines.config import Params
from pipelines.data import landing
from pipelines.data.landing import validated_uri
from pipelines.gate.contracts import NYC_ORIGINS
from pipelines.gate.expectations import route_miles
from pipelines.scoring.shards import count_day_schedule
from pipelines.serving.app import ServingInputs
from pipelines.serving.fallback import BaseRates, base_rates, fallback_days
from pipelines.storage import exists, join_uri, list_files, read_parquet


def load_base_rates(params: Params, until: date) -> BaseRates:
    """Base rates over the newest `serving.fallback_days` landed days with outcomes before
    `until` (none gives a rate of 0, and `/health` says it counted 0 flights)."""
    flights: list[pd.DataFrame] = []
    outcomes: list[pd.DataFrame] = []
    root = params.landing_root
    labelled = [
        date.fromisoformat(uri.rstrip("/").rsplit("date=", 1)[1])
        for uri in list_files(join_uri(root, "outcomes"), "date=*")
    ]
    for day in fallback_days(labelled, until, params.serving.fallback_days):
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

    counted: dict[date, ScheduleCounts] = {}  # only validated days: a day gated later is seen

    def schedule_counts(day: date) -> ScheduleCounts | None:
        if day not in counted:
            if not exists(validated_uri(params, "flights", day)):
                return None
            if len(counted) >= 8:
                counted.pop(next(iter(counted)))
            counted[day] = count_day_schedule(params, day)
        return counted[day]

    return ServingInputs(
        weather=landing.read_reference(params.landing_root, "weather"),
        known_carriers=frozenset(airlines["carrier"].dropna().astype(str)),
        known_airports=frozenset(airports["faa"].dropna().astype(str)),
        route_miles=route_miles(airports, NYC_ORIGINS),
        base_rates=load_base_rates(params, today),
        schedule_counts=schedule_counts,
    )
