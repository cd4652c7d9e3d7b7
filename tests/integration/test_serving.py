"""`mlops serve` started for real (uvicorn, its own process) on the session's MLflow server:
the champion answers what batch scoring published for the same flights, an alias moved in the
registry is picked up without a restart, and a version that cannot load leaves the previous one
serving and says so in `/health`."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import date

import httpx
import pandas as pd
import pytest
import yaml

from pipelines.config import REPO_ROOT
from pipelines.serving.keys import hash_key
from tests.support.local_server import VENV_BIN, free_port, wait_for_http

pytestmark = pytest.mark.integration

MODEL = "serving-flight-delay"
DAY = date(2013, 3, 5)
CALLER, ADMIN = "serving-caller-" + "c" * 24, "serving-admin-" + "a" * 24


def _fit_and_log(params, flights: pd.DataFrame, max_iter: int) -> str:  # type: ignore[no-untyped-def]
    """A small model of the training code, logged as training logs it; its run id."""
    import mlflow
    from features.build import attach_labels, build_features
    from pipelines import registry
    from pipelines.data import landing
    from pipelines.data.landing import SCHEDULED_COLUMNS
    from pipelines.training import tracking
    from pipelines.training.train import fit_model

    weather = landing.read_reference(params.landing_root, "weather")
    scheduled = flights.loc[:, list(SCHEDULED_COLUMNS)]  # what the evening before knows
    features = build_features(scheduled, weather, params.features)
    labelled = attach_labels(features, flights, params.features).dropna(subset=["label"])
    train = dataclasses.replace(
        params.train, hist_gradient_boosting={"max_iter": max_iter, "max_leaf_nodes": 3}
    )
    model = fit_model(labelled, train, params.features)
    registry.client(params.mlflow)
    mlflow.set_experiment("serving-tests")
    with mlflow.start_run(run_name=f"serving-{max_iter}") as run:
        tracking.log_skops_model(model)
    return str(run.info.run_id)


def _register(run_id: str, tags: dict[str, str] | None = None) -> str:
    import mlflow

    return str(mlflow.register_model(f"runs:/{run_id}/model", MODEL, tags=tags).version)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, mlflow_server: str) -> Iterator[dict]:
    import mlflow
    from mlflow import MlflowClient
    from pipelines.config import load_params
    from pipelines.gate.quarantine import gate_landed_batch
    from pipelines.registry import resolve_alias
    from pipelines.scoring.day import score_day
    from pipelines.upstream import delivery, sources

    # Set before the params are loaded: MLFLOW_TRACKING_URI overrides params.yaml, and a value
    # left by another module of this worker would point at a server that has stopped.
    saved_uri = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_server
    root = tmp_path_factory.mktemp("serving")
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["mlflow"].update(tracking_uri=mlflow_server, registered_model=MODEL)
    port = free_port()
    raw["serving"].update(
        port=port,
        reload_seconds=1,
        request_timeout_seconds=10,
        served_log_flush_seconds=1,
        canary_share=0.25,
        rate_limit="100000/minute",  # the canary test sends 2,000 requests
    )
    (root / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    params = load_params(root / "params.yaml")
    days = list(pd.date_range("2013-02-25", DAY).date)
    delivery.land_days(params.landing_root, days)
    gate_landed_batch(params, "scheduled_flights", DAY)

    year = sources.source_flights().copy()
    year["flight_id"] = delivery.flight_id(year)
    year["flight_date"] = year["flight_date"].map(date.isoformat)
    february = year.loc[year["flight_date"].between("2013-02-01", "2013-02-24")]
    first, second = _fit_and_log(params, february, 20), _fit_and_log(params, february, 5)
    client = MlflowClient(tracking_uri=mlflow_server)
    v1, v2 = _register(first), _register(second)
    client.set_registered_model_alias(MODEL, "champion", v1)
    score_day(params, DAY, resolve_alias(params.mlflow), "batch", gate=None)

    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": mlflow_server,
        "MLOPS_SERVING_API_KEYS": f"caller:{hash_key(CALLER)},admin:{hash_key(ADMIN)}",
    }
    log = open(root / "serve.log", "w")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen(
        ["mlops", "serve", "--params", str(root / "params.yaml"), "--today", DAY.isoformat()],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health", timeout=120)
        yield {
            "url": url,
            "params": params,
            "client": client,
            "versions": (v1, v2),
            "mlflow": mlflow,
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
        if saved_uri is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved_uri


def _predict(url: str, flights: list[dict], key: str = CALLER) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/predictions", json={"flights": flights}, headers={"X-API-Key": key}, timeout=30
    )


def _wait_for_version(url: str, version: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        health = httpx.get(f"{url}/health", timeout=10).json()
        if health["model"] and health["model"]["version"] == version:
            return health
        assert time.monotonic() < deadline, health
        time.sleep(0.5)


def test_online_scores_equal_the_batch_scores_of_the_same_flights(served):
    from pipelines.data import landing
    from pipelines.scoring.publish import read_published

    params = served["params"]
    flights = pd.read_parquet(landing.partition_uri(params.landing_root, "flights", DAY)).head(40)
    answer = _predict(served["url"], flights.to_dict("records"))
    assert answer.status_code == 200, answer.text
    online = pd.DataFrame(answer.json()["predictions"])
    batch = read_published(params, DAY).set_index("flight_id").loc[online["flight_id"]]
    assert set(online["model_version"]) == {served["versions"][0]}
    assert not online["fallback"].any()
    pd.testing.assert_series_equal(
        online["late_probability"].reset_index(drop=True),
        batch["late_probability"].reset_index(drop=True),
        check_names=False,
        rtol=1e-12,
    )
    assert (online["predicted_late"].to_numpy() == batch["predicted_late"].to_numpy()).all()
    health = httpx.get(f"{served['url']}/health", timeout=10).json()
    assert health["status"] == "ok" and health["fallback_flights"] > 5000  # 8 labelled days
    _served_inputs_match_the_nightly_features(params, answer.json()["request_id"])


def _served_inputs_match_the_nightly_features(params, request_id: str) -> None:  # type: ignore[no-untyped-def]
    """The served log has the 40 flights with their inputs (written within a second), and the
    nightly monitoring's skew check finds them equal to the batch's features of DAY."""
    from features.build import build_features
    from pipelines.data import landing
    from pipelines.monitoring.nightly import serving_skew_of_day
    from pipelines.scoring.shards import count_day_schedule
    from pipelines.serving.served_log import read_served

    root = params.workspace_path(params.serving.served_log_dir)
    deadline = time.monotonic() + 30
    while (logged := read_served(root, DAY.isoformat())) is None or request_id not in set(
        logged["request_id"]
    ):
        assert time.monotonic() < deadline, "the served log was not written"
        time.sleep(0.5)
    flights = pd.read_parquet(landing.validated_uri(params, "flights", DAY))
    weather = landing.read_reference(params.landing_root, "weather")
    features = build_features(flights, weather, params.features, count_day_schedule(params, DAY))
    report = serving_skew_of_day(params, DAY, features)
    assert report is not None and report.compared_rows >= 40
    assert report.skewed == () and all(c.differing == 0 for c in report.columns)


def test_an_alias_move_is_served_without_a_restart_and_a_broken_version_keeps_the_old(served):
    from pipelines.data import landing

    url, client, (v1, v2) = served["url"], served["client"], served["versions"]
    flights = pd.read_parquet(
        landing.partition_uri(served["params"].landing_root, "flights", DAY)
    ).head(3)
    client.set_registered_model_alias(MODEL, "champion", v2)
    _wait_for_version(url, v2)  # the periodic check (every second here)
    moved = _predict(url, flights.to_dict("records")).json()["predictions"]
    assert {p["model_version"] for p in moved} == {v2}

    from sklearn.dummy import DummyClassifier

    mlflow = served["mlflow"]
    with mlflow.start_run(run_name="pickled") as run:  # a pickle: refused at load (skops only)
        mlflow.sklearn.log_model(
            DummyClassifier().fit([[0], [1]], [0, 1]),
            name="model",
            serialization_format="cloudpickle",
        )
    broken = _register(run.info.run_id)
    client.set_registered_model_alias(MODEL, "champion", broken)
    reloaded = httpx.post(f"{url}/admin/reload", headers={"X-API-Key": ADMIN}, timeout=60)
    assert reloaded.status_code == 200 and reloaded.json()["status"] == "failed"
    health = httpx.get(f"{url}/health", timeout=10).json()
    assert health["status"] == "degraded" and health["model"]["version"] == v2
    assert health["last_reload"]["error"]
    answer = _predict(url, flights.to_dict("records"))
    assert {p["model_version"] for p in answer.json()["predictions"]} == {v2}
    assert httpx.post(f"{url}/admin/reload", headers={"X-API-Key": CALLER}).status_code == 403
    client.set_registered_model_alias(MODEL, "champion", v1)
    _wait_for_version(url, v1)


def _wait_for_challenger(url: str, version: str | None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        challenger = httpx.get(f"{url}/health", timeout=10).json()["challenger"]
        if (challenger or {}).get("version") == version:
            return
        time.sleep(0.5)
    raise AssertionError(f"the service did not pick up challenger {version}")


def test_the_canary_share_of_2000_requests_goes_to_the_challenger_and_ends_with_its_alias(served):
    """`serving.canary_share` 0.25 here: within 4 standard deviations over 2,000 requests
    (0.039); every canary answer carries the challenger's version, the rest the champion's."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.data import landing

    url, client, (v1, v2) = served["url"], served["client"], served["versions"]
    client.set_registered_model_alias(MODEL, "champion", v1)
    _wait_for_version(url, v1)
    flight = pd.read_parquet(
        landing.partition_uri(served["params"].landing_root, "flights", DAY)
    ).head(1)
    body = flight.to_dict("records")
    client.set_registered_model_alias(MODEL, "challenger", v2)
    try:
        _wait_for_challenger(url, v2)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: _predict(url, body), range(2000)))
        assert all(a.status_code == 200 for a in answers)
        answered = [a.json()["predictions"][0] for a in answers]
        by = pd.Series([(p["served_by"], p["model_version"]) for p in answered]).value_counts()
        assert set(by.index) == {("challenger", v2), ("champion", v1)}, by
        share = by[("challenger", v2)] / len(answered)
        assert abs(share - 0.25) < 0.039, share
    finally:
        client.delete_registered_model_alias(MODEL, "challenger")
    _wait_for_challenger(url, None)
    after = _predict(url, body).json()["predictions"][0]
    assert (after["served_by"], after["model_version"]) == ("champion", v1)
