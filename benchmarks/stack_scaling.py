"""Nightly scoring of a 1M-row day on the production topology (`make stack`'s processes):
`batch_scoring` through the scheduler and the REST API with two Celery workers, then the same
night again with one (the second worker stopped), in the same run, on the same day and
champion. The figure is the ratio of the two runs' wall times; the predictions of both must
be the same rows.

Set-up, once: a stack on free ports in a scratch folder (`scripts/stack.sh up`), its workspace a
clone of this checkout; the champion fitted and registered as in `scoring_throughput` (in the
stack's MLflow, as the `pipeline` account); 1M scheduled flights resampled from 2013, landed on
S3 as one day and passed through the real gate (its row-count prior widened to admit a day of
that size). The day is cut into shards of `SHARD_ROWS` rows, each worker runs one task at a time.

On this 2-core machine two workers cannot score twice as fast: one shard's `predict_proba`
already runs on both cores (OpenMP threads), and the scheduler, api-server, S3 and MLflow
servers share the same two cores. The ratio says what a second worker buys here, and what
bounds it is printed beside it (CPU seconds of the shards against the wall time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import yaml

ROWS = 1_000_000
SHARD_ROWS = 125_000
DAY = date(2013, 6, 14)


def _start_stack(root: Path) -> dict[str, str]:
    """A stack on free ports with its workspace a clone of this checkout; its client env."""
    from pipelines.config import REPO_ROOT
    from tests.support.local_server import VENV_BIN, free_port, stack_client_env

    for folder in (root, *root.parents):  # PostgreSQL runs as `postgres`: it must reach it
        if folder in (Path("/"), Path("/tmp")):
            break
        os.chmod(folder, os.stat(folder).st_mode | 0o011)
    workspace = root / "workspace"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(workspace)], check=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW_"))},
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "STACK_STATE": str(root / "state"),
        "MLOPS_WORKSPACE": str(workspace),
        "STACK_CELERY_CONCURRENCY": "1",
        **{
            f"STACK_{name}_PORT": str(free_port())
            for name in ("POSTGRES", "REDIS", "S3", "MLFLOW", "AIRFLOW")
        },
    }
    script = str(REPO_ROOT / "scripts" / "stack.sh")
    started = subprocess.run([script, "up"], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        raise RuntimeError(f"stack.sh up failed\n{started.stdout}\n{started.stderr[-3000:]}")
    return {**env, **stack_client_env(root / "state" / "client.env")}


def _stop_stack(env: dict[str, str]) -> None:
    from pipelines.config import REPO_ROOT

    script = str(REPO_ROOT / "scripts" / "stack.sh")
    subprocess.run([script, "down"], env=env, capture_output=True, text=True, timeout=300)


def _prepare(env: dict[str, str]) -> None:
    """The champion, the landed 1M-row day and its gate verdict, in the stack's stores."""
    from benchmarks.gate_throughput import scheduled_year
    from benchmarks.scoring_throughput import set_up
    from pipelines.config import load_params
    from pipelines.data import landing
    from pipelines.gate.quarantine import gate_landed_batch
    from pipelines.storage import write_parquet

    workspace = Path(env["MLOPS_WORKSPACE"])
    for name, value in env.items():
        if name.startswith(("AWS_", "MLOPS_", "MLFLOW_")):
            os.environ[name] = value
    params_path = set_up(workspace, env["MLFLOW_TRACKING_URI"])  # the workspace's params.yaml
    raw = yaml.safe_load(params_path.read_text())
    raw["scoring"].update(shard_rows=SHARD_ROWS, wait_for_data_hours=0.01)
    raw["gate"]["row_count_prior"] = [1, 2 * ROWS]  # a day 1,000 times the usual one
    params_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    git = ["git", "-C", str(workspace), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "commit", "--quiet", "-am", "the benchmark's params"], check=True)
    params = load_params(params_path)
    year = scheduled_year()
    picked = np.random.default_rng(0).integers(0, len(year), size=ROWS)
    batch = year.iloc[picked].reset_index(drop=True)
    # One day of 1M flights: each id starts with its (new) date, as the gate requires.
    batch["flight_id"] = (
        DAY.isoformat() + batch["flight_id"].str.slice(10) + "_" + batch.index.astype(str)
    )
    batch["flight_date"] = DAY.isoformat()
    write_parquet(batch, landing.partition_uri(params.landing_root, "flights", DAY))
    gate_landed_batch(params, "scheduled_flights", DAY)


def _night(api, dag_id: str, night: date) -> dict:  # type: ignore[no-untyped-def]
    """One backfill of the run for `night`, to its end; that run (REST) and its shards."""
    backfill = api.backfill_night(dag_id, night)
    while not api.call("GET", f"/backfills/{backfill}").get("completed_at"):
        time.sleep(2)
    runs = api.call("GET", f"/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]
    (run,) = [
        r
        for r in runs
        if r["run_type"] == "backfill" and r["data_interval_end"].startswith(night.isoformat())
    ]
    if run["state"] != "success":
        raise RuntimeError(f"{dag_id} {night}: {run['state']}")
    found = api.call("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")
    return {"run": run, "tasks": found["task_instances"]}


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _measured(night: dict) -> dict:
    run, tasks = night["run"], night["tasks"]
    shards = [t for t in tasks if t["task_id"] == "score_shard"]
    return {
        "run_seconds": round(_seconds(run["end_date"]) - _seconds(run["start_date"]), 1),
        "shards": len(shards),
        "shard_seconds_summed": round(sum(float(t["duration"]) for t in shards), 1),
        "shards_wall_seconds": round(
            max(_seconds(t["end_date"]) for t in shards)
            - min(_seconds(t["start_date"]) for t in shards),
            1,
        ),
        "workers": sorted({str(t["hostname"]).rpartition("/")[2] for t in shards}),
    }


def _digest(env: dict[str, str]) -> list[str]:
    command = ["mlops", "predictions", "--start", str(DAY), "--end", str(DAY + timedelta(1))]
    done = subprocess.run(
        command, cwd=env["MLOPS_WORKSPACE"], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().split("\t")[:4]


def run() -> dict:
    from pipelines.config import REPO_ROOT
    from tests.integration.airflow_services import AirflowApi

    with tempfile.TemporaryDirectory() as scratch:
        began = time.monotonic()
        env = _start_stack(Path(scratch))
        try:
            started = round(time.monotonic() - began, 1)
            _prepare(env)
            passwords = json.loads(Path(env["STACK_AIRFLOW_PASSWORDS_FILE"]).read_text())
            api = AirflowApi(env, ("admin", passwords["admin"]))
            api.call("PATCH", "/dags/batch_scoring", {"is_paused": False})
            api.wait_for_dags(("batch_scoring",))
            two = _measured(_night(api, "batch_scoring", DAY))
            two_digest = _digest(env)
            script = str(REPO_ROOT / "scripts" / "stack.sh")
            subprocess.run([script, "stop", "airflow-worker-2"], env=env, check=True)
            one = _measured(_night(api, "batch_scoring", DAY))
            one_digest = _digest(env)
        finally:
            _stop_stack(env)
    result = {
        "rows": ROWS,
        "shard_rows": SHARD_ROWS,
        "stack_started_seconds": started,
        "two_workers": two,
        "one_worker": one,
        "same_rows": two_digest == one_digest,
        "speedup_two_over_one": round(one["run_seconds"] / two["run_seconds"], 2),
        "cores": os.cpu_count(),
    }
    print(json.dumps(result), file=sys.stderr)
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
