"""A month of the guarded loop through Airflow under a real scheduler gives what the replay gives.

The replay (`pipelines/replay/`) and the DAGs call the same stage functions; this shows the
wiring does not change the answer. The replay of 1 Jan..`MONTH_END` (guarded policy only) runs
first. Then, in a deployed workspace, the first model is trained by a manual `training` run on
the replay's first window, and every night of the month runs through Airflow, in production's
order: `ingestion` (the GX gate), `batch_scoring`, `monitoring` (its guard may emit
`retraining_requested`), and the `training` run the Asset triggers (which decides and may
promote). The nights are backfills through the api-server's REST API, one at a time, while the
scheduler, dag-processor and triggerer run.

Compared: every prediction (probability and serving version), every night's verdict and
triggers, and the nights a retraining was requested, with its promotion. About an hour on two
cores: `make replay-airflow` runs it (marker `month`, outside `make test`) and writes the
comparison to `reports/simulation/airflow_month.json`. Inside `make test`, the scheduler test
of `test_monitoring.py` runs two nights of the same path and `tests/data/test_replay.py` five
weeks of the replay."""

from __future__ import annotations

import json
import os
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import replayed_workspace, run

#: `MLOPS_MONTH_END` shortens the month (a quick look at the wiring; the comparison still runs).
MONTH_END = date.fromisoformat(os.environ.get("MLOPS_MONTH_END", "2013-03-31"))
FIRST_MODEL_DAYS = 60  # the first model serves from 2 March (params.yaml `simulation`)
MODEL = "flight-delay-month"


def _own_model(checkout: Path) -> None:
    params = yaml.safe_load((checkout / "params.yaml").read_text())
    params["mlflow"].update(registered_model=MODEL, experiment="flight-delay-month")
    params["scoring"]["wait_for_data_hours"] = 0.01  # the clock's own run of today fails fast
    # The speed check times two models on a shared machine: the two paths would time it apart.
    params["promotion"]["max_latency_ratio"] = 10.0
    (checkout / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _say(line: str) -> None:
    print(f"[month {time.strftime('%H:%M:%S')}] {line}", flush=True)


def _requests(airflow_home: Path) -> list[str]:
    from tests.integration.airflow_services import query

    rows = query(
        airflow_home,
        "select e.extra from asset_event e join asset a on a.id = e.asset_id "
        "where a.name = 'retraining_requested' order by e.id",
    )
    return [json.loads(extra)["day"] for (extra,) in rows]


def _trained(airflow_home: Path, runs: int, timeout: float) -> None:
    """Until `runs` training runs exist, none active, every one a success."""
    from tests.integration.airflow_services import log_tail, wait_for_training

    found = wait_for_training(airflow_home, timeout, runs)
    assert all(state == "success" for _, state in found), log_tail(airflow_home, "training")


@pytest.mark.month
def test_a_month_through_airflow_gives_the_replays_predictions_verdicts_and_retrainings(
    tmp_path_factory, mlflow_server: str, airflow_db: Path
):
    from pipelines.data.landing import days
    from pipelines.gate.quarantine import gate_landed_batch
    from pipelines.replay.compare import compare_loops, replay_outcome, workspace_outcome
    from tests.integration.airflow_services import (
        AirflowApi,
        airflow_services,
        log_tail,
        wait_for_backfill,
    )

    began = time.monotonic()
    root = tmp_path_factory.mktemp("month")
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_server
    ws, params, replayed = replayed_workspace(
        root, mlflow_server, _own_model, MONTH_END, FIRST_MODEL_DAYS, progress=_say
    )
    plan = replayed.plan
    first = replayed.first_model
    _say(f"replayed in {replayed.seconds:.0f} s; first model: {first.decision}")
    # The nights before the month: what `ingestion` did every night before the first model.
    for day in days(plan.start, plan.first_day - timedelta(days=1)):
        gate_landed_batch(params, "scheduled_flights", day)
        if day > plan.start:
            gate_landed_batch(params, "outcomes", day - timedelta(days=1))
    nights = list(days(plan.first_day, MONTH_END))
    with airflow_services(ws, mlflow_server, airflow_db) as (env, scheduler):
        run(["airflow", "dags", "reserialize"], cwd=ws.path, env=env, timeout=300)
        for dag_id in ("ingestion", "batch_scoring", "monitoring", "training"):
            run(["airflow", "dags", "unpause", dag_id], cwd=ws.path, env=env, timeout=120)
        scheduler.start()
        api = AirflowApi(env)
        api.wait_for_dags(("ingestion", "batch_scoring", "monitoring", "training"))

        def night_of(dag_id: str, night: date) -> None:
            backfill = api.backfill_night(dag_id, night)
            runs = wait_for_backfill(airflow_db, backfill, timeout=900)
            states = [state for _, state, _ in runs]
            assert states == ["success"], f"{dag_id} {night}: {runs}\n" + log_tail(
                airflow_db, dag_id
            )

        for night in nights:
            night_of("ingestion", night)
            if night == plan.first_day:  # the first model learns up to the labels landed tonight
                holdout_days = (night - date.fromisoformat(first.train_end)).days - 1
                api.trigger(
                    "training",
                    {
                        "as_of": night.isoformat(),
                        "holdout_days": holdout_days,
                        "reason": "the replay's first model",
                    },
                )
                _trained(airflow_db, 1, timeout=1200)
                _say("first model trained, registered and promoted through `training`")
            night_of("batch_scoring", night)
            night_of("monitoring", night)
            requested = _requests(airflow_db)
            _trained(airflow_db, 1 + len(requested), timeout=1500)
            _say(f"night {night} done; retrainings requested so far: {requested}")
        scheduler.stop()
    airflow = workspace_outcome(params, nights)
    comparison = compare_loops(replay_outcome(replayed, "guarded"), airflow)
    report = {
        **comparison.as_dict(),
        "month": [nights[0].isoformat(), nights[-1].isoformat()],
        "first_model": [first.train_start, first.train_end, first.holdout_end],
        "minutes": round((time.monotonic() - began) / 60, 1),
    }
    out = os.environ.get("MLOPS_MONTH_REPORT")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(report, indent=2, default=str) + "\n")
    _say(json.dumps(report, default=str)[:3000])
    assert comparison.days == len(nights)
    if MONTH_END >= date(2013, 3, 16):  # the replay's guard requests one on the 16th
        assert comparison.airflow_retrainings, "the guard should have requested a retraining"
    assert comparison.agrees, json.dumps(report, indent=2, default=str)[:8000]
