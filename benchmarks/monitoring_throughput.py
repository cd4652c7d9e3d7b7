"""Nightly monitoring: one real day end to end, and the drift step at 1M and 10M current rows
against Evidently's `DataDriftPreset` on the raw frames, measured in the same run.

Set-up, once (as `scoring_throughput`): the production model fitted on 2013 before the
holdout, registered in a real MLflow server (SQLite, proxied artifacts) and aliased
`champion`, plus its monitoring reference, built and logged as training does.

* `real_day`: 2013-06-13 landed, gated and scored, then `monitor_day` (drift, estimate,
  labels of the day before, verdict, reports, page, MLflow), in a fresh process.
* `synthetic_1m` / `synthetic_10m`: 2013 resampled into one day's file, scored, then the
  drift step as the nightly job runs it (sample the day by flight id while streaming the
  predictions and the validated partition, features of the sample, Evidently report).
* `baseline` (at 1M): `DataDriftPreset()` on the whole 1M-row current features (built beforehand,
  not timed) against 1M rows of training features: what a naive nightly job would do.
* `unsampled_1m`: the same drift report on all 1M current rows: its drifted columns and
  verdict must match the sampled run's.
Peak memory is the PSS sum over the measuring process and its workers (`memory.py`).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from benchmarks import scoring_throughput
from benchmarks.memory import PeakTreeMemory
from tests.support.local_server import mlflow_server

REAL_DAY = date(2013, 6, 13)
CASES = {"synthetic_1m": 1_000_000, "synthetic_10m": 10_000_000}


def attach_reference(params_path: Path) -> None:
    """The champion's reference, built and logged exactly as `train_and_log` does."""
    import mlflow
    from benchmarks.gate_throughput import scheduled_year
    from features.build import attach_labels, build_features, model_inputs
    from pipelines.config import load_params
    from pipelines.monitoring.reference import build_reference, log_reference, scheduled_split
    from pipelines.registry import load_model, resolve_alias
    from pipelines.training import evaluate
    from pipelines.training.train import temporal_split
    from pipelines.upstream import delivery, sources

    params = load_params(params_path)
    champion = resolve_alias(params.mlflow)
    assert champion is not None
    model = load_model(params.mlflow, champion)
    outcomes = sources.source_flights().copy()
    outcomes["flight_date"] = outcomes["flight_date"].map(date.isoformat)
    outcomes["flight_id"] = delivery.flight_id(outcomes)
    features = build_features(
        scheduled_year(), sources.source_reference_table("weather"), params.features
    )
    labelled = attach_labels(features, outcomes, params.features)
    split = temporal_split(labelled, params.train.holdout_start)
    y = split.holdout["label"].astype(int).to_numpy()
    probability = model.predict_proba(model_inputs(split.holdout, params.features))[:, 1]
    holdout = {
        f"holdout_{k}": v for k, v in evaluate.classification_metrics(y, probability).items()
    }
    importance = evaluate.permutation_importances(
        model,
        model_inputs(split.holdout, params.features),
        y,
        params.train.importance_sample_rows,
        params.train.importance_repeats,
        params.train.seed,
    ).to_dict()
    reference = build_reference(
        *scheduled_split(labelled, params.train.holdout_start),
        model,
        importance,
        holdout,
        params,
    )
    log_reference(params.mlflow, champion.run_id, reference)
    mlflow.end_run()


def land_real_day(params_path: Path) -> None:
    from pipelines.config import load_params
    from pipelines.gate.quarantine import gate_landed_batch
    from pipelines.upstream import delivery

    params = load_params(params_path)
    for day in (REAL_DAY - timedelta(days=1), REAL_DAY, REAL_DAY + timedelta(days=1)):
        delivery.land_days(params.landing_root, [day])
    for day in (REAL_DAY - timedelta(days=1), REAL_DAY):
        gate_landed_batch(params, "scheduled_flights", day)
    gate_landed_batch(params, "outcomes", REAL_DAY - timedelta(days=1))
    gate_landed_batch(params, "outcomes", REAL_DAY)


def score(params_path: Path, day: date, dates: list[str] | None) -> dict:
    from pipelines.config import load_params
    from pipelines.registry import resolve_alias
    from pipelines.scoring.day import score_day

    params = load_params(params_path)
    pinned = resolve_alias(params.mlflow)
    assert pinned is not None
    gate = functools.partial(scoring_throughput.synthetic_gate, dates) if dates else None
    return {"rows": score_day(params, day, pinned, "benchmark", gate=gate).rows}


