"""End-to-end batch scoring (read → gate → features → predict → write) against raw
`predict_proba` on the same rows' features already in memory, measured in the same run.

Set-up, once: the production model (params.yaml's HistGradientBoosting) is fitted on 2013
before the holdout, logged and registered in a real MLflow tracking server (SQLite backend,
proxied artifacts, in a scratch folder) and aliased `champion`; reference tables are landed.
Cases: 1M and 10M scheduled flights made by resampling 2013, landed as one day's file (1M-row
row groups). Each measurement runs in a fresh subprocess; the end-to-end peak memory is the
PSS sum over that process and its workers (gate chunks, scoring shards), see `memory.py`.
CPU seconds (workers and threads included) say where a ratio below 1 goes on a small machine.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

from benchmarks.gate_throughput import scheduled_year
from benchmarks.memory import PeakTreeMemory
from tests.support.local_server import mlflow_server

if TYPE_CHECKING:
    from pipelines.config import Params

CASES = {"synthetic_1m": 1_000_000, "synthetic_10m": 10_000_000}
DAY = date(2013, 6, 14)  # the partition the synthetic batch is landed as
MODEL = "benchmark-flight-delay"


def _workspace_params(root: Path, tracking_uri: str) -> Path:
    from pipelines.config import REPO_ROOT

    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["mlflow"]["registered_model"] = MODEL
    raw["mlflow"]["tracking_uri"] = tracking_uri
    # `make bench` sources scripts/env.sh, whose MLFLOW_TRACKING_URI (the `make up` server)
    # would win over params; this process and its children use the scratch server instead.
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    raw["gate"]["build_data_docs"] = False
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def set_up(root: Path, tracking_uri: str) -> Path:
    """Land reference tables; fit, log, register and alias the champion."""
    import mlflow
    from features.build import attach_labels, build_features
    from pipelines import registry
    from pipelines.config import load_params
    from pipelines.training import tracking
    from pipelines.training.train import fit_model, temporal_split
    from pipelines.upstream import delivery, sources

    params_path = _workspace_params(root, tracking_uri)
    params = load_params(params_path)
    delivery.land_reference_tables(params.landing_root)
    year = scheduled_year()
    outcomes = sources.source_flights().copy()
    outcomes["flight_date"] = outcomes["flight_date"].map(date.isoformat)
    outcomes["flight_id"] = delivery.flight_id(outcomes)
    features = build_features(
        year,
        sources.source_reference_table("weather"),
        params.features,
    )
    labelled = attach_labels(features, outcomes, params.features).dropna(subset=["label"])
    split = temporal_split(labelled, params.train.holdout_start)
    model = fit_model(split.train, params.train, params.features)
    registry.client(params.mlflow)
    mlflow.set_experiment("benchmarks")  # artifacts proxied by the server, as in production
    with mlflow.start_run(run_name="scoring-benchmark") as run:
        tracking.log_skops_model(model)
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", MODEL)
    registry.client(params.mlflow).set_registered_model_alias(MODEL, "champion", version.version)
    return params_path


def land_batch(params_path: Path, rows: int) -> dict:
    from pipelines.config import load_params
    from pipelines.data import landing

    params = load_params(params_path)
    year = scheduled_year()
    picked = np.random.default_rng(0).integers(0, len(year), size=rows)
    batch = year.iloc[picked].reset_index(drop=True)
    batch["flight_id"] = batch["flight_id"] + "_" + batch.index.astype(str)
    target = Path(landing.partition_uri(params.landing_root, "flights", DAY))
    target.parent.mkdir(parents=True, exist_ok=True)
    batch.to_parquet(target, index=False, row_group_size=1_000_000)
    return {"rows": rows, "dates": sorted(batch["flight_date"].unique())}


def synthetic_gate(dates: list[str], params: Params, day: date) -> str:
    """The scheduled-flights gate on the landed file, as `gate_landed_batch` runs it (validate,
    then publish the validated partition), with the synthetic batch's dates and size as
    parameters (its learned bounds would reject it)."""
    from pipelines.data import landing
    from pipelines.gate import contracts, quarantine
    from pipelines.gate.validation import validate_frame, validate_parquet
    from pipelines.storage import copy, parquet_row_count, read_parquet

    uri = landing.partition_uri(params.landing_root, "flights", day)
    rows = parquet_row_count(uri)
    parameters = {
        **contracts.date_parameters(dates),
        "min_rows": 1,
        "max_rows": 10 * rows,
        **quarantine.reference_codes(params),
    }
    contract = contracts.scheduled_flights(params.gate)
    budget = params.gate.row_quarantine_budget
    if rows > params.gate.stream_above_rows:
        validation = validate_parquet(
            contract,
            uri,
            parameters,
            "benchmark",
            None,
            budget,
            chunk_rows=params.gate.chunk_rows,
            workers=params.gate.workers,
            key_bucket_rows=params.gate.key_bucket_rows,
        )
    else:
        validation = validate_frame(
            contract, read_parquet(uri), parameters, "benchmark", None, budget
        )
    if not validation.report.passed:
        raise RuntimeError(validation.report.message())
    copy(uri, landing.validated_uri(params, "flights", day))  # published, as the gate does
    return validation.report.status


def _cpu_seconds() -> float:
    """CPU time so far of this process (all its threads) and of its children that ended."""
    import resource

    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_end_to_end(params_path: Path, dates: list[str]) -> dict:
    """In a child process: resolve the alias as `mlops score` does, then `score_day` (gate,
    plan with the day's schedule counts while the model loads, shards, publish), which times
    its own steps."""
    from pipelines.config import load_params
    from pipelines.registry import resolve_alias
    from pipelines.scoring.day import score_day

    params = load_params(params_path)
    steps: dict[str, float] = {}
    gate = functools.partial(synthetic_gate, dates)
    with PeakTreeMemory() as memory:
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        pinned = resolve_alias(params.mlflow)
        assert pinned is not None
        resolved = time.perf_counter()
        result = score_day(
            params, DAY, pinned, "benchmark", gate=gate, on_step=StepTimer(steps).done
        )
        finished, cpu_finished = time.perf_counter(), _cpu_seconds()
    steps["resolve_alias_seconds"] = round(resolved - started, 2)  # first MLflow call: imports
    return {
        "gate_status": result.gate_status,
        "rows_scored": result.rows,
        "shards": result.shards,
        "end_to_end_seconds": finished - started,
        "end_to_end_cpu_seconds": round(cpu_finished - cpu_started, 2),  # workers included
        **steps,
        "peak_memory_mb": memory.mb,  # PSS over the process and its workers, sampled
        "peak_memory_after_seconds": round(memory.peak_after_seconds, 1),
    }


def measure_raw(params_path: Path) -> dict:
    """In a child process: `predict_proba` alone on the batch's features, built beforehand."""
    from features.build import build_features, model_inputs
    from pipelines.config import load_params
    from pipelines.data import landing
    from pipelines.registry import load_model, resolve_alias

    params = load_params(params_path)
    pinned = resolve_alias(params.mlflow)
    assert pinned is not None
    model = load_model(params.mlflow, pinned)
    flights = landing.read_partition(params.landing_root, "flights", DAY)
    inputs = model_inputs(
        build_features(
            flights,
            landing.read_reference(params.landing_root, "weather"),
            params.features,
        ),
        params.features,
    )
    del flights
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    model.predict_proba(inputs)
    return {
        "raw_predict_seconds": time.perf_counter() - started,
        "raw_predict_cpu_seconds": round(_cpu_seconds() - cpu_started, 2),  # its threads
    }


class StepTimer:
    """Wall seconds since the previous step, recorded under each step's name."""

    def __init__(self, seconds: dict[str, float]):
        import time

        self._clock = time.perf_counter
        self._mark = self._clock()
        self.seconds = seconds

    def done(self, step: str) -> None:
        now = self._clock()
        self.seconds[f"{step}_seconds"] = round(now - self._mark, 2)
        self._mark = now


def _child(*arguments: str) -> dict:
    child = subprocess.run(
        [sys.executable, "-m", "benchmarks.scoring_throughput", *arguments],
        capture_output=True,
        text=True,
    )
    if child.returncode != 0:
        raise RuntimeError(child.stderr[-3000:])
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))


