"""Feature building on the full year, as a ratio of reading the same batch from parquet."""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

from features.build import build_features
from pipelines.config import REPO_ROOT, load_params
from pipelines.data import landing
from pipelines.upstream import delivery, sources


def _best_of(repeats: int, action) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return min(timings)


def run(repeats: int = 3) -> dict:
    flights = sources.source_flights().copy()
    flights["flight_date"] = flights["flight_date"].map(date.isoformat)
    flights["flight_id"] = delivery.flight_id(flights)
    scheduled = flights.loc[:, list(landing.SCHEDULED_COLUMNS)]
    weather = sources.source_reference_table("weather")
    params = load_params(REPO_ROOT / "params.yaml").features
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "flights.parquet"
        scheduled.to_parquet(path, index=False)
        read_seconds = _best_of(repeats, lambda: pd.read_parquet(path))
    build_seconds = _best_of(repeats, lambda: build_features(scheduled, weather, params))
    return {
        "rows": len(scheduled),
        "read_parquet_seconds": round(read_seconds, 4),
        "build_features_seconds": round(build_seconds, 4),
        "build_over_read_ratio": round(build_seconds / read_seconds, 2),
        "rows_per_second": round(len(scheduled) / build_seconds),
    }
