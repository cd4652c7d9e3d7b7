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


#: The files that take longest (`--durations`, at 6fba51f, on two xdist processes), longest
#: first. `make test` runs each file whole on one of two processes, handing out files in
#: collection order: these start first, so neither process is left with a long file at the
#: end while the other idles (longest-first scheduling). Any other file keeps its place after.
LONGEST_FILES = (
    "tests/integration/test_one_loop.py",
    "tests/integration/test_monitoring.py",
    "tests/integration/test_batch_scoring.py",
    "tests/integration/test_promotion_e2e.py",
    "tests/benchmarks/test_monitoring_benchmark_slice.py",
    "tests/integration/test_training_dag.py",
    "tests/data/test_replay.py",
    "tests/data/test_monitoring_alarms.py",
    "tests/benchmarks/test_scoring_benchmark_slice.py",
    "tests/data/test_promotion_compare.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(LONGEST_FILES)}

    def order(item: pytest.Item) -> int:
        path = Path(str(item.fspath)).resolve().relative_to(REPO_ROOT).as_posix()
        return rank.get(path, len(LONGEST_FILES))

    items.sort(key=order)  # stable: the order within a file, and of the other files, holds
