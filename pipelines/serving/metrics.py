"""What `/metrics` exposes (Prometheus text format): requests by route and status, latency,
fallbacks by reason, validation failures, and the served model's version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from pipelines.serving.champion import ReloadOutcome, ServedModel

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class ServingMetrics:
    """One registry per service instance (tests start several in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "serving_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "serving_request_seconds",
            "Request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "serving_fallback_flights",
            "Flights answered by the base-rate fallback",
            ["reason"],
            registry=self.registry,
        )
        self.answered = Counter(
            "serving_answered_flights",
            "Flights answered, by who answered (champion, challenger: the canary, fallback)",
            ["served_by"],
            registry=self.registry,
        )
        self.validation_failures = Counter(
            "serving_validation_failures", "Requests refused with 422", registry=self.registry
        )
        self.model_version = Gauge(
            "serving_model_version", "The served champion version", registry=self.registry
        )
        self.reload_failures = Counter(
            "serving_reload_failures",
            "Reloads that kept the previous model",
            registry=self.registry,
        )

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route=route, status=str(status)).inc()
        self.latency.labels(route=route).observe(seconds)

    def observe_model(self, served: ServedModel | None, outcome: ReloadOutcome) -> None:
        if outcome.status == "failed":
            self.reload_failures.inc()
        if served is not None and served.ref.version.isdigit():
            self.model_version.set(int(served.ref.version))

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
