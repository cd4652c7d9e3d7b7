"""The fallback when the model cannot answer in time or fails: the share of late flights by
carrier and scheduled departure hour over recent labelled days (a cell with few flights uses
the carrier's rate, an unknown carrier the overall one). Documented, cheap, never a 500."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from features.label import is_late
from features.params import FeatureParams


@dataclass(frozen=True)
class BaseRates:
    by_carrier_hour: dict[tuple[str, int], float]
    by_carrier: dict[str, float]
    overall: float
    flights: int

    def rate(self, carrier: str, sched_dep_time: int) -> float:
        hour = int(sched_dep_time) // 100
        return self.by_carrier_hour.get((carrier, hour), self.by_carrier.get(carrier, self.overall))


def base_rates(
    flights: pd.DataFrame, outcomes: pd.DataFrame, params: FeatureParams, min_flights: int
) -> BaseRates:
    """Late shares from scheduled flights and their outcomes (joined by `flight_id`)."""
    joined = flights.loc[:, ["flight_id", "carrier", "sched_dep_time"]].merge(
        outcomes.loc[:, ["flight_id", "arr_delay", "dep_time"]], on="flight_id"
    )
    joined["late"] = is_late(
        joined["arr_delay"],
        joined["dep_time"],
        params.label_delay_minutes,
        params.unobserved_arrival,
    )
    joined = joined.dropna(subset=["late"])
    if joined.empty:
        return BaseRates({}, {}, 0.0, 0)
    joined["hour"] = joined["sched_dep_time"].astype(int) // 100
    cells = joined.groupby(["carrier", "hour"])["late"].agg(["mean", "size"])
    carriers = joined.groupby("carrier")["late"].agg(["mean", "size"])
    return BaseRates(
        by_carrier_hour={
            (str(c), int(h)): float(row["mean"])
            for (c, h), row in cells.iterrows()
            if row["size"] >= min_flights
        },
        by_carrier={
            str(c): float(row["mean"])
            for c, row in carriers.iterrows()
            if row["size"] >= min_flights
        },
        overall=float(joined["late"].mean()),
        flights=len(joined),
    )


def fallback_days(labelled: list[date], until: date, days: int) -> list[date]:
    """The newest `days` labelled days before `until`: the base rates' window (a service started
    on 2013's data today still counts 2013's last weeks, not an empty month)."""
    return sorted(day for day in labelled if day < until)[-days:]
