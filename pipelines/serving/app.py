"""`mlops serve`: the champion online, for "will this scheduled flight be late?".

* `POST /v1/predictions` takes `{"flights": [...]}` (up to `serving.max_flights_per_request`)
  in the nightly batch's fields and builds features with the batch's feature code (weather as
  of the same cutoff, the day's schedule counts from the validated store when the day is
  there). It answers each flight's probability, decision and threshold, the model's name and
  version, and a request id. Requests that arrive together are scored together (`batching`):
  one feature build and one model call for all the flights waiting.
* Input is held to the gate's contract (a 422 naming the field); an unknown carrier or airport
  is answered by the model's handling of unknown values and named in `unknown_codes`.
* If the model cannot answer within `serving.request_timeout_seconds`, fails, or is not loaded,
  the carrier-and-hour base rate answers instead, marked `fallback: true` and counted.
* The weather, the one input read live, is gated per flight: no hour at the origin within
  `serving.max_weather_age_hours` before the cutoff is the fallback too (`fallback_reason:
  weather_stale`), in the served log and counted by the nightly monitoring.
* API keys (`X-API-Key`) with two roles: anonymous → 401, a caller on an admin route → 403;
  per key, `serving.rate_limit` → 429 with `Retry-After`; a body above `max_body_bytes` → 413.
  `/health` and `/ready` need no key. `/metrics` (Prometheus) needs one.
* The champion alias is checked every `serving.reload_seconds` and on `POST /admin/reload`; a
  reload that fails keeps the previous model serving and says so in `/health`.
* Canary: while the registry has a `challenger` (a model in its shadow period), a share
  `serving.canary_share` of requests (by request id) is answered by it, marked
  `served_by: challenger` with its version; if it fails, the champion answers. The alias is
  followed like the champion's, so a promotion or a retirement ends the canary by itself."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from features.build import build_features, day_schedule_counts, model_inputs
from features.schedule import ScheduleCounts
from pipelines.config import Params
from pipelines.registry import CHALLENGER
from pipelines.scoring.rows import check_probabilities
from pipelines.serving.batching import MicroBatcher
from pipelines.serving.champion import ChampionHolder, ReloadOutcome, ServedModel
from pipelines.serving.contract import (
    Prediction,
    PredictionRequest,
    PredictionResponse,
    ScheduledFlight,
    contract_errors,
    flights_frame,
    unknown_codes,
)
from pipelines.serving.fallback import BaseRates
from pipelines.serving.keys import ApiKeys, hash_key
from pipelines.serving.metrics import ServingMetrics
from pipelines.serving.served_log import ServedLog
from pipelines.training.calibration import bayes_threshold

#: The fallback's reason for a flight whose origin's weather is missing or stale at the cutoff.
WEATHER_STALE = "weather_stale"
#: The routes `/metrics` counts by name; anything else (a scanner's paths) is "other".
ROUTES = ("/v1/predictions", "/admin/reload", "/health", "/ready", "/metrics")


@dataclass(frozen=True)
class ServingInputs:
    """What the service reads besides the request: loaded once at start (`serving.state`)."""

    weather: pd.DataFrame
    known_carriers: frozenset[str]
    known_airports: frozenset[str]
    route_miles: dict[str, float]
    base_rates: BaseRates
    schedule_counts: Callable[[date], ScheduleCounts | None]  # the validated day's, or None


def weather_stale(features: pd.DataFrame, max_age_hours: float) -> np.ndarray:
    """Flights whose origin had no weather hour within `max_age_hours` before the cutoff: the
    serving-time gate on the one input read live (the batch's gate held the rest)."""
    observed = pd.to_datetime(features["wx_observed_at"], utc=True)
    age = (pd.to_datetime(features["cutoff_at"], utc=True) - observed) / pd.Timedelta(hours=1)
    return np.asarray(observed.isna() | (age > max_age_hours))


def champion_probabilities(
    frame: pd.DataFrame, inputs: ServingInputs, served: ServedModel, params: Params
) -> tuple[np.ndarray, pd.DataFrame]:
    """The batch's features and model on the request's flights, one date at a time (each
    date's schedule counts: the validated day's, or the request's own flights'); the
    probabilities (NaN where the weather is stale: the fallback answers those) and the model
    inputs, in the frame's row order."""
    probability = np.empty(len(frame))
    model_rows = []
    for day, rows in frame.groupby("flight_date", sort=False):
        counts = inputs.schedule_counts(date.fromisoformat(str(day)))
        features = build_features(
            rows.reset_index(drop=True),
            inputs.weather,
            params.features,
            counts if counts is not None else day_schedule_counts(rows),
        )
        seen = model_inputs(features, params.features)
        scores = served.model.predict_proba(seen)[:, 1]
        check_probabilities(features["flight_id"].to_numpy(), scores)
        scores[weather_stale(features, params.serving.max_weather_age_hours)] = np.nan
        probability[rows.index.to_numpy()] = scores
        model_rows.append(seen.set_axis(rows.index))
    return probability, pd.concat(model_rows).sort_index()


def _key_of(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key is None and request.headers.get("authorization", "").startswith("Bearer "):
        key = request.headers["authorization"].removeprefix("Bearer ").strip()
    return key


def in_canary(request_id: str, share: float) -> bool:
    """Whether a request goes to the challenger: its (random) id's first 32 bits, below
    `share` of their range, so the share holds over requests and a logged id says why."""
    return int(request_id[:8], 16) < share * 2**32


def create_app(
    params: Params,
    keys: ApiKeys,
    inputs: ServingInputs,
    holder: ChampionHolder,
    reload_in_background: bool = True,
    served_log: ServedLog | None = None,
    challenger: ChampionHolder | None = None,
) -> FastAPI:
    """The service; `holder` is loaded at start (a failure leaves it serving the fallback)."""
    from limits import parse
    from limits.storage import MemoryStorage
    from limits.strategies import MovingWindowRateLimiter

    settings = params.serving
    metrics = ServingMetrics()
    rate_limit = parse(settings.rate_limit)
    limiter = MovingWindowRateLimiter(MemoryStorage())

    def score(frame: pd.DataFrame, served: ServedModel) -> tuple[np.ndarray, pd.DataFrame]:
        return champion_probabilities(frame, inputs, served, params)

    batcher: MicroBatcher[ServedModel] = MicroBatcher(
        lambda: holder.current, score, settings.max_flights_per_request
    )
    canary: MicroBatcher[ServedModel] | None = (
        MicroBatcher(lambda: challenger.current, score, settings.max_flights_per_request)
        if challenger is not None
        else None
    )
    holders = [h for h in (holder, challenger) if h is not None]
    batchers = [b for b in (batcher, canary) if b is not None]

    async def reload_all() -> list[ReloadOutcome]:
        outcomes = []
        for each in holders:  # the champion first: the canary compares its version with it
            outcome = await run_in_threadpool(each.reload)
            if each is holder:
                metrics.observe_model(holder.current, outcome)
            outcomes.append(outcome)
        return outcomes

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await reload_all()
        for each in batchers:
            each.start()
        tasks = [asyncio.create_task(_flush_every(settings.served_log_flush_seconds))]
        if reload_in_background:
            tasks.append(asyncio.create_task(_reload_every(settings.reload_seconds)))
        yield
        for task in tasks:
            task.cancel()
        for each in batchers:
            await each.stop()
        if served_log is not None:
            await run_in_threadpool(served_log.flush)

    async def _flush_every(seconds: float) -> None:
        while served_log is not None:
            await asyncio.sleep(seconds)
            await run_in_threadpool(served_log.flush)

    async def _reload_every(seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            await reload_all()

    app = FastAPI(title="Flight delay: online scoring", version="1", lifespan=lifespan)

    @app.middleware("http")
    async def bounded_body(request: Request, call_next: Any) -> Response:
        """A body's size is judged on its declared length, before anything is read: a chunked
        body (no length) is 411, above `max_body_bytes` 413 (the server reads no more than the
        declared length; a request with neither header has no body)."""
        began = time.perf_counter()
        route = request.url.path if request.url.path in ROUTES else "other"
        declared = request.headers.get("content-length", "0")
        response: Response
        if "transfer-encoding" in request.headers or not declared.isdigit():
            response = JSONResponse({"detail": "Content-Length is required"}, status_code=411)
        elif int(declared) > settings.max_body_bytes:
            response = JSONResponse(
                {"detail": f"request body above {settings.max_body_bytes} bytes"}, status_code=413
            )
        else:
            response = await call_next(request)
        metrics.observe_request(route, response.status_code, time.perf_counter() - began)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        metrics.validation_failures.inc()
        return JSONResponse({"detail": _plain(error.errors())}, status_code=422)

    def role(needed: str) -> Callable[[Request], str]:
        def check(request: Request) -> str:
            key = _key_of(request)
            found = keys.role_of(key)
            if key is None or found is None:
                raise HTTPException(401, "an API key is required (X-API-Key)")
            if needed == "admin" and found != "admin":
                raise HTTPException(403, "this route needs the admin role")
            if not limiter.hit(rate_limit, hash_key(key)):
                reset = limiter.get_window_stats(rate_limit, hash_key(key)).reset_time
                retry = max(1, math.ceil(reset - time.time()))
                raise HTTPException(
                    429, f"rate limit {settings.rate_limit} per key", {"Retry-After": str(retry)}
                )
            return found

        return check

    @app.post("/v1/predictions", response_model=PredictionResponse)
    async def predictions(
        body: PredictionRequest, request: Request, _: str = Depends(role("caller"))
    ) -> PredictionResponse | JSONResponse:
        request_id = uuid.uuid4().hex
        if len(body.flights) > settings.max_flights_per_request:
            metrics.validation_failures.inc()
            return JSONResponse(
                {
                    "detail": [
                        {
                            "loc": ["body", "flights"],
                            "msg": f"at most {settings.max_flights_per_request} flights",
                        }
                    ]
                },
                status_code=422,
            )
        errors = contract_errors(body.flights, params.gate, inputs.route_miles)
        if errors:
            metrics.validation_failures.inc()
            return JSONResponse({"detail": errors}, status_code=422)
        served = holder.current
        probability, reason, seen = None, "no model loaded", None
        routes = [batcher]
        if (
            canary is not None
            and challenger is not None
            and challenger.current is not None
            and in_canary(request_id, settings.canary_share)
        ):
            routes.insert(0, canary)  # the champion answers if the challenger cannot
        deadline = time.monotonic() + settings.request_timeout_seconds
        for route in routes if served is not None else []:
            try:
                # Scored with the requests waiting beside it (`batching`); on timeout the
                # answer is not held back until the model finishes.
                scored = await asyncio.wait_for(
                    route.submit(flights_frame(body.flights)),
                    timeout=max(deadline - time.monotonic(), 0.001),
                )
                probability, served, seen = scored.probability, scored.model, scored.inputs
                break
            except TimeoutError:
                reason = "timeout"
                break
            except Exception as error:  # noqa: BLE001 - the fallback answers; the reason is counted
                reason = type(error).__name__
        if probability is None:
            metrics.fallbacks.labels(reason=reason).inc(len(body.flights))
        elif np.isnan(probability).any():
            metrics.fallbacks.labels(reason=WEATHER_STALE).inc(int(np.isnan(probability).sum()))
        answered = [
            _prediction(flight, i, probability, served, inputs, params, reason)
            for i, flight in enumerate(body.flights)
        ]
        for p in answered:
            metrics.answered.labels(served_by=p.served_by).inc()
        if served_log is not None:
            served_log.add(served_rows(request_id, body.flights, answered, seen))
        return PredictionResponse(request_id=request_id, predictions=answered)

    @app.post("/admin/reload")
    async def reload(_: str = Depends(role("admin"))) -> dict[str, Any]:
        outcomes = await reload_all()
        answer: dict[str, Any] = {
            "status": outcomes[0].status,
            "version": outcomes[0].version,
            "error": outcomes[0].error,
        }
        if len(outcomes) > 1:
            answer["challenger"] = {"status": outcomes[1].status, "version": outcomes[1].version}
        return answer

    @app.get("/health")
    async def health() -> dict[str, Any]:
        served, last = holder.current, holder.last_reload
        return {
            "status": "ok"
            if served is not None and last and last.status != "failed"
            else "degraded",
            "model": None
            if served is None
            else {
                "name": served.ref.name,
                "version": served.ref.version,
                "threshold": served.threshold,
            },
            "last_reload": None if last is None else {"status": last.status, "error": last.error},
            "last_checked": holder.last_checked,
            "challenger": None
            if challenger is None or challenger.current is None
            else {"version": challenger.current.ref.version, "canary_share": settings.canary_share},
            "fallback_flights": inputs.base_rates.flights,
        }

    @app.get("/ready")
    async def ready() -> JSONResponse:
        loaded = holder.current is not None
        return JSONResponse({"ready": loaded}, status_code=200 if loaded else 503)

    @app.get("/metrics")
    async def metrics_page(_: str = Depends(role("caller"))) -> Response:
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return app


def served_rows(
    request_id: str,
    flights: list[ScheduledFlight],
    answered: list[Prediction],
    seen: pd.DataFrame | None,
) -> pd.DataFrame:
    """A request's rows for the served log: each flight, who answered, with what inputs (none
    for the fallback, which reads no feature)."""
    rows = pd.DataFrame(
        {
            "request_id": request_id,
            "flight_id": [f.flight_id for f in flights],
            "flight_date": [f.flight_date.isoformat() for f in flights],
            "served_at": pd.Timestamp.now(tz="UTC"),
            "served_by": [p.served_by for p in answered],
            "model_version": [p.model_version for p in answered],
            "late_probability": [p.late_probability for p in answered],
            "fallback_reason": [p.fallback_reason for p in answered],
        }
    )
    return rows if seen is None else pd.concat([rows, seen.reset_index(drop=True)], axis=1)


def _prediction(
    flight: ScheduledFlight,
    index: int,
    probability: np.ndarray | None,
    served: ServedModel | None,
    inputs: ServingInputs,
    params: Params,
    reason: str,
) -> Prediction:
    unknown = unknown_codes(flight, inputs.known_carriers, inputs.known_airports)
    if probability is not None and np.isnan(probability[index]):
        reason = WEATHER_STALE
    elif probability is not None and served is not None:
        value, threshold = float(probability[index]), served.threshold
        return Prediction(
            flight_id=flight.flight_id,
            late_probability=value,
            predicted_late=value >= threshold,
            threshold=threshold,
            model_name=served.ref.name,
            model_version=served.ref.version,
            served_by="challenger" if served.ref.alias == CHALLENGER else "champion",
            fallback=False,
            unknown_codes=unknown,
        )
    value = inputs.base_rates.rate(flight.carrier, flight.sched_dep_time)
    threshold = bayes_threshold(params.train.calibration.missed_delay_cost)
    return Prediction(
        flight_id=flight.flight_id,
        late_probability=value,
        predicted_late=value >= threshold,
        threshold=threshold,
        model_name="carrier-hour base rate",
        model_version=f"{inputs.base_rates.flights} flights",
        served_by="fallback",
        fallback=True,
        unknown_codes=unknown,
        fallback_reason=reason,
    )


def _plain(errors: Any) -> list[dict[str, Any]]:
    """Validation errors as JSON (pydantic may put exceptions in `ctx`)."""
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in errors
    ]
