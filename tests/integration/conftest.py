"""Real servers for the integration tier, each started once per session on 127.0.0.1 and
stopped by the fixture: an MLflow tracking server (SQLite backend, proxied artifacts), a moto
S3 server, and a git + DVC workspace cloned from this repository with a small data window."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.support import local_server
from tests.support.local_server import VENV_BIN, free_port, wait_for_http

SNAPSHOT_START, SNAPSHOT_END, HOLDOUT_START = "2013-01-01", "2013-02-28", "2013-02-15"
REGISTERED_MODEL = "flight-delay-classifier"


def run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}"
            f"\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with local_server.mlflow_server(tmp_path_factory.mktemp("mlflow")) as uri:
        yield uri


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    saved = {
        k: os.environ.get(k)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(endpoint, timeout=30)
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def make_bucket(endpoint: str, name: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    if name not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=name)


@dataclass(frozen=True)
class Workspace:
    """A deployed checkout: a git clone of this repo with its own params, landing and remotes."""

    path: Path
    remote_dir: Path
    overrides: dict[str, str]

    @property
    def env(self) -> dict[str, str]:
        """The current environment (credentials set by other fixtures) plus the workspace's."""
        return {**os.environ, **self.overrides}

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return run(list(args), cwd=self.path, env=self.env, timeout=timeout)

    def head(self) -> str:
        return self.run("git", "rev-parse", "HEAD").stdout.strip()

    def locked_snapshot_md5(self) -> str:
        lock = yaml.safe_load((self.path / "dvc.lock").read_text())
        return lock["stages"]["snapshot"]["outs"][0]["md5"]

    def forget_local_data(self) -> None:
        """Remove the workspace copy and the cache, so only a remote can bring the data back."""
        shutil.rmtree(self.path / "data" / "snapshot", ignore_errors=True)
        shutil.rmtree(self.path / ".dvc" / "cache", ignore_errors=True)


def build_workspace(
    root: Path,
    snapshot_start: str,
    snapshot_end: str,
    holdout_start: str,
    before_publish: Callable[[Path], None] | None = None,
    search: bool = False,
) -> Workspace:
    """Clone this repository, land the window, publish the snapshot with DVC, commit.

    The model search (`train.search`) is off unless asked for: most tests pin the model they
    train (a good and a bad one, say); the training DAG's test runs it."""
    path, remote_dir = root / "checkout", root / "dvc-remote"
    overrides = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "MLOPS_WORKSPACE": str(path),
        "MLOPS_RETRY_DELAY_SECONDS": "1",
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@localhost",
        "GIT_COMMITTER_NAME": "ci",
        "GIT_COMMITTER_EMAIL": "ci@localhost",
    }
    run(
        ["git", "clone", "--quiet", str(REPO_ROOT), str(path)],
        cwd=root,
        env={**os.environ, **overrides},
    )
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["data"].update(snapshot_start=snapshot_start, snapshot_end=snapshot_end)
    params["train"]["holdout_start"] = holdout_start
    params["train"]["search"]["enabled"] = search
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ws = Workspace(path=path, remote_dir=remote_dir, overrides=overrides)
    ws.run("dvc", "remote", "modify", "--local", "local", "url", str(remote_dir))
    last_delivery = (date.fromisoformat(snapshot_end) + timedelta(days=1)).isoformat()
    ws.run("mlops", "land", "--start", snapshot_start, "--end", last_delivery)
    if before_publish is not None:
        before_publish(path)
    ws.run("mlops", "data", "publish")
    ws.run("git", "add", "params.yaml", "dvc.lock")
    ws.run("git", "commit", "--quiet", "-m", "snapshot of the test window")
    return ws


def replayed_workspace(
    root: Path,
    tracking_uri: str,
    own_model: Callable[[Path], None],
    end: date,
    first_model_days: int,
    progress: Callable[[str], None] = print,
) -> tuple[Workspace, Any, Any]:
    """What the comparisons of the nightly path with the replay start from: a workspace with
    January–February published (`own_model` edits its params), the days to `end` landed, and
    the replay of the guarded policy over the same days. Returns the workspace, its params and
    the `ReplayResult`."""
    from pipelines.config import load_params
    from pipelines.replay.deliveries import ReplayPlan
    from pipelines.replay.loop import run_replay

    ws = build_workspace(root, "2013-01-01", "2013-02-27", "2013-02-14", own_model)
    ws.overrides["MLFLOW_TRACKING_URI"] = tracking_uri
    ws.run("mlops", "land", "--start", "2013-03-01", "--end", end.isoformat())
    params = load_params(ws.path / "params.yaml")
    plan = ReplayPlan(
        start=params.retraining.earliest_day,
        end=end,
        first_model_days=first_model_days,
        policies=("guarded",),
    )
    return ws, params, run_replay(params, plan, root / "replay", progress=progress, workers=1)


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(
        tmp_path_factory.mktemp("workspace"),
        SNAPSHOT_START,
        SNAPSHOT_END,
        HOLDOUT_START,
        search=True,
    )


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> Path:
    """A migrated Airflow metadata database (SQLite) in the session's AIRFLOW_HOME."""
    run(
        [f"{VENV_BIN}/airflow", "db", "migrate"],
        cwd=airflow_home,
        env=dict(os.environ),
        timeout=300,
    )
    run(
        [f"{VENV_BIN}/airflow", "pools", "set", "promotion", "1", "serializes champion changes"],
        cwd=airflow_home,
        env=dict(os.environ),
        timeout=120,
    )
    return airflow_home


def airflow_dags_test(
    workspace: Workspace, tracking_uri: str, dag_id: str, *extra: str
) -> subprocess.CompletedProcess:
    """`airflow dags test` against the workspace and the MLflow server; output kept for messages.
    A `training` run without conf says why, as every manual training run must."""
    env = {**workspace.env, "MLFLOW_TRACKING_URI": tracking_uri}
    if dag_id == "training" and "--conf" not in extra:
        extra = (*extra, "--conf", '{"reason": "an integration test\'s training run"}')
    return subprocess.run(
        [f"{VENV_BIN}/airflow", "dags", "test", dag_id, *extra],
        cwd=workspace.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