def measure_monitor_day(params_path: Path) -> dict:
    from pipelines.config import load_params
    from pipelines.monitoring.nightly import monitor_day

    params = load_params(params_path)
    with PeakTreeMemory() as memory:
        started = time.perf_counter()
        summary = monitor_day(params, REAL_DAY)
        seconds = time.perf_counter() - started
    return {
        "monitor_day_seconds": round(seconds, 2),
        "peak_memory_mb": memory.mb,
        "rows": summary["rows"],
        "verdict": summary["verdict"]["level"],
        "triggers": summary["verdict"]["triggers"],
        "drifted": summary["drift"]["drifted"],
        "labels_for_previous_day": summary["performance"]["labels_for_previous_day"],
    }


def _sampled_drift(params_path: Path) -> tuple[dict, object]:
    from pipelines.config import load_params
    from pipelines.monitoring import current, drift
    from pipelines.monitoring.nightly import _reference_for

    params = load_params(params_path)
    scored = current.scored_day(params, scoring_throughput.DAY)
    reference, _, _ = _reference_for(params, scored)
    features = current.scored_features(params, scored)
    run = drift.drift_report(reference.sample, features, reference.columns, reference.thresholds)
    return {"rows": scored.rows, "sampled_rows": len(features), "scores": run.scores}, reference


def _levels(scores: dict, reference, params_path: Path) -> dict:
    from pipelines.config import load_params
    from pipelines.monitoring import drift
    from pipelines.monitoring.verdict import Signals, drift_level

    params = load_params(params_path)
    drifted = drift.drifted(scores, reference.thresholds)
    signals = Signals(
        drifted=tuple(drifted),
        important=reference.important(params.monitoring.verdict.important_features),
        rows=10**9,
        min_rows=params.monitoring.min_rows,
        holdout_roc_auc=float("nan"),  # the level drift alone gives: sampled vs unsampled
        estimated_roc_auc=None,
        observed=None,
    )
    return {
        "drifted": sorted(drifted),
        "drift_verdict": drift_level(signals, params.monitoring.verdict),
    }


def measure_drift(params_path: Path) -> dict:
    import evidently.presets  # noqa: F401  imported before the clock, as the baseline's is

    import pipelines.monitoring.nightly  # noqa: F401

    with PeakTreeMemory() as memory:
        started = time.perf_counter()
        result, reference = _sampled_drift(params_path)
        seconds = time.perf_counter() - started
    return {
        "drift_seconds": round(seconds, 2),
        "drift_peak_memory_mb": memory.mb,
        "current_rows": result["rows"],
        "sampled_rows": result["sampled_rows"],
        **_levels(result["scores"], reference, params_path),
    }


def _day_features(params_path: Path):  # type: ignore[no-untyped-def]
    """All the synthetic day's rows with their features and scores (untimed set-up)."""
    import pandas as pd

    from features.build import build_features
    from pipelines.config import load_params
    from pipelines.data import landing
    from pipelines.scoring.publish import read_published

    params = load_params(params_path)
    flights = pd.read_parquet(
        landing.partition_uri(params.landing_root, "flights", scoring_throughput.DAY)
    )
    features = build_features(
        flights, landing.read_reference(params.landing_root, "weather"), params.features
    )
    del flights
    scores = read_published(
        params, scoring_throughput.DAY, columns=["flight_id", "late_probability"]
    )
    return params, features.merge(scores, on="flight_id", validate="one_to_one")


def measure_unsampled(params_path: Path) -> dict:
    from pipelines.monitoring import drift
    from pipelines.monitoring.current import scored_day
    from pipelines.monitoring.nightly import _reference_for

    params, current_features = _day_features(params_path)
    reference, _, _ = _reference_for(params, scored_day(params, scoring_throughput.DAY))
    started = time.perf_counter()
    run = drift.drift_report(
        reference.sample,
        current_features,
        reference.columns,
        reference.thresholds,
    )
    return {
        "unsampled_drift_seconds": round(time.perf_counter() - started, 2),
        **_levels(run.scores, reference, params_path),
    }


