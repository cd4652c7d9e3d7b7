"""The year replay's cost: all of 2013, all three policies (`make simulate` writes the same
file with the report). Recorded: wall time, per-day cost, the landing-and-gate share, and the
CPU-seconds each policy's retrainings took."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pipelines.config import load_params
from pipelines.replay.deliveries import ReplayPlan
from pipelines.replay.loop import run_replay
from pipelines.replay.report import summarise


def run() -> dict[str, Any]:
    params = load_params()
    settings = params.simulation
    plan = ReplayPlan(settings.start, settings.end, settings.first_model_days)
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as scratch:
        result = run_replay(params, plan, Path(scratch))
    summary, *_ = summarise(
        result, settings.report_from.isoformat(), settings.bootstrap_samples, settings.seed
    )
    return summary
