"""`python -m benchmarks`: run every benchmark and write JSON results to benchmarks/results/."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    cost_month,
    features_throughput,
    gate_throughput,
    monitoring_throughput,
    scoring_throughput,
    serving_latency,
    simulation,
    stack_scaling,
)

RESULTS = Path(__file__).parent / "results"
BENCHMARKS: dict[str, Callable[[], dict]] = {
    "features_throughput": features_throughput.run,
    "gate_throughput": gate_throughput.run,
    "scoring_throughput": scoring_throughput.run,
    "monitoring_throughput": monitoring_throughput.run,
    "simulation": simulation.run,  # the year replay, all three policies (~20 min)
    "serving_latency": serving_latency.run,  # mlops serve vs mlflow models serve, locust
    "stack_scaling": stack_scaling.run,  # a 1M-row night on two Celery workers vs one
    "cost_month": cost_month.run,  # June 2013 through the nightly path, `mlops cost` (~10 min)
}


def main(selected: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    for name, run in BENCHMARKS.items():
        if selected and name not in selected:
            continue
        result = run()
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
        print(json.dumps({name: result}, indent=2))


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM as an exit: the benchmarks' `finally` blocks stop the servers they started
    (each server runs in its own process group, so killing ours would leave them running)."""
    sys.exit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    main(sys.argv[1:])
