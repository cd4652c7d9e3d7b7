"""The load `benchmarks/serving_latency.py` puts on a scoring service (locust, headless).

One request is one flight, picked at random from the prepared payloads
(`SERVING_BENCH_PAYLOADS`, a JSON list of request bodies). `SERVING_BENCH_TARGET` says which
service: `mlops` (POST /v1/predictions with an API key: the service builds the features) or
`mlflow` (POST /invocations of `mlflow models serve`: the anchor, fed the model inputs ready)."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from locust import HttpUser, constant, task

PAYLOADS = json.loads(Path(os.environ["SERVING_BENCH_PAYLOADS"]).read_text())
TARGET = os.environ["SERVING_BENCH_TARGET"]
PATHS = {"mlops": "/v1/predictions", "mlflow": "/invocations"}
HEADERS = {"mlops": {"X-API-Key": os.environ.get("SERVING_BENCH_KEY", "")}, "mlflow": {}}


class Caller(HttpUser):
    """A caller that asks again as soon as it has its answer (no think time): the concurrency
    is the number of users."""

    wait_time = constant(0)

    @task
    def predict_one_flight(self) -> None:
        body = random.choice(PAYLOADS)  # noqa: S311 - a load pattern, not a secret
        with self.client.post(
            PATHS[TARGET], json=body, headers=HEADERS[TARGET], catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
