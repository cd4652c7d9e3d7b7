"""One real month of the loop, and what it cost (`python -m benchmarks cost_month`, about 10 min).

A clean clone of HEAD (the integration tests' workspace) with a real MLflow server: the model
that serves June 2013 is trained on January–May with the search on (as params.yaml has it; its
fixed window counts on 1 June), registered and made champion. Then every night of June goes
through the nightly path the DAGs call: the gate on D's flights and D-1's outcomes, `score_day`
(its shards and publish), and `monitor_day` from the second night. Each of those measures itself
into the cost ledger (`pipelines/run_cost.py`); `mlops cost --month 2013-06` then prints the
table the README shows (`results/cost_month.md`, the JSON beside it).

Not in the month: retraining the guard might ask for (the guard is not run here), the ingestion
stage (the gate is not a priced stage) and the servers' idle time (prices are per CPU-hour used).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

MONTH = "2013-06"
FIRST, LAST = date(2013, 6, 1), date(2013, 6, 30)
RESULTS = Path(__file__).parent / "results"


def run() -> dict:
    from mlflow import MlflowClient
    from pipelines.config import load_params
    from pipelines.data.versioning import DataVersion
    from pipelines.gate.quarantine import gate_landed_batch
    from pipelines.monitoring.nightly import monitor_day
    from pipelines.monitoring.rebuild import reference_from_features
    from pipelines.scoring.day import score_day
    from pipelines.training import dataset, tracking
    from pipelines.training import steps as training_steps
    from tests.integration.conftest import build_workspace
    from tests.support.local_server import mlflow_server

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cost-month-") as scratch:
        root = Path(scratch)
        (root / "mlflow").mkdir()
        with mlflow_server(root / "mlflow") as uri:
            ws = build_workspace(root, "2013-01-01", "2013-05-31", "2013-05-10", search=True)
            ws.overrides["MLFLOW_TRACKING_URI"] = uri
            os.environ["MLFLOW_TRACKING_URI"] = uri
            last_delivery = (LAST + timedelta(days=1)).isoformat()
            ws.run("mlops", "land", "--start", "2013-06-01", "--end", last_delivery, timeout=1800)
            params = load_params(ws.path / "params.yaml")
            features = dataset.make_feature_table(
                params, params.snapshot_dir, str(root / "features.parquet")
            )
            version = DataVersion(
                "data/snapshot", ws.locked_snapshot_md5(), ws.head(), False, "local"
            )
            trained = training_steps.train_and_log(
                params, features, version, root / "reports", "cost-month"
            )
            reference_from_features(params, trained.run_id, features)
            champion = tracking.register_model(params.mlflow, trained.run_id)
            MlflowClient(tracking_uri=uri).set_registered_model_alias(
                params.mlflow.registered_model, "champion", champion.version
            )
            night = FIRST
            while night <= LAST:
                gate_landed_batch(params, "scheduled_flights", night)
                gate_landed_batch(params, "outcomes", night - timedelta(days=1))
                score_day(params, night, champion, f"cost-month-{night}", gate=None)
                if night > FIRST:
                    monitor_day(params, night)
                night += timedelta(days=1)
            table = ws.run("mlops", "cost", "--month", MONTH).stdout
            summary = json.loads(ws.run("mlops", "cost", "--month", MONTH, "--json").stdout)
            os.environ.pop("MLFLOW_TRACKING_URI", None)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cost_month.md").write_text(table)
    return {
        **summary,
        "model_version": champion.version,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
