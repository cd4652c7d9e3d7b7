"""The data gate's cost as a ratio of reading the same batch from parquet.

Cases: one landed day, the full year, and synthetic batches made by resampling 2013 (1M, 10M
rows, written with 1M-row row groups, pyarrow's default). The read and the gate each run in a
fresh subprocess; the gate's time is from the file (it reads the batch itself), as the gate
task pays it, and its peak memory is the PSS sum over the gate process and its workers
(`ru_maxrss` would be inherited from the benchmark process across exec, see `memory.py`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.memory import PeakTreeMemory

CASES = {"one_day": 0, "full_year": 1, "synthetic_1m": 1_000_000, "synthetic_10m": 10_000_000}


def scheduled_year() -> pd.DataFrame:
    from pipelines.data import landing
    from pipelines.upstream import delivery, sources

    flights = sources.source_flights().copy()
    flights["flight_date"] = flights["flight_date"].map(date.isoformat)
    flights["flight_id"] = delivery.flight_id(flights)
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


def measure_read(path: Path) -> dict:
    """In a child process: the baseline, reading the batch into pandas."""
    started = time.perf_counter()
    frame = pd.read_parquet(path)
    return {"rows": len(frame), "read_parquet_seconds": time.perf_counter() - started}


def measure_gate(case: str, path: Path, dates: list[str]) -> dict:
    """In a child process: the gate as a task runs it, from the file (GX, no Data Docs).

    Batches up to `gate.stream_above_rows` are read and validated in memory; larger ones are
    validated in chunks by worker processes (`pipelines.gate.chunked`), never loaded whole."""
    import pyarrow.parquet as pq

    from pipelines.config import load_params
    from pipelines.gate import contracts
    from pipelines.gate.validation import validate_frame, validate_parquet
    from pipelines.upstream import sources

    gate = load_params().gate
    rows = pq.ParquetFile(path).metadata.num_rows
    parameters = {
        **contracts.date_parameters(dates),
        "min_rows": 1,
        "max_rows": 10 * rows,
        **contracts.reference_code_parameters(
            sources.source_reference_table("airlines"), sources.source_reference_table("airports")
        ),
    }
    contract = contracts.scheduled_flights(gate)
    chunked = rows > gate.stream_above_rows
    warm_up = pq.ParquetFile(path).read_row_group(0).slice(0, 100).to_pandas()
    validate_frame(contract, warm_up, parameters, "warm-up", None, 0.01)
    memory = PeakTreeMemory().__enter__()
    started = time.perf_counter()
    if chunked:
        validation = validate_parquet(
            contract,
            str(path),
            parameters,
            case,
            None,
            0.01,
            chunk_rows=gate.chunk_rows,
            workers=gate.workers,
            key_bucket_rows=gate.key_bucket_rows,
        )
    else:
        validation = validate_frame(contract, pd.read_parquet(path), parameters, case, None, 0.01)
    gate_seconds = time.perf_counter() - started
    memory.__exit__(None, None, None)
    return {
        "mode": f"chunked ({gate.workers} workers, {gate.chunk_rows} rows)"
        if chunked
        else "in memory",
        "status": validation.report.status,
        "gate_seconds": gate_seconds,
        "peak_memory_mb": memory.mb,  # PSS over the gate process and its workers, sampled
    }


def _child(*arguments: str) -> dict:
    child = subprocess.run(
        [sys.executable, "-m", "benchmarks.gate_throughput", *arguments],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))


def run(cases: list[str] | None = None) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for case in cases or list(CASES):
            path = Path(scratch) / f"{case}.parquet"
            made = make_batch(case, path)
            read = _child("read", str(path))
            gate = _child("gate", case, str(path), json.dumps(made["dates"]))
            results[case] = {
                "case": case,
                "rows": read["rows"],
                **gate,
                "read_parquet_seconds": round(read["read_parquet_seconds"], 3),
                "gate_seconds": round(gate["gate_seconds"], 3),
                "gate_over_read_ratio": round(
                    gate["gate_seconds"] / read["read_parquet_seconds"], 2
                ),
                "rows_per_second": round(read["rows"] / gate["gate_seconds"]),
            }
            print(json.dumps(results[case]), file=sys.stderr)
    return results


if __name__ == "__main__":
    if sys.argv[1] == "read":
        print(json.dumps(measure_read(Path(sys.argv[2]))))
    else:
        print(json.dumps(measure_gate(sys.argv[2], Path(sys.argv[3]), json.loads(sys.argv[4]))))
