"""One real month of the loop, and what it cost (`python -m benchmarks cost_month`, ~10 min).

A clean clone of HEAD (the integration tests' workspace) with a real MLflow server. Every step
runs in its own process, as an Airflow task or `dvc repro` runs it (so a run's peak memory is
its own, not a long-lived process's):

* the model that serves June 2013: `dvc repro` on January–May (snapshot, features, `mlops train`
  with the search on as params.yaml has it, the reference; its fixed window counts on 1 June),
  `mlops register`, then `mlops promote` (the first model, against the floors and baselines);
* every night of June: `mlops gate batch` on D-1's outcomes, `mlops score --date D` (the gate on
  D's flights, the shards, the publish), `mlops monitor --date D` from the second night.

Each of those measures itself into the cost ledger (`pipelines/run_cost.py`); `mlops cost --month
2013-06` then prints the table the README shows (`results/cost_month.md`, the JSON beside it).

Not in the month: retraining the guard might ask for (the guard is not run), the ingestion gate
(not a priced stage) and the servers' idle time (prices are per CPU-hour used).
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

MONTH = "2013-06"
FIRST, LAST = date(2013, 6, 1), date(2013, 6, 30)
RESULTS = Path(__file__).parent / "results"


def run() -> dict:
    from tests.integration.conftest import build_workspace
    from tests.support.local_server import mlflow_server

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cost-month-") as scratch:
        root = Path(scratch)
        with mlflow_server(root / "mlflow") as uri:
            ws = build_workspace(root, "2013-01-01", "2013-05-31", "2013-05-10", search=True)
            ws.overrides["MLFLOW_TRACKING_URI"] = uri
            ws.run("dvc", "repro", timeout=3600)
            run_id = json.loads((ws.path / "reports" / "train" / "run.json").read_text())["run_id"]
            ws.run("mlops", "register", "--run-id", run_id)
            version = json.loads(ws.run("mlops", "models", "latest").stdout)["version"]
            ws.run("mlops", "promote", "--version", str(version), "--reason", "June's model")
            last_delivery = (LAST + timedelta(days=1)).isoformat()
            ws.run("mlops", "land", "--start", FIRST.isoformat(), "--end", last_delivery)
            night = FIRST
            while night <= LAST:
                before = (night - timedelta(days=1)).isoformat()
                ws.run("mlops", "gate", "batch", "--contract", "outcomes", "--date", before)
                ws.run("mlops", "score", "--date", night.isoformat(), "--run-id", f"june-{night}")
                if night > FIRST:
                    ws.run("mlops", "monitor", "--date", night.isoformat())
                night += timedelta(days=1)
            table = ws.run("mlops", "cost", "--month", MONTH).stdout
            summary = json.loads(ws.run("mlops", "cost", "--month", MONTH, "--json").stdout)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cost_month.md").write_text(table)
    return {
        **summary,
        "model_version": str(version),
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
