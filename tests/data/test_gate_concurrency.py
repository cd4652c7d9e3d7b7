"""Gates of several days at once (a backfill runs days in parallel, on any worker): each
process validates with its own ephemeral GX context, so there is no project on disk to share,
no lock to take, and nothing half-written to read."""

from __future__ import annotations

import multiprocessing
from datetime import date, timedelta

from pipelines.config import Params
from tests.data.conftest import TARGET_DAY

DAYS = [TARGET_DAY - timedelta(days=offset) for offset in range(3)]


def _gate_repeatedly(params: Params, day: date, times: int) -> str:
    from pipelines.gate import runner as gate
    from pipelines.gate.quarantine import gate_landed_batch

    gate._RUNNERS.clear()  # a process of its own, as an Airflow task is: its own GX context
    statuses = {gate_landed_batch(params, "scheduled_flights", day).status for _ in range(times)}
    return ",".join(sorted(statuses))


def test_gates_of_several_days_at_once_all_pass(landed):
    context = multiprocessing.get_context("fork")
    with context.Pool(len(DAYS)) as pool:
        statuses = pool.starmap(_gate_repeatedly, [(landed, day, 4) for day in DAYS])
    assert statuses == ["passed"] * len(DAYS)
    workspace = landed.workspace
    assert not (workspace / "data" / "gx").exists(), "no GX project is written at run time"
    assert not list(workspace.rglob("*.lock")), "no host-local lock file"
    docs = workspace / "reports" / "data_docs"
    pages = list((docs / "validations").rglob("*.html"))
    assert len(pages) == len(DAYS), "each gate's Data Docs page is published"
    from pipelines.gate.runner import write_data_docs_index

    write_data_docs_index(str(docs))  # what the next gate does: gates at once may race on it
    index = (docs / "index.html").read_text()
    assert all(f"date={day}" in index for day in DAYS), "the index lists every worker's page"
