"""Online scoring under load: `mlops serve` against MLflow's own `mlflow models serve` on the
same model and machine (the anchor), at 1, 8 and 32 concurrent callers (locust, headless).

Set-up, once: a real MLflow tracking server (SQLite, proxied artifacts, in a scratch folder);
the production model (params.yaml's HistGradientBoosting) fitted on January–May 2013, logged as
training logs it (`tracking.log_skops_model`), registered and aliased `champion`; the days up
to DAY landed and DAY's schedule gated (the service reads weather from the validated store).
The request is one flight of DAY: to `mlops serve` in the scheduled batch's fields (it builds
the features with the batch's feature code and decides at the version's threshold), to the
anchor as the model inputs already built (it only runs `predict_proba`: it does less work per
request, which is why it is the anchor). Each run lasts `SECONDS`; locust and the service share
the machine's two cores, as a caller on the same host would. The target (issue #26): p99 under
50 ms for single-flight requests at 8 callers, and at least the anchor's throughput."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tests.support.local_server import VENV_BIN, free_port, mlflow_server, wait_for_http

MODEL = "benchmark-serving"
DAY = date(2013, 6, 14)
CALLERS = (1, 8, 32)
SECONDS = int(os.environ.get("SERVING_BENCH_SECONDS", "30"))
PAYLOADS = 500  # distinct flights the callers pick from
LOCUSTFILE = Path(__file__).with_name("serving_locustfile.py")


def _params_file(root: Path, tracking_uri: str, port: int) -> Path:
    from pipelines.config import REPO_ROOT

    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["mlflow"].update(tracking_uri=tracking_uri, registered_model=MODEL)
    # the benchmark's one key would be throttled by the default rate limit
    raw["serving"].update(port=port, rate_limit="1000000/minute")
    raw["gate"]["build_data_docs"] = False
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def set_up(root: Path, tracking_uri: str, port: int) -> tuple[Path, pd.DataFrame]:
    """The champion in the registry, DAY gated; returns the params file and DAY's flights."""
    import mlflow
    from features.build import attach_labels, build_features
    from pipelines import registry
    from pipelines.config import load_params
    from pipelines.data import landing
    from pipelines.data.landing import SCHEDULED_COLUMNS
    from pipelines.gate.quarantine import gate_landed_batch
    from pipelines.training import tracking
    from pipelines.training.train import fit_model
    from pipelines.upstream import delivery, sources

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri  # scripts/env.sh's would win over params
    params_path = _params_file(root, tracking_uri, port)
    params = load_params(params_path)
    delivery.land_days(params.landing_root, list(pd.date_range("2013-05-10", DAY).date))
    gate_landed_batch(params, "scheduled_flights", DAY)
    year = sources.source_flights().copy()
    year["flight_id"] = delivery.flight_id(year)
    year["flight_date"] = year["flight_date"].map(date.isoformat)
    outcomes = year.loc[year["flight_date"].between("2013-01-01", "2013-05-31")]
    weather = landing.read_reference(params.landing_root, "weather")
    features = build_features(outcomes.loc[:, list(SCHEDULED_COLUMNS)], weather, params.features)
    labelled = attach_labels(features, outcomes, params.features).dropna(subset=["label"])
    model = fit_model(labelled, params.train, params.features)
    registry.client(params.mlflow)
    mlflow.set_experiment("benchmarks")
    with mlflow.start_run(run_name="serving-benchmark") as run:
        tracking.log_skops_model(model)
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", MODEL)
    registry.client(params.mlflow).set_registered_model_alias(MODEL, "champion", version.version)
    return params_path, pd.read_parquet(landing.partition_uri(params.landing_root, "flights", DAY))


