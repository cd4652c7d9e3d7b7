"""MLflow's accounts for the production topology, shared by `make stack` and docker-compose.

`render TEMPLATE OUT`: the basic-auth config from the environment (mode 600).
`create URL`: the `pipeline` account (the Airflow tasks; it manages what it creates) and the
`reader` account (READ, the server's default permission), created by `admin` if missing.
Passwords come from MLFLOW_ADMIN_PASSWORD, MLFLOW_PIPELINE_PASSWORD, MLFLOW_READER_PASSWORD."""

from __future__ import annotations

import os
import sys
import time


def render(template: str, out: str) -> None:
    with open(template) as source:
        text = source.read().format(**os.environ)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as target:
        target.write(text)


def create(base: str, timeout: float = 120) -> None:
    import requests

    admin = ("admin", os.environ["MLFLOW_ADMIN_PASSWORD"])
    deadline = time.monotonic() + timeout
    while True:  # the server may still be starting (compose runs this beside it)
        try:
            requests.get(f"{base}/health", timeout=5).raise_for_status()
            break
        except requests.RequestException as error:
            if time.monotonic() > deadline:
                message = f"MLflow at {base} did not answer within {timeout:.0f} s: {error}"
                raise SystemExit(message) from error
            time.sleep(2)
    accounts = (("pipeline", "MLFLOW_PIPELINE_PASSWORD"), ("reader", "MLFLOW_READER_PASSWORD"))
    for user, variable in accounts:
        found = requests.get(
            f"{base}/api/2.0/mlflow/users/get", params={"username": user}, auth=admin, timeout=30
        )
        if found.status_code == 404:
            body = {"username": user, "password": os.environ[variable]}
            requests.post(
                f"{base}/api/2.0/mlflow/users/create", json=body, auth=admin, timeout=30
            ).raise_for_status()
        else:
            found.raise_for_status()


if __name__ == "__main__":
    if sys.argv[1:2] == ["render"] and len(sys.argv) == 4:
        render(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["create"] and len(sys.argv) == 3:
        create(sys.argv[2])
    else:
        raise SystemExit("usage: accounts.py render TEMPLATE OUT | create URL")
