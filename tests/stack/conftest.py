"""The production topology (`scripts/stack.sh`, what `make stack` starts), once per test session:
PostgreSQL, Redis, the moto S3 server, MLflow behind basic-auth and Airflow on the
CeleryExecutor with two workers, on free ports and with its state in the session's temporary
folder (a developer's own `make stack` is never touched). Its workspace is a clone of this
repository, its shared locations the stack's buckets. Stopped (`stack.sh down`) at the end."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.integration.conftest import run
from tests.support.local_server import VENV_BIN, free_port

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

        path = Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        return str(json.loads(path.read_text())[user])

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return run(list(args), cwd=self.workspace, env=self.env, timeout=timeout)

    def pids(self) -> dict[str, int]:
        """Every process group the stack started (pidfiles), by name."""
        return {
            path.stem: int(path.read_text()) for path in sorted((self.state / "pids").glob("*.pid"))
        }


def _client_env(path: Path) -> dict[str, str]:
    """The `export NAME='value'` lines `stack.sh` writes, as a dict."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            name, _, quoted = line[len("export ") :].partition("=")
            env[name] = shlex.split(quoted)[0] if quoted else ""
    return env


def _workspace(root: Path) -> Path:
    """A deployed checkout: its own registered model, days split into shards of a few hundred
    rows (so a night's scoring is a mapped task the two workers share)."""
    path = root / "checkout"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(path)], check=True)
    params = yaml.safe_load((path / "params.yaml").read_text())
    params["mlflow"].update(registered_model=MODEL, experiment=MODEL)
    params["scoring"]["shard_rows"] = 300
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("stack")
    for folder in (root, *root.parents):  # PostgreSQL runs as `postgres`: it must reach its folder
        if folder in (Path("/"), Path("/tmp")):
            break
        os.chmod(folder, os.stat(folder).st_mode | 0o011)
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
        "MLOPS_RETRY_DELAY_SECONDS": "1",  # a task's retries come at once (the DAGs' default_args)
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
        client = _client_env(root / "state" / "client.env")
        yield Stack(state=root / "state", workspace=workspace, env={**env, **client})
    finally:
        subprocess.run([script, "down"], env=env, capture_output=True, text=True, timeout=300)
