"""A real Airflow for the tests that need a scheduler: the api-server on 127.0.0.1, the
scheduler, dag-processor and triggerer (started and stopped as process groups), backfills,
and the metadata database read directly (SQLite)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.integration.conftest import Workspace, run
from tests.support.local_server import VENV_BIN, free_port, stop_process_group, wait_for_http


def query(airflow_home: Path, sql: str, *args: object) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(airflow_home / "airflow.db", timeout=60) as db:
        return db.execute(sql, args).fetchall()


def open_backfills(airflow_home: Path) -> list[int]:
    rows = query(airflow_home, "select id from backfill where completed_at is null")
    return [int(row[0]) for row in rows]


def backfill_runs(airflow_home: Path, backfill_id: int) -> list[tuple[str, str, str]]:
    """(run id, state, data interval end) of the runs a backfill created or cleared."""
    rows = query(
        airflow_home,
        "select r.run_id, r.state, r.data_interval_end from backfill_dag_run b "
        "join dag_run r on r.id = b.dag_run_id where b.backfill_id = ? "
        "order by r.data_interval_end",
        backfill_id,
    )
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def wait_for_backfill(airflow_home: Path, backfill_id: int, timeout: float) -> list:
    """Until the scheduler closes the backfill (every one of its runs has finished)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if backfill_id not in open_backfills(airflow_home):
            return backfill_runs(airflow_home, backfill_id)
        time.sleep(2)
    runs = backfill_runs(airflow_home, backfill_id)
    raise TimeoutError(f"backfill {backfill_id} not done within {timeout} s: {runs}")


def create_backfill(
    cwd: Path, env: dict, airflow_home: Path, dag_id: str, arguments: list[str]
) -> int:
    """`airflow backfill create` while the scheduler is stopped (the runbook's procedure on
    SQLite: with the scheduler writing, a create can stop part-way on "database is locked");
    returns the backfill's id."""
    assert not open_backfills(airflow_home), "a backfill is still open"
    command = [f"{VENV_BIN}/airflow", "backfill", "create", "--dag-id", dag_id]
    run([*command, *arguments], cwd=cwd, env=env, timeout=180)
    (created,) = query(airflow_home, "select max(id) from backfill")[0]
    return int(created)


SCHEDULER_PARTS = ("scheduler", "dag-processor", "triggerer")


class SchedulerProcesses:
    """The scheduler, dag-processor and triggerer, started and stopped as a group."""

    def __init__(self, start: Callable[..., subprocess.Popen]):
        self._start = start
        self._running: list[subprocess.Popen] = []

    def start(self) -> None:
        self._running = [self._start(name, name) for name in SCHEDULER_PARTS]

    def stop(self) -> None:
        for process in reversed(self._running):
            stop_process_group(process)
        self._running = []


@contextlib.contextmanager
def airflow_services(ws: Workspace, tracking_uri: str, airflow_db: Path) -> Iterator:
    """The api-server on 127.0.0.1, and the scheduler, dag-processor and triggerer for the
    test to start and stop (`make up` starts the same); all stopped (process groups) at the
    end of the test."""
    import secrets

    port = free_port()
    env = {
        **ws.env,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    }
    processes = []
    logs = []

    def start(name: str, *args: str) -> subprocess.Popen:
        log = open(airflow_db / f"{name}.log", "a")
        logs.append(log)
        process = subprocess.Popen(
            [f"{VENV_BIN}/airflow", *args],
            cwd=ws.path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(process)
        return process

    try:
        api = start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(port))
        wait_for_http(f"http://127.0.0.1:{port}/api/v2/monitor/health", 180, api)
        yield env, SchedulerProcesses(start)
    finally:
        for process in reversed(processes):
            stop_process_group(process)
        for log in logs:
            log.close()


def training_runs(airflow_home: Path) -> list[tuple[str, str]]:
    """(run type, state) of every `training` run."""
    rows = query(airflow_home, "select run_type, state from dag_run where dag_id = 'training'")
    return [(str(kind), str(state)) for kind, state in rows]


def wait_for_training(airflow_home: Path, timeout: float, runs: int = 1) -> list[tuple[str, str]]:
    """Until at least `runs` training runs exist and none is queued or running; their (run
    type, state)."""
    deadline = time.monotonic() + timeout
    found: list[tuple[str, str]] = []
    while time.monotonic() < deadline:
        found = training_runs(airflow_home)
        if len(found) >= runs and all(state in ("success", "failed") for _, state in found):
            return found
        time.sleep(3)
    tasks = query(
        airflow_home,
        "select task_id, state, try_number from task_instance where dag_id = 'training'",
    )
    raise TimeoutError(
        f"training did not finish within {timeout} s: runs {found}, tasks {tasks}\n"
        + log_tail(airflow_home, "training")
    )


