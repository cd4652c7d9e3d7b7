"""A local MLflow tracking server (SQLite backend, proxied artifacts) on 127.0.0.1, for a test
session or a benchmark: the shape production scoring talks to (an HTTP registry), started in
its own process group and stopped with it. `make up` starts the embedded default's server
with `scripts/mlflow_server.sh` instead."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VENV_BIN = str(Path(sys.executable).parent)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def stop_process_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextmanager
def mlflow_server(state: Path) -> Iterator[str]:
    """Serve `state/mlflow.db` and `state/artifacts`; yields the tracking URI. The server's
    log is `state/server.log`; background job workers are off (~1.4 GB less)."""
    state.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with open(state / "server.log", "w") as log:
        process = subprocess.Popen(
            [
                f"{VENV_BIN}/mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{state}/mlflow.db",
                "--artifacts-destination",
                str(state / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        uri = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(f"{uri}/health", timeout=90, process=process)
            yield uri
        finally:
            stop_process_group(process)


def stack_client_env(path: Path) -> dict[str, str]:
    """The `export NAME='value'` lines `scripts/stack.sh` writes to its `client.env`, as a dict
    (what the stack tests and the stack benchmark run their clients with)."""
    import shlex

    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            name, _, quoted = line[len("export ") :].partition("=")
            env[name] = shlex.split(quoted)[0] if quoted else ""
    return env
