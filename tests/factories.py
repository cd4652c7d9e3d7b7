"""Small frames built in the tests: the shapes of the landing contracts, a few rows each."""

from __future__ import annotations

import pandas as pd


def scheduled_flights(rows: int = 3, day: str = "2013-01-10") -> pd.DataFrame:
    base = pd.DataFrame(
        {
            "flight_date": [day] * rows,
            "sched_dep_time": [600 + 100 * i for i in range(rows)],
            "sched_arr_time": [900 + 100 * i for i in range(rows)],
            "carrier": ["UA", "AA", "B6"][:rows] + ["UA"] * max(0, rows - 3),
            "flight": list(range(100, 100 + rows)),
            "origin": ["EWR", "JFK", "LGA"][:rows] + ["EWR"] * max(0, rows - 3),
            "dest": ["IAH", "MIA", "BOS"][:rows] + ["ORD"] * max(0, rows - 3),
            "distance": [1400, 1089, 184][:rows] + [719] * max(0, rows - 3),
        }
    )
    base["flight_id"] = (
        base["flight_date"]
        + "_"
        + base["carrier"]
        + base["flight"].astype(str)
        + "_"
        + base["origin"]
    )
    return base


def weather(
    origins: tuple[str, ...] = ("EWR", "JFK", "LGA"), start: str = "2013-01-08", hours: int = 72
) -> pd.DataFrame:
    frames = []
    for origin in origins:
        times = pd.date_range(start, periods=hours, freq="h", tz="UTC")
        frames.append(
            pd.DataFrame(
                {
                    "origin": origin,
                    "time_hour": times,
                    "temp": 30.0,
                    "dewp": 20.0,
                    "humid": 60.0,
                    "wind_speed": 10.0,
                    "wind_gust": float("nan"),
                    "precip": 0.0,
                    "pressure": 1012.0,
                    "visib": 10.0,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def outcomes(flights: pd.DataFrame, arr_delay: list[float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "flight_id": flights["flight_id"],
            "flight_date": flights["flight_date"],
            "dep_time": [None if d is None else 600.0 for d in arr_delay],
            "dep_delay": 0.0,
            "arr_time": 900.0,
            "arr_delay": arr_delay,
            "air_time": 100.0,
        }
    )


def repository_params():
    """The committed params.yaml, typed (every tunable is required: tests use the real ones)."""
    from pipelines.config import REPO_ROOT, load_params

    return load_params(REPO_ROOT / "params.yaml")


def verdict_policy():
    """The committed verdict policy, pinned to the numbers the verdict tests are built around
    (a change to `params.yaml` must not silently move them)."""
    import dataclasses

    return dataclasses.replace(
        repository_params().monitoring.verdict,
        important_features=5,
        minor_drift_min_columns=2,
        performance_tolerance=0.02,
        estimate_tolerance=0.03,
        labels_late_days=3,
        feature_missing_reference_share=0.5,
        performance_reference="estimate",
        min_labelled_days=3,
        severe_drift_factor=2.0,
        out_of_range_share=0.05,
        act_triggers=("important_drift", "severe_drift", "minor_drift", "prediction_drift"),
    )


def verdict_level(triggers: list[str]) -> str:
    """The level a night's triggers make (`pipelines/monitoring/verdict.py`'s rules)."""
    acting = set(repository_params().monitoring.verdict.act_triggers)
    return "act" if acting & set(triggers) else ("watch" if triggers else "ok")


def stage_shards(params, day, rows: pd.DataFrame, run: str, cuts: list[int]) -> list:  # type: ignore[no-untyped-def]
    """The day's rows written as shard files in its staging folder, cut at `cuts`."""
    from pipelines.scoring.paths import staging_uri
    from pipelines.scoring.shards import ShardResult
    from pipelines.storage import join_uri, write_parquet

    bounds = [0, *cuts, len(rows)]
    shards = []
    for index, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        uri = join_uri(staging_uri(params, day), f"{run}-shard-{index:05d}.parquet")
        write_parquet(rows.iloc[start:stop], uri)
        shards.append(ShardResult(index, stop - start, uri, None))
    return shards