def run(cases: dict[str, int] | None = None) -> dict:
    """Each case (name: rows) end to end and raw, in one scratch workspace and MLflow server."""
    results = {}
    with tempfile.TemporaryDirectory() as scratch, mlflow_server(Path(scratch) / "mlflow") as uri:
        params_path = set_up(Path(scratch), uri)
        for case, case_rows in (cases or CASES).items():
            landed = land_batch(params_path, case_rows)
            end_to_end = _child("end-to-end", str(params_path), json.dumps(landed["dates"]))
            raw = _child("raw", str(params_path))
            rows = landed["rows"]
            results[case] = {
                "case": case,
                "rows": rows,
                **end_to_end,
                **raw,
                "end_to_end_rows_per_second": round(rows / end_to_end["end_to_end_seconds"]),
                "raw_predict_rows_per_second": round(rows / raw["raw_predict_seconds"]),
                "throughput_ratio_to_raw": round(
                    raw["raw_predict_seconds"] / end_to_end["end_to_end_seconds"], 3
                ),
            }
            print(json.dumps(results[case]), file=sys.stderr)
            shutil.rmtree(Path(scratch) / "data" / "predictions", ignore_errors=True)
    if {"synthetic_1m", "synthetic_10m"} <= results.keys():
        small, large = results["synthetic_1m"], results["synthetic_10m"]
        results["memory_10m_over_1m"] = round(large["peak_memory_mb"] / small["peak_memory_mb"], 2)
        # The 9M rows between the cases: a run's fixed costs (gate set-up, model load,
        # publish) cancel out, what is left is what each further row costs against raw.
        results["marginal_throughput_ratio_to_raw"] = round(
            (large["raw_predict_seconds"] - small["raw_predict_seconds"])
            / (large["end_to_end_seconds"] - small["end_to_end_seconds"]),
            3,
        )
    return results


if __name__ == "__main__":
    command, params_file = sys.argv[1], Path(sys.argv[2])
    if command == "end-to-end":
        print(json.dumps(measure_end_to_end(params_file, json.loads(sys.argv[3]))))
    else:
        print(json.dumps(measure_raw(params_file)))
