"""A snapshot that fails the gate stops the training DAG at `validate_snapshot`: nothing is
trained or registered, the failing table is kept in quarantine, the message names the failure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlflow import MlflowClient
from tests.integration.conftest import (
    REGISTERED_MODEL,
    Workspace,
    airflow_dags_test,
    build_workspace,
)

pytestmark = pytest.mark.integration


def _duplicate_a_flight(checkout: Path) -> None:
    day = checkout / "data" / "landing" / "flights" / "date=2013-01-05" / "part-0.parquet"
    flights = pd.read_parquet(day)
    pd.concat([flights, flights.iloc[[0]]], ignore_index=True).to_parquet(day, index=False)


@pytest.fixture(scope="module")
def bad_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(
        tmp_path_factory.mktemp("bad-workspace"),
        "2013-01-01",
        "2013-01-14",
        "2013-01-10",
        before_publish=_duplicate_a_flight,
    )


def _versions(client: MlflowClient) -> list[str]:
    return sorted(v.version for v in client.search_model_versions(f"name = '{REGISTERED_MODEL}'"))


def test_failed_gate_stops_training_before_anything_is_registered(
    bad_workspace: Workspace, mlflow_server: str, airflow_db
):
    client = MlflowClient(tracking_uri=mlflow_server)
    before = _versions(client)
    result = airflow_dags_test(bad_workspace, mlflow_server, "training")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "state=failed" in output
    assert "data gate REJECTED" in output
    assert "expect_column_values_to_be_unique on 'flight_id'" in output
    assert "2013-01-05_" in output  # the duplicated key is named
    assert _versions(client) == before, "no model may be registered from rejected data"
    held = bad_workspace.path / "data" / "quarantine" / "snapshot"
    copies = list(held.glob("snapshot-*/flights.parquet"))
    assert len(copies) == 1 and (copies[0].parent / "validation.json").exists()
    assert not list((bad_workspace.path / "data" / "runs").glob("training/*/features.parquet")), (
        "build_features must not run after a failed gate"
    )
