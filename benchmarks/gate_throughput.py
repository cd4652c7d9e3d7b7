"""The data gate's cost as a ratio of reading the same batch from parquet.

Cases: one landed day, the full year, and synthetic batches made by resampling 2013 (1M, 10M
rows). Each case runs in a fresh subprocess so its peak memory is its own.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

CASES = {"one_day": 0, "full_year": 1, "synthetic_1m": 1_000_000, "synthetic_10m": 10_000_000}


def scheduled_year() -> pd.DataFrame:
    from pipelines import landing, sources

    flights = sources.source_flights().copy()
    flights["flight_date"] = flights["flight_date"].map(date.isoformat)
    flights["flight_id"] = landing.flight_id(flights)
    flights["time_hour"] = pd.to_datetime(flights["time_hour"], utc=True)
    return flights.loc[:, list(landing.SCHEDULED_COLUMNS)]


def make_batch(case: str, path: Path) -> dict:
    year = scheduled_year()
    if case == "one_day":
        batch = year.loc[year["flight_date"] == "2013-06-14"]
    elif case == "full_year":
        batch = year
    else:
        rows = CASES[case]
        picked = np.random.default_rng(0).integers(0, len(year), size=rows)
        batch = year.iloc[picked].reset_index(drop=True)
        batch["flight_id"] = batch["flight_id"] + "_" + batch.index.astype(str)
    batch.to_parquet(path, index=False, row_group_size=1_000_000)
    return {"rows": len(batch), "dates": sorted(batch["flight_date"].unique())}


def measure(case: str, path: Path, dates: list[str]) -> dict:
    """In a child process: read time, gate time (GX, no Data Docs), peak memory."""
    from pipelines import contracts, sources
    from pipelines.config import GateParams
    from pipelines.gate import validate_frame

    gate = GateParams()
    started = time.perf_counter()
    frame = pd.read_parquet(path)
    read_seconds = time.perf_counter() - started
    parameters = {
        "batch_dates": dates,
        "min_rows": 1,
        "max_rows": 10 * len(frame),
        "known_carriers": sorted(sources.source_reference_table("airlines")["carrier"]),
        "known_airports": sorted(sources.source_reference_table("airports")["faa"]),
    }
    with tempfile.TemporaryDirectory() as gx_dir:
        contract = contracts.scheduled_flights(gate)
        validate_frame(contract, frame.head(100), parameters, "warm-up", Path(gx_dir), None, 0.01)
        started = time.perf_counter()
        validation = validate_frame(contract, frame, parameters, case, Path(gx_dir), None, 0.01)
        gate_seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "case": case,
        "rows": len(frame),
        "status": validation.report.status,
        "read_parquet_seconds": round(read_seconds, 3),
        "gate_seconds": round(gate_seconds, 3),
        "gate_over_read_ratio": round(gate_seconds / read_seconds, 2),
        "rows_per_second": round(len(frame) / gate_seconds),
        "peak_rss_mb": round(peak_mb),
    }


def run(cases: list[str] | None = None) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for case in cases or list(CASES):
            path = Path(scratch) / f"{case}.parquet"
            made = make_batch(case, path)
            child = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.gate_throughput",
                    case,
                    str(path),
                    json.dumps(made["dates"]),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            results[case] = json.loads(child.stdout.strip().splitlines()[-1])
            print(json.dumps(results[case]), file=sys.stderr)
    return results


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3]))))
