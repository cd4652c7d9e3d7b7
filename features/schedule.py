"""Schedule features: the published timetable, known days ahead."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

_MINUTES_PER_DAY = 24 * 60


def _minute_of_day(hhmm: pd.Series) -> pd.Series:
    return (hhmm // 100) * 60 + hhmm % 100


def scheduled_block_minutes(sched_dep_time: pd.Series, sched_arr_time: pd.Series) -> pd.Series:
    """Scheduled departure to scheduled arrival, in local clock minutes (wraps past midnight)."""
    block = (_minute_of_day(sched_arr_time) - _minute_of_day(sched_dep_time)) % _MINUTES_PER_DAY
    return block.astype("float64")


@dataclass(frozen=True)
class ScheduleCounts:
    """Flights scheduled per (date, origin, hour), (date, origin) and (date, carrier).

    Counted over the whole batch once, then looked up per row: scoring streams a large day in
    record batches, and a count taken inside one record batch would differ from training's."""

    origin_hour: pd.Series
    origin_day: pd.Series
    carrier_day: pd.Series

    def to_frame(self) -> pd.DataFrame:
        """One long table (for storage between the tasks of a run)."""
        parts = []
        for kind, counts in (
            ("origin_hour", self.origin_hour),
            ("origin_day", self.origin_day),
            ("carrier_day", self.carrier_day),
        ):
            keys = counts.index.to_frame(index=False)
            parts.append(
                pd.DataFrame(
                    {
                        "kind": kind,
                        "d": keys["d"].astype(str),
                        "code": keys.iloc[:, 1].astype(str),
                        "h": keys["h"].astype("float64") if "h" in keys else float("nan"),
                        "flights": counts.to_numpy(dtype="float64"),
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ScheduleCounts:
        def part(kind: str, names: list[str]) -> pd.Series:
            rows = frame.loc[frame["kind"] == kind].rename(columns={"code": names[1]})
            return rows.set_index(names)["flights"].astype("float64").rename(None)

        return cls(
            origin_hour=part("origin_hour", ["d", "o", "h"]),
            origin_day=part("origin_day", ["d", "o"]),
            carrier_day=part("carrier_day", ["d", "c"]),
        )

    def plus(self, other: ScheduleCounts) -> ScheduleCounts:
        def add(a: pd.Series, b: pd.Series) -> pd.Series:
            return a.add(b, fill_value=0)

        return ScheduleCounts(
            add(self.origin_hour, other.origin_hour),
            add(self.origin_day, other.origin_day),
            add(self.carrier_day, other.carrier_day),
        )


def count_schedule(
    flight_date: pd.Series, origin: pd.Series, carrier: pd.Series, dep_hour: pd.Series
) -> ScheduleCounts:
    keys = pd.DataFrame({"d": flight_date, "o": origin, "c": carrier, "h": dep_hour})
    return ScheduleCounts(
        origin_hour=keys.groupby(["d", "o", "h"]).size().astype("float64"),
        origin_day=keys.groupby(["d", "o"]).size().astype("float64"),
        carrier_day=keys.groupby(["d", "c"]).size().astype("float64"),
    )


def _look_up(counts: pd.Series, *keys: pd.Series) -> pd.Series:
    index = pd.MultiIndex.from_arrays([k.to_numpy() for k in keys])
    found = counts.reindex(index).to_numpy(dtype="float64")
    return pd.Series(found, index=keys[0].index)


def origin_hour_flights(
    flight_date: pd.Series, origin: pd.Series, dep_hour: pd.Series, counts: ScheduleCounts
) -> pd.Series:
    """Flights scheduled to leave the same airport in the same hour: congestion."""
    return _look_up(counts.origin_hour, flight_date, origin, dep_hour)


def origin_day_flights(
    flight_date: pd.Series, origin: pd.Series, counts: ScheduleCounts
) -> pd.Series:
    return _look_up(counts.origin_day, flight_date, origin)


def carrier_day_flights(
    flight_date: pd.Series, carrier: pd.Series, counts: ScheduleCounts
) -> pd.Series:
    return _look_up(counts.carrier_day, flight_date, carrier)
