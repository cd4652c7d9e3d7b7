"""The HTTP layer of `mlops serve` on small data built here: a model that answers what the
test tells it, the batch's feature code on three flights, FastAPI's in-process client."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pipelines.registry import ModelVersionRef
from pipelines.serving.app import ServingInputs, create_app
from pipelines.serving.champion import ReloadOutcome, ServedModel
from pipelines.serving.fallback import BaseRates, base_rates
from pipelines.serving.keys import ApiKeys, hash_key
from tests.factories import outcomes, repository_params, scheduled_flights, weather

CALLER, ADMIN = "caller-key-" + "c" * 20, "admin-key-" + "a" * 20
KEYS = ApiKeys.parse(f"caller:{hash_key(CALLER)},admin:{hash_key(ADMIN)}")
REF = ModelVersionRef("flight-delay", "champion", "3", "run-3", "md5-3", 0.4)


class ConstantModel:
    """A 'model' answering `probability` for every flight (after `seconds`)."""

    def __init__(self, probability: float, seconds: float = 0.0):
        self.probability, self.seconds = probability, seconds
        self.columns: list[str] = []

    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        time.sleep(self.seconds)
        self.columns = list(inputs.columns)
        p = np.full(len(inputs), self.probability)
        return np.column_stack([1 - p, p])


class FixedHolder:
    """Stands in for `ChampionHolder`: the version it is given (or a failing reload)."""

    def __init__(self, served: ServedModel | None, fail_with: str | None = None):
        self.current, self.fail_with = served, fail_with
        self.last_reload: ReloadOutcome | None = None
        self.last_checked: float | None = None

    def reload(self) -> ReloadOutcome:
        self.last_checked = time.time()
        if self.fail_with:
            version = self.current.ref.version if self.current else None
            self.last_reload = ReloadOutcome("failed", version, self.fail_with)
        else:
            self.last_reload = ReloadOutcome("unchanged", self.current and self.current.ref.version)
        return self.last_reload


def _inputs() -> ServingInputs:
    flights = scheduled_flights(3)
    return ServingInputs(
        weather=weather(),
        known_carriers=frozenset({"UA", "AA", "B6"}),
        known_airports=frozenset({"IAH", "MIA", "BOS", "ORD"}),
        route_miles={"EWR-IAH": 1400.0, "JFK-MIA": 1089.0, "LGA-BOS": 184.0},
        base_rates=base_rates(flights, outcomes(flights, [30.0, 0.0, 5.0]), _params().features, 1),
        schedule_counts=lambda day: None,
    )


def _params(**serving: Any):  # type: ignore[no-untyped-def]
    import dataclasses

    params = repository_params()
    return dataclasses.replace(params, serving=dataclasses.replace(params.serving, **serving))


def _client(
    model: Any = None, fail_with: str | None = None, served_log: Any = None, **serving: Any
) -> TestClient:
    served = ServedModel(REF, model, 0.4) if model is not None else None
    app = create_app(
        _params(**serving),
        KEYS,
        _inputs(),
        FixedHolder(served, fail_with),  # type: ignore[arg-type]
        False,
        served_log,
    )
    return TestClient(app)


def _body(rows: int = 3, **change: Any) -> dict:
    flights = scheduled_flights(rows).to_dict("records")
    for flight in flights:
        flight.update(change)
    return {"flights": flights}


def test_the_champion_answers_each_flight_with_the_batch_features_and_its_threshold():
    model = ConstantModel(0.55)
    with _client(model) as client:
        answer = client.post("/v1/predictions", json=_body(), headers={"X-API-Key": CALLER})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["request_id"]) == 32
    first = body["predictions"][0]
    assert first["flight_id"] == "2013-01-10_UA100_EWR"
    assert (first["late_probability"], first["predicted_late"], first["threshold"]) == (
        0.55,
        True,
        0.4,
    )
    assert (first["model_version"], first["served_by"], first["fallback"]) == (
        "3",
        "champion",
        False,
    )
    from features.build import feature_columns

    assert model.columns == list(feature_columns(repository_params().features))


def test_anonymous_is_401_a_caller_on_an_admin_route_403_and_health_is_open():
    with _client(ConstantModel(0.2)) as client:
        assert client.post("/v1/predictions", json=_body()).status_code == 401
        wrong = client.post("/v1/predictions", json=_body(), headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401
        assert client.post("/admin/reload", headers={"X-API-Key": CALLER}).status_code == 403
        assert client.post("/admin/reload", headers={"X-API-Key": ADMIN}).status_code == 200
        assert client.get("/metrics").status_code == 401
        assert client.get("/health").status_code == 200 and client.get("/ready").status_code == 200


def test_a_bad_request_is_a_422_naming_the_field_and_unknown_codes_are_answered_and_named():
    with _client(ConstantModel(0.2)) as client:
        headers = {"X-API-Key": CALLER}
        late = client.post("/v1/predictions", json=_body(sched_dep_time=2500), headers=headers)
        assert late.status_code == 422 and late.json()["detail"][0]["loc"][-1] == "sched_dep_time"
        minutes = client.post("/v1/predictions", json=_body(sched_dep_time=1275), headers=headers)
        assert minutes.status_code == 422 and "sched_dep_time" in minutes.text
        same = _body(1)
        same["flights"][0]["dest"] = "EWR"
        looped = client.post("/v1/predictions", json=same, headers=headers)
        assert looped.status_code == 422 and "equals the origin" in looped.text
        km = _body(1)
        km["flights"][0]["distance"] = 2253
        assert "kilometres" in client.post("/v1/predictions", json=km, headers=headers).text
        extra = client.post("/v1/predictions", json=_body(1, tailnum="N1"), headers=headers)
        assert extra.status_code == 422 and extra.json()["detail"][0]["loc"][-1] == "tailnum"
        one = _body(1)["flights"][0]
        many = {"flights": [{**one, "flight_id": f"f{i}"} for i in range(101)]}
        too_many = client.post("/v1/predictions", json=many, headers=headers)
        assert too_many.status_code == 422 and "at most 100" in too_many.text
        unknown = _body(1)
        unknown["flights"][0].update(carrier="ZZ", dest="XYZ")
        answered = client.post("/v1/predictions", json=unknown, headers=headers)
        assert answered.status_code == 200
        assert answered.json()["predictions"][0]["unknown_codes"] == ["carrier", "dest"]
        metrics = client.get("/metrics", headers=headers).text
        assert "serving_validation_failures_total 6.0" in metrics


def test_a_slow_model_is_answered_by_the_base_rate_and_counted():
    with _client(ConstantModel(0.9, seconds=1.5), request_timeout_seconds=0.05) as client:
        began = time.perf_counter()
        answer = client.post("/v1/predictions", json=_body(), headers={"X-API-Key": CALLER})
        assert time.perf_counter() - began < 1.0, "the answer waited for the slow model"
        assert answer.status_code == 200
        first, second = answer.json()["predictions"][:2]
        assert first["fallback"] and first["served_by"] == "fallback"
        assert first["late_probability"] == 1.0 and second["late_probability"] == 0.0  # by carrier
        metrics = client.get("/metrics", headers={"X-API-Key": CALLER}).text
        assert 'serving_fallback_flights_total{reason="timeout"} 3.0' in metrics


def test_no_model_at_start_serves_the_fallback_and_is_not_ready():
    with _client(None, fail_with="RegistryUnavailable: down") as client:
        assert client.get("/ready").status_code == 503
        health = client.get("/health").json()
        assert health["status"] == "degraded" and "down" in health["last_reload"]["error"]
        answer = client.post("/v1/predictions", json=_body(1), headers={"X-API-Key": CALLER})
        assert answer.json()["predictions"][0]["fallback"] is True


def test_the_rate_limit_is_per_key_and_says_when_to_retry():
    with _client(ConstantModel(0.2), rate_limit="2/minute") as client:
        for _ in range(2):
            ok = client.post("/v1/predictions", json=_body(1), headers={"X-API-Key": CALLER})
            assert ok.status_code == 200
        limited = client.post("/v1/predictions", json=_body(1), headers={"X-API-Key": CALLER})
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
        other = client.post("/admin/reload", headers={"X-API-Key": ADMIN})
        assert other.status_code == 200


def test_a_body_above_the_limit_is_413_and_one_without_a_length_411():
    with _client(ConstantModel(0.2), max_body_bytes=200) as client:
        answer = client.post("/v1/predictions", json=_body(3), headers={"X-API-Key": CALLER})
        assert answer.status_code == 413

        def chunks():  # type: ignore[no-untyped-def]
            yield b'{"flights": '
            yield b"[]}"

        chunked = client.post("/v1/predictions", content=chunks(), headers={"X-API-Key": CALLER})
        assert chunked.status_code == 411
        assert (
            'serving_requests_total{route="/v1/predictions",status="413"} 1.0'
            in client.get("/metrics", headers={"X-API-Key": CALLER}).text
        )


def test_keys_are_configured_as_hashes_and_a_malformed_entry_is_refused():
    assert KEYS.role_of(CALLER) == "caller" and KEYS.role_of(ADMIN) == "admin"
    assert KEYS.role_of(None) is None and KEYS.role_of("caller") is None
    with pytest.raises(ValueError, match="not 'caller:<sha256>'"):
        ApiKeys.parse(f"root:{hash_key(CALLER)}")
    with pytest.raises(ValueError, match="serve-key"):
        ApiKeys.from_env({})


def test_base_rates_fall_back_from_the_carrier_hour_to_the_carrier_to_the_overall_rate():
    flights = scheduled_flights(4)  # UA 06h, AA 07h, B6 08h, UA 09h
    rates = base_rates(flights, outcomes(flights, [30.0, 0.0, None, 20.0]), _params().features, 1)
    assert rates.rate("UA", 600) == 1.0 and rates.rate("AA", 700) == 0.0
    assert rates.rate("UA", 1500) == 1.0  # no 15h cell: UA's rate
    assert rates.rate("ZZ", 600) == pytest.approx(2 / 3)  # unknown carrier: overall (B6 unlabelled)
    assert base_rates(flights.iloc[0:0], outcomes(flights, [1.0] * 4), _params().features, 1) == (
        BaseRates({}, {}, 0.0, 0)
    )


def test_the_fallback_counts_the_newest_labelled_days_before_the_service_day():
    from datetime import date, timedelta

    from pipelines.serving.fallback import fallback_days

    labelled = [date(2013, 12, 31) - timedelta(days=n) for n in range(40)]
    window = fallback_days(labelled, date(2026, 12, 4), 28)
    assert len(window) == 28 and window[-1] == date(2013, 12, 31)
    assert fallback_days(labelled, date(2013, 12, 10), 3) == [
        date(2013, 12, 7),
        date(2013, 12, 8),
        date(2013, 12, 9),
    ]


def test_every_served_flight_is_logged_with_its_inputs_version_and_request_id(tmp_path):
    from features.build import build_features, feature_columns, model_inputs
    from pipelines.serving.served_log import ServedLog, read_served

    log = ServedLog(str(tmp_path / "served"))
    with _client(ConstantModel(0.55), served_log=log) as client:
        answer = client.post("/v1/predictions", json=_body(), headers={"X-API-Key": CALLER})
    with _client(
        ConstantModel(0.5, seconds=1.0), served_log=log, request_timeout_seconds=0.05
    ) as slow:
        fallback = slow.post("/v1/predictions", json=_body(1), headers={"X-API-Key": CALLER})
    # both services wrote their buffer at shutdown
    served = read_served(str(tmp_path / "served"), "2013-01-10")
    assert served is not None and len(served) == 4
    champion = served.loc[served["served_by"] == "champion"].reset_index(drop=True)
    assert set(champion["request_id"]) == {answer.json()["request_id"]}
    assert list(champion["model_version"]) == ["3"] * 3
    flights = scheduled_flights(3)
    batch = model_inputs(build_features(flights, weather(), _params().features), _params().features)
    columns = list(feature_columns(_params().features))
    pd.testing.assert_frame_equal(
        champion[columns], batch.reset_index(drop=True), check_dtype=False, check_categorical=False
    )
    late = served.loc[served["served_by"] == "fallback"]
    assert list(late["request_id"]) == [fallback.json()["request_id"]]
    assert late[columns].isna().all(axis=None)  # the base rate read no feature


def test_the_canary_share_holds_over_request_ids():
    import uuid

    from pipelines.serving.app import in_canary

    ids = [uuid.uuid4().hex for _ in range(20000)]
    share = sum(in_canary(i, 0.1) for i in ids) / len(ids)
    assert abs(share - 0.1) < 0.015
    assert not any(in_canary(i, 0.0) for i in ids) and all(in_canary(i, 1.0) for i in ids)


class FailingModel:
    def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
        raise RuntimeError("broken challenger")


def _canary_client(challenger_model: Any, share: float) -> TestClient:
    challenger_ref = ModelVersionRef("flight-delay", "challenger", "4", "run-4", "md5-4", 0.5)
    app = create_app(
        _params(canary_share=share),
        KEYS,
        _inputs(),
        FixedHolder(ServedModel(REF, ConstantModel(0.55), 0.4)),  # type: ignore[arg-type]
        False,
        challenger=FixedHolder(ServedModel(challenger_ref, challenger_model, 0.5)),  # type: ignore[arg-type]
    )
    return TestClient(app)


def test_a_canary_request_is_answered_by_the_challenger_and_marked_so():
    with _canary_client(ConstantModel(0.45), share=1.0) as client:
        answer = client.post("/v1/predictions", json=_body(), headers={"X-API-Key": CALLER})
        health = client.get("/health").json()
        metrics = client.get("/metrics", headers={"X-API-Key": CALLER}).text
    first = answer.json()["predictions"][0]
    assert (first["served_by"], first["model_version"], first["threshold"]) == (
        "challenger",
        "4",
        0.5,
    )
    assert first["late_probability"] == 0.45 and not first["predicted_late"]
    assert health["challenger"] == {"version": "4", "canary_share": 1.0}
    assert 'serving_answered_flights_total{served_by="challenger"} 3.0' in metrics


def test_a_failing_challenger_leaves_the_answer_to_the_champion():
    with _canary_client(FailingModel(), share=1.0) as client:
        answer = client.post("/v1/predictions", json=_body(), headers={"X-API-Key": CALLER})
    first = answer.json()["predictions"][0]
    assert (first["served_by"], first["model_version"], first["fallback"]) == (
        "champion",
        "3",
        False,
    )


def test_a_flight_whose_origin_has_no_recent_weather_is_answered_by_the_fallback(tmp_path):
    from pipelines.serving.served_log import ServedLog, read_served

    inputs = _inputs()
    without_ewr = inputs.weather.loc[inputs.weather["origin"] != "EWR"]
    log = ServedLog(str(tmp_path / "served"))
    app = create_app(
        _params(),
        KEYS,
        dataclasses.replace(inputs, weather=without_ewr),
        FixedHolder(ServedModel(REF, ConstantModel(0.55), 0.4)),  # type: ignore[arg-type]
        False,
        log,
    )
    with TestClient(app) as client:
        answer = client.post("/v1/predictions", json=_body(), headers={"X-API-Key": CALLER})
        metrics = client.get("/metrics", headers={"X-API-Key": CALLER}).text
    ewr, *others = answer.json()["predictions"]
    assert ewr["flight_id"].endswith("_EWR")
    assert (ewr["served_by"], ewr["fallback"], ewr["fallback_reason"]) == (
        "fallback",
        True,
        "weather_stale",
    )
    assert [(p["served_by"], p["late_probability"]) for p in others] == [("champion", 0.55)] * 2
    assert 'serving_fallback_flights_total{reason="weather_stale"} 1.0' in metrics
    served = read_served(str(tmp_path / "served"), "2013-01-10")
    assert served is not None
    assert list(served["fallback_reason"].fillna("")) == ["weather_stale", "", ""]
