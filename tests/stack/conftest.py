"""The production topology (`scripts/stack.sh`, what `make stack` starts), once per test session:
PostgreSQL, Redis, the moto S3 server, MLflow behind basic-auth and Airflow on the
CeleryExecutor with two workers, on free ports and with its state in the session's temporary
folder (a developer's own `make stack` is never touched). Its workspace is a clone of this
repository, its shared locations the stack's buckets. Stopped (`stack.sh down`) at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.integration.airflow_services import AirflowApi
from tests.integration.conftest import run
from tests.support.local_server import VENV_BIN, free_port, stack_client_env

MODEL = "flight-delay-stack"


@dataclass(frozen=True)
class Stack:
    """A running stack: its state folder, workspace and the client environment it wrote."""

    state: Path
    workspace: Path
    env: dict[str, str]

    def secret(self, name: str) -> str:
        for line in (self.state / "secrets.env").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == name:
                return value
        raise KeyError(name)

    def airflow_password(self, user: str) -> str:
        import json

        path = Path(self.env["STACK_AIRFLOW_PASSWORDS_FILE"])
        return str(json.loads(path.read_text())[user])

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return run(list(args), cwd=self.workspace, env=self.env, timeout=timeout)

    def service(self, action: str, name: str) -> subprocess.CompletedProcess:
        """`stack.sh start|stop|restart NAME`: one service, as `make stack` runs it."""
        script = str(REPO_ROOT / "scripts" / "stack.sh")
        return self.run(script, action, name, timeout=600)

    def pids(self) -> dict[str, int]:
        """Every process group the stack started (pidfiles), by name."""
        return {
            path.stem: int(path.read_text()) for path in sorted((self.state / "pids").glob("*.pid"))
        }


def _workspace(root: Path) -> Path:
    """A deployed checkout: its own registered model, days split into shards of a few hundred
    rows (so a night's scoring is a mapped task the two workers share)."""
    path = root / "checkout"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(path)], check=True)
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["mlflow"].update(registered_model=MODEL, experiment=MODEL)
    params["scoring"]["shard_rows"] = 300
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _commit_params(path, "deploy: the stack's model name and shards")
    return path


def _commit_params(checkout: Path, message: str) -> None:
    """A deployment runs committed params: a model trained from an uncommitted params.yaml
    is never promoted (`rules.committed_tree_check`)."""
    who = ["-c", "user.name=stack", "-c", "user.email=stack@localhost"]
    subprocess.run(
        ["git", *who, "commit", "--quiet", "-m", message, "params.yaml"], cwd=checkout, check=True
    )


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # Not under pytest's temporary root: PostgreSQL runs as `postgres` and must reach its
    # folder, and any other pytest run on the machine resets that root to mode 700.
    root = Path(tempfile.mkdtemp(prefix="mlops-stack-"))
    os.chmod(root, 0o711)
    workspace = _workspace(root)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW_"))},
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "STACK_STATE": str(root / "state"),
        "MLOPS_WORKSPACE": str(workspace),
        "STACK_POSTGRES_PORT": str(free_port()),
        "STACK_REDIS_PORT": str(free_port()),
        "STACK_S3_PORT": str(free_port()),
        "STACK_MLFLOW_PORT": str(free_port()),
        "STACK_AIRFLOW_PORT": str(free_port()),
        "STACK_CELERY_CONCURRENCY": "1",
        # Faults come and go within seconds here: a task's first retry after 5-10 s (then
        # doubling), clients that give up in seconds, a dead worker noticed after 30 s.
        "MLOPS_RETRY_DELAY_SECONDS": "5",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLOPS_S3_ATTEMPTS": "2",
        "MLOPS_S3_READ_TIMEOUT_SECONDS": "3",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@localhost",
        "GIT_COMMITTER_NAME": "ci",
        "GIT_COMMITTER_EMAIL": "ci@localhost",  # two tasks at once must go to two workers
    }
    script = str(REPO_ROOT / "scripts" / "stack.sh")
    try:
        started = subprocess.run(
            [script, "up"], env=env, capture_output=True, text=True, timeout=900
        )
        assert started.returncode == 0, f"stack.sh up failed\n{started.stdout}\n{started.stderr}"
        client = stack_client_env(root / "state" / "client.env")
        yield Stack(state=root / "state", workspace=workspace, env={**env, **client})
    finally:
        subprocess.run([script, "down"], env=env, capture_output=True, text=True, timeout=300)
        for bulky in ("checkout", "state/postgres", "state/workspace"):  # logs stay, to read
            shutil.rmtree(root / bulky, ignore_errors=True)


# --- the stack with a champion: what the loop and the fault tests start from ------------------

FIRST_NIGHT = date(2013, 3, 2)
NIGHTS = [FIRST_NIGHT + timedelta(days=i) for i in range(3)]
DAGS = ("ingestion", "batch_scoring", "monitoring", "training")


def say(line: str) -> None:
    print(f"[stack {time.strftime('%H:%M:%S')}] {line}", flush=True)


@dataclass(frozen=True)
class ServedStack:
    """The stack with days landed to the last night, gated to the first, and a champion
    trained by a manual `training` run through the REST API."""

    stack: Stack
    api: AirflowApi


