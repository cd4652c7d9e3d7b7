"""Test-wide settings. Airflow reads AIRFLOW_HOME at import, so it is set here, first."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="mlops-test-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(
    Path(__file__).resolve().parents[1] / "orchestration" / "plugins"
)
# as scripts/env.sh: wait for SQLite's write lock up to 30 s (the driver's default is 5 s)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = (
    f"sqlite:///{_AIRFLOW_HOME}/airflow.db?timeout=30"
)
os.environ["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
os.environ["AIRFLOW__CORE__PARALLELISM"] = "2"
os.environ["GX_ANALYTICS_ENABLED"] = "false"
os.environ["DVC_NO_ANALYTICS"] = "1"
os.environ["MPLBACKEND"] = "Agg"
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("MLOPS_WORKSPACE", None)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _AIRFLOW_HOME


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)