def payloads(params_path: Path, flights: pd.DataFrame, root: Path) -> dict[str, Path]:
    """One request body per flight for each service, written where the locustfile reads them."""
    from features.build import build_features, model_inputs
    from pipelines.config import load_params
    from pipelines.data import landing

    params = load_params(params_path)
    picked = flights.sample(n=min(PAYLOADS, len(flights)), random_state=0)
    online = [{"flights": [_jsonable(row)]} for row in picked.to_dict("records")]
    weather = landing.read_reference(params.landing_root, "weather")
    inputs = model_inputs(build_features(picked, weather, params.features), params.features)
    anchor = [
        {"dataframe_split": json.loads(inputs.iloc[[i]].to_json(orient="split", index=False))}
        for i in range(len(inputs))
    ]
    paths = {"mlops": root / "mlops_payloads.json", "mlflow": root / "mlflow_payloads.json"}
    paths["mlops"].write_text(json.dumps(online, default=str))  # dates as ISO
    paths["mlflow"].write_text(json.dumps(anchor))
    return paths


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}


@contextmanager
def _service(command: list[str], env: dict[str, str], health: str, log: Path) -> Iterator[None]:
    with log.open("w") as out:
        process = subprocess.Popen(  # noqa: S603 - our own commands
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for_http(health, timeout=180)
            yield
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def load_test(target: str, url: str, payload: Path, key: str, users: int, root: Path) -> dict:
    """locust headless against `url` with `users` callers for SECONDS; its aggregated stats."""
    prefix = root / f"{target}_{users}"
    env = {
        **os.environ,
        "SERVING_BENCH_TARGET": target,
        "SERVING_BENCH_PAYLOADS": str(payload),
        "SERVING_BENCH_KEY": key,
    }
    subprocess.run(  # noqa: S603 - our own command
        [
            f"{VENV_BIN}/locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{SECONDS}s",
            "--host",
            url,
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        check=False,  # locust exits 1 when a request failed: the failures are reported
        capture_output=True,
    )
    with open(f"{prefix}_stats.csv") as stats:
        total = next(r for r in csv.DictReader(stats) if r["Name"] == "Aggregated")
    return {
        "callers": users,
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "requests_per_second": round(float(total["Requests/s"]), 1),
        "p50_ms": float(total["50%"]),
        "p95_ms": float(total["95%"]),
        "p99_ms": float(total["99%"]),
    }


def run() -> dict:
    from pipelines.serving.keys import hash_key

    root = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    key = "benchmark-caller-key"
    results: dict[str, Any] = {"seconds_per_run": SECONDS, "day": DAY.isoformat()}
    try:
        with mlflow_server(root / "mlflow") as tracking_uri:
            port, anchor_port = free_port(), free_port()
            params_path, flights = set_up(root, tracking_uri, port)
            paths = payloads(params_path, flights, root)
            env = {
                **os.environ,
                "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
                "MLFLOW_TRACKING_URI": tracking_uri,
                "MLOPS_SERVING_API_KEYS": f"caller:{hash_key(key)}",
            }
            services = {
                "mlops": (
                    ["mlops", "serve", "--params", str(params_path), "--today", DAY.isoformat()],
                    f"http://127.0.0.1:{port}",
                    "/health",
                ),
                "mlflow": (
                    [
                        "mlflow",
                        "models",
                        "serve",
                        "-m",
                        f"models:/{MODEL}@champion",
                        "--env-manager",
                        "local",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(anchor_port),
                        "--workers",
                        "1",
                    ],
                    f"http://127.0.0.1:{anchor_port}",
                    "/ping",
                ),
            }
            for target, (command, url, health) in services.items():
                with _service(command, env, url + health, root / f"{target}.log"):
                    load_test(target, url, paths[target], key, 1, root)  # warm-up, not kept
                    results[target] = [
                        load_test(target, url, paths[target], key, users, root) for users in CALLERS
                    ]
        at8 = {t: next(r for r in results[t] if r["callers"] == 8) for t in services}
        results["target"] = {
            "p99_ms_at_8_callers": at8["mlops"]["p99_ms"],
            "p99_under_50_ms": at8["mlops"]["p99_ms"] < 50,
            "throughput_vs_anchor_at_8": round(
                at8["mlops"]["requests_per_second"] / at8["mlflow"]["requests_per_second"], 2
            ),
        }
        return results
    finally:
        shutil.rmtree(root, ignore_errors=True)