def measure_baseline(params_path: Path) -> dict:
    """`DataDriftPreset()` on the raw current and a raw 1M-row training reference."""
    import numpy as np
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from benchmarks.gate_throughput import scheduled_year
    from features.build import CATEGORICAL_FEATURES, build_features, numeric_features
    from pipelines.upstream import sources

    params, current_features = _day_features(params_path)
    year = scheduled_year()
    training = year[year["flight_date"] < params.train.holdout_start.isoformat()]
    picked = np.random.default_rng(1).integers(0, len(training), size=len(current_features))
    reference = build_features(
        training.iloc[picked].reset_index(drop=True),
        sources.source_reference_table("weather"),
        params.features,
    )
    reference["late_probability"] = (
        current_features["late_probability"].sample(frac=1.0, random_state=1).to_numpy()
    )
    columns = [*CATEGORICAL_FEATURES, *numeric_features(params.features), "late_probability"]
    definition = DataDefinition(
        numerical_columns=[*numeric_features(params.features), "late_probability"],
        categorical_columns=list(CATEGORICAL_FEATURES),
    )
    current_frame, reference_frame = current_features.loc[:, columns], reference.loc[:, columns]
    del year, training, current_features, reference
    with PeakTreeMemory() as memory:
        started = time.perf_counter()
        Report([DataDriftPreset()]).run(
            Dataset.from_pandas(current_frame, data_definition=definition),
            Dataset.from_pandas(reference_frame, data_definition=definition),
        )
        seconds = time.perf_counter() - started
    return {
        "baseline_seconds": round(seconds, 2),
        "baseline_peak_memory_mb": memory.mb,
        "rows": len(current_frame),
    }


COMMANDS = {
    "monitor-day": measure_monitor_day,
    "drift": measure_drift,
    "unsampled": measure_unsampled,
    "baseline": measure_baseline,
}


def _child(command: str, params_path: Path, *extra: str) -> dict:
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.monitoring_throughput",
            command,
            str(params_path),
            *extra,
        ],
        capture_output=True,
        text=True,
    )
    if child.returncode != 0:
        raise RuntimeError(child.stderr[-3000:])
    return dict(json.loads(child.stdout.strip().splitlines()[-1]))


def run(cases: dict[str, int] | None = None, compare_case: str = "synthetic_1m") -> dict:
    """The real day, then each case (name: rows); `compare_case` also runs unsampled and
    against `DataDriftPreset` on the raw frames."""
    results: dict = {}
    with tempfile.TemporaryDirectory() as scratch, mlflow_server(Path(scratch) / "mlflow") as uri:
        root = Path(scratch)
        params_path = scoring_throughput.set_up(root, uri)
        attach_reference(params_path)
        land_real_day(params_path)
        for day in (REAL_DAY - timedelta(days=1), REAL_DAY):  # the day before brings its labels
            _child("score", params_path, day.isoformat())
        results["real_day"] = {"day": REAL_DAY.isoformat(), **_child("monitor-day", params_path)}
        print(json.dumps(results["real_day"]), file=sys.stderr)
        for case, rows in (cases or CASES).items():
            landed = scoring_throughput.land_batch(params_path, rows)
            _child(
                "score",
                params_path,
                scoring_throughput.DAY.isoformat(),
                json.dumps(landed["dates"]),
            )
            results[case] = {"case": case, "rows": rows, **_child("drift", params_path)}
            if case == compare_case:
                unsampled = _child("unsampled", params_path)
                results[case].update(
                    unsampled_drift_seconds=unsampled["unsampled_drift_seconds"],
                    unsampled_drifted=unsampled["drifted"],
                    unsampled_drift_verdict=unsampled["drift_verdict"],
                    verdict_agrees_with_unsampled=(
                        unsampled["drift_verdict"] == results[case]["drift_verdict"]
                        and unsampled["drifted"] == results[case]["drifted"]
                    ),
                )
                results["baseline"] = _child("baseline", params_path)
            print(json.dumps(results[case]), file=sys.stderr)
    small = results.get(compare_case)
    if small and "baseline" in results:
        results["speedup_vs_data_drift_preset"] = round(
            results["baseline"]["baseline_seconds"] / small["drift_seconds"], 1
        )
    if small and "synthetic_10m" in results:
        results["memory_10m_over_1m"] = round(
            results["synthetic_10m"]["drift_peak_memory_mb"] / small["drift_peak_memory_mb"], 2
        )
    return results


if __name__ == "__main__":
    command, params_file = sys.argv[1], Path(sys.argv[2])
    if command == "score":
        extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
        print(json.dumps(score(params_file, date.fromisoformat(sys.argv[3]), extra)))
    else:
        print(json.dumps(COMMANDS[command](params_file)))