def failed_task_logs(airflow_home: Path, dag_id: str) -> str:
    """The last attempt's log of every task of the DAG that has not succeeded (yet)."""
    failed = query(
        airflow_home,
        "select run_id, task_id, map_index, state, try_number from task_instance "
        "where dag_id = ? and state not in ('success', 'skipped')",
        dag_id,
    )
    parts = []
    for run_id, task_id, map_index, state, try_number in failed:
        folder = airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        folder = folder / f"task_id={task_id}"
        if map_index >= 0:
            folder = folder / f"map_index={map_index}"
        logs = sorted(folder.glob("attempt=*.log"))
        text = logs[-1].read_text()[-3000:] if logs else "(no log)"
        parts.append(f"--- {run_id} {task_id}[{map_index}] {state} try {try_number}\n{text}")
    return "\n".join(parts)


def log_tail(airflow_home: Path, dag_id: str) -> str:
    servers = "\n".join(
        f"--- {name}\n" + (airflow_home / f"{name}.log").read_text()[-3000:]
        for name in ("scheduler", "api-server")
        if (airflow_home / f"{name}.log").exists()
    )
    return f"{failed_task_logs(airflow_home, dag_id)}\n{servers}"


class AirflowApi:
    """The api-server's REST API (`/api/v2`), with a token of the simple auth manager (every
    user an admin in the tests). A request refused by a busy SQLite is retried."""

    def __init__(self, env: dict[str, str], credentials: tuple[str, str] | None = None):
        self.base = env["AIRFLOW__API__BASE_URL"]
        self._credentials = credentials
        self._token = ""

    def _new_token(self) -> str:
        """`GET /auth/token` when every user is an admin (the tests' default); with
        credentials, the simple auth manager's login (`POST /auth/token`)."""
        import json
        import urllib.request

        request = urllib.request.Request(f"{self.base}/auth/token")
        if self._credentials:
            username, password = self._credentials
            body = {"username": username, "password": password}
            request = urllib.request.Request(
                f"{self.base}/auth/token",
                data=json.dumps(body).encode(),
                method="POST",
                headers={"Content-Type": "application/json"},
            )
        with urllib.request.urlopen(request, timeout=60) as response:
            return str(json.loads(response.read())["access_token"])

    def _send(self, method: str, path: str, body: dict | None = None) -> dict:
        import json
        import urllib.error
        import urllib.request

        if not self._token:
            self._token = self._new_token()
        request = urllib.request.Request(
            f"{self.base}/api/v2{path}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read() or b"{}")

    def call(self, method: str, path: str, body: dict | None = None, attempts: int = 5) -> dict:
        import urllib.error

        for attempt in range(attempts):
            try:
                return self._send(method, path, body)
            except urllib.error.HTTPError as error:
                detail = error.read().decode(errors="replace")[:2000]
                if error.code < 500 or attempt == attempts - 1:
                    raise AssertionError(f"{method} {path}: {error.code} {detail}") from error
                time.sleep(2 + 3 * attempt)
        raise AssertionError("unreachable")

    def wait_for_dags(self, dag_ids: tuple[str, ...], timeout: float = 300) -> None:
        """Until the api-server serves every DAG (a dag-processor that just started may not
        have written them yet: a backfill would get "Could not find dag")."""
        deadline = time.monotonic() + timeout
        missing = list(dag_ids)
        while time.monotonic() < deadline:
            found = self.call("GET", "/dags?limit=100")["dags"]
            ready = {d["dag_id"] for d in found if not d.get("is_stale") and not d["is_paused"]}
            missing = [dag_id for dag_id in dag_ids if dag_id not in ready]
            if not missing:
                return
            time.sleep(3)
        raise TimeoutError(f"DAGs not served (or paused) after {timeout} s: {missing}")

    def backfill_night(self, dag_id: str, night: date) -> int:
        """A backfill of the one run of a nightly DAG that is for `night` (its data interval
        ends at the night's local midnight; a backfill selects runs by their logical date,
        the interval's start)."""
        zone = ZoneInfo("America/New_York")
        start = datetime.combine(night - timedelta(days=1), datetime.min.time(), zone)
        created = self.call(
            "POST",
            "/backfills",
            {
                "dag_id": dag_id,
                "from_date": start.isoformat(),
                "to_date": start.isoformat(),
                "max_active_runs": 1,
                "reprocess_behavior": "completed",
            },
        )
        return int(created["id"])

    def trigger(self, dag_id: str, conf: dict) -> str:
        created = self.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return str(created["dag_run_id"])
