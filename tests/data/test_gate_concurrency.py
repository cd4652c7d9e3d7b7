"""Gates of several days at once share one GX project (a backfill runs days in parallel):
none may read another's half-written store files."""

from __future__ import annotations

import multiprocessing
from datetime import date, timedelta

from pipelines.config import Params
from tests.data.conftest import TARGET_DAY

DAYS = [TARGET_DAY - timedelta(days=offset) for offset in range(3)]


def _gate_repeatedly(params: Params, day: date, times: int) -> str:
    from pipelines.gate import validation as gate
    from pipelines.gate.quarantine import gate_landed_batch

    gate._RUNNERS.clear()  # a process of its own, as an Airflow task is: its own GX context
    statuses = {gate_landed_batch(params, "scheduled_flights", day).status for _ in range(times)}
    return ",".join(sorted(statuses))


def test_gates_of_several_days_at_once_all_pass(landed):
    context = multiprocessing.get_context("fork")
    with context.Pool(len(DAYS)) as pool:
        statuses = pool.starmap(_gate_repeatedly, [(landed, day, 4) for day in DAYS])
    assert statuses == ["passed"] * len(DAYS)