def _eager_guard(workspace: Path) -> None:
    """One `act` night requests a retraining (the guard's k and n are 1, no cooldown)."""
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["retraining"].update(window_days=60, holdout_days=7)
    params["retraining"]["guard"].update(
        act_nights=1, of_last_nights=1, cooldown_days=0, min_new_labelled_flights=500
    )
    params["train"]["search"]["enabled"] = False
    params["scoring"]["wait_for_data_hours"] = 0.01
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _commit_params(workspace, "deploy: an eager retraining guard")


def runs_of(api: AirflowApi, dag_id: str) -> list[dict]:
    return list(api.call("GET", f"/dags/{dag_id}/dagRuns?limit=100")["dag_runs"])


def wait_for_runs(api: AirflowApi, dag_id: str, count: int, timeout: float) -> list[dict]:
    """Until `dag_id` has `count` runs, none queued or running; fails with the tasks' states."""
    deadline = time.monotonic() + timeout
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = runs_of(api, dag_id)
        if len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs):
            return runs
        time.sleep(3)
    raise TimeoutError(f"{dag_id}: {[(r['dag_run_id'], r['state']) for r in runs]}")


def night_run(api: AirflowApi, dag_id: str, night: date) -> dict:
    """The one run of a nightly DAG for `night` (its data interval ends at local midnight)."""
    (found,) = [
        r
        for r in runs_of(api, dag_id)
        if r["run_type"] == "backfill" and r["data_interval_end"].startswith(night.isoformat())
    ]
    return found


def wait_for_backfill(api: AirflowApi, backfill_id: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not api.call("GET", f"/backfills/{backfill_id}").get("completed_at"):
        assert time.monotonic() < deadline, f"backfill {backfill_id} not done in {timeout} s"
        time.sleep(2)


def task_instances(api: AirflowApi, dag_id: str, run_id: str) -> list[dict]:
    found = api.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
    return list(found["task_instances"])


def night(api: AirflowApi, dag_id: str, day: date) -> list[dict]:
    """One night of a nightly DAG (a backfill of its run for `day`), which must succeed; its
    task instances."""
    wait_for_backfill(api, api.backfill_night(dag_id, day))
    run_ = night_run(api, dag_id, day)
    tasks = task_instances(api, dag_id, run_["dag_run_id"])
    failed = [(t["task_id"], t["map_index"], t["state"]) for t in tasks if t["state"] != "success"]
    assert run_["state"] == "success", f"{dag_id} {day}: {run_['state']}, not done: {failed}"
    return tasks


def predictions_digest(stack: Stack, day: date, env: dict[str, str] | None = None) -> list[str]:
    """`mlops predictions` for one day: rows, and a digest over every column but the run id."""
    digest = ["mlops", "predictions", "--start", str(day), "--end", str(day + timedelta(1))]
    return run(digest, stack.workspace, env or stack.env).stdout.strip().split("\t")[:4]


def embedded_digest(stack: Stack, day: date) -> list[str]:
    """The same day scored by `mlops score` into a local folder (the embedded default's
    storage) with the same champion: what an undisturbed run gives."""
    local = {**stack.env, "MLOPS_OUTPUT_ROOT": str(stack.workspace / "embedded-predictions")}
    run(["mlops", "score", "--date", str(day), "--run-id", "embedded"], stack.workspace, local)
    return predictions_digest(stack, day, local)


@pytest.fixture(scope="session")
def served_stack(stack: Stack) -> ServedStack:
    """Set-up, not under test: the days are landed (`mlops land`, into S3) and the nights before
    the first gated in-process (what `ingestion` did every night before; 60 nights through the
    scheduler would take most of the suite's budget); the first night through `ingestion`; the
    first model is a manual `training` run through the REST API, as an operator starts one."""
    from pipelines.config import load_params
    from pipelines.data.landing import days
    from pipelines.gate.quarantine import gate_landed_batch

    _eager_guard(stack.workspace)
    stack.run("git", "commit", "--quiet", "--allow-empty", "-am", "the stack test's params")
    began = time.monotonic()
    stack.run("mlops", "land", "--start", "2013-01-01", "--end", NIGHTS[-1].isoformat())
    with pytest.MonkeyPatch.context() as patch:
        for name, value in stack.env.items():
            if name.startswith(("AWS_", "MLOPS_", "MLFLOW_")):
                patch.setenv(name, value)
        params = load_params(stack.workspace / "params.yaml")
        for day in days(date(2013, 1, 1), FIRST_NIGHT - timedelta(days=1)):
            gate_landed_batch(params, "scheduled_flights", day)
            if day > date(2013, 1, 1):
                gate_landed_batch(params, "outcomes", day - timedelta(days=1))
    gated = FIRST_NIGHT - timedelta(days=1)
    say(f"landed and gated to {gated} in {time.monotonic() - began:.0f} s")

    api = AirflowApi(stack.env, ("admin", stack.airflow_password("admin")))
    for dag_id in DAGS:
        api.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
    api.wait_for_dags(DAGS)
    night(api, "ingestion", FIRST_NIGHT)
    api.trigger(
        "training",
        {"as_of": FIRST_NIGHT.isoformat(), "holdout_days": 7, "reason": "the stack's first model"},
    )
    (first,) = wait_for_runs(api, "training", 1, timeout=1200)
    assert first["state"] == "success", first
    say("first model trained and promoted through `training` on Celery")
    return ServedStack(stack=stack, api=api)
