"""The data scientist's loop from the command line, as the README walks it: on a clean
checkout with nothing running, `dvc repro` starts the embedded MLflow itself and trains the
fixed window; `dvc exp run -S` changes one parameter and trains again; `dvc params diff`,
`dvc metrics diff`, `dvc exp show` and `dvc plots diff` compare the experiment with main."""

from __future__ import annotations

import json
import os

import pytest

from tests.integration.conftest import build_workspace, run
from tests.support.local_server import free_port

pytestmark = pytest.mark.integration

PARAM = "train.hist_gradient_boosting.max_leaf_nodes"


def test_an_experiment_run_from_the_command_line_is_compared_with_main(tmp_path_factory):
    ws = build_workspace(
        tmp_path_factory.mktemp("experiments"), "2013-01-01", "2013-01-28", "2013-01-22"
    )
    # Nothing running: the embedded default on a port of its own, started by the stage.
    port = free_port()
    env = {
        **ws.env,
        "MLFLOW_HOST": "127.0.0.1",
        "MLFLOW_PORT": str(port),
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}",  # as scripts/env.sh sets it
        "MLOPS_STATE": str(ws.path / ".local"),  # the checkout's own, as on a fresh clone
    }

    def dvc(*args: str) -> str:
        return run(["dvc", *args], cwd=ws.path, env=env, timeout=900).stdout

    try:
        dvc("repro")
        assert (ws.path / ".local" / "pids" / "mlflow.pid").exists()  # the stage started it
        run(["git", "add", "-A"], cwd=ws.path, env=env)
        run(["git", "commit", "--quiet", "-m", "main: the baseline"], cwd=ws.path, env=env)
        dvc("exp", "run", "-n", "leaves-15", "-S", f"{PARAM}=15")

        params = json.loads(dvc("params", "diff", "--json"))["params.yaml"]
        assert params == {PARAM: {"old": 3, "new": 15, "diff": 12}}
        metrics = json.loads(dvc("metrics", "diff", "--json"))["reports/train/metrics.json"]
        assert metrics["holdout_roc_auc"]["diff"] != 0, metrics["holdout_roc_auc"]
        assert "leaves-15" in dvc("exp", "show", "--csv")
        # MLflow knows which run came from main and which from an uncommitted params.yaml:
        # the experiment's model cannot be promoted before its change is committed
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
        committed = run(["git", "show", "HEAD:reports/train/run.json"], ws.path, env).stdout
        on_main = json.loads(committed)
        in_exp = json.loads((ws.path / "reports" / "train" / "run.json").read_text())
        dirty = [
            client.get_run(r["run_id"]).data.tags["params.git_dirty"] for r in (on_main, in_exp)
        ]
        assert dirty == ["false", "true"]
        plots = ws.path.parent / "plots-diff"
        dvc("plots", "diff", "-o", str(plots))
        page = (plots / "index.html").read_text()
        for curve in ("roc", "precision_recall", "calibration"):
            assert f"reports_train_curves_{curve}_csv" in page, curve
        # each curve drawn for both: the experiment (workspace) beside main (HEAD)
        assert '"rev": "workspace"' in page and '"rev": "HEAD"' in page
        # and every plot of both loads: main's images come from the cache, not from git
        assert json.loads(dvc("plots", "diff", "--json")).get("errors", []) == []
    finally:
        run(["scripts/mlflow_server.sh", "stop"], cwd=ws.path, env=env)
    assert not (ws.path / ".local" / "pids" / "mlflow.pid").exists()


def test_a_tracking_server_that_is_down_is_named_not_replaced(tmp_path):
    from pipelines.config import REPO_ROOT

    env = {**os.environ, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"}
    result = run_allowing_failure([str(REPO_ROOT / "scripts" / "mlflow_server.sh"), "ensure"], env)
    assert result.returncode == 1
    assert f"MLflow at {env['MLFLOW_TRACKING_URI']} is not reachable" in result.stderr


def run_allowing_failure(args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    import subprocess

    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603
