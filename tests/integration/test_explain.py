"""`mlops explain` on a really published night: a model trained and registered on a small
window, one day scored by `score_day` (the DAG's code), then the command in the workspace as
on-call runs it. The rebuilt probability must be the published one, to the bit."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import build_workspace

pytestmark = pytest.mark.integration

MODEL = "flight-delay-explain"
NIGHT = date(2013, 3, 1)


def _own_model(checkout: Path) -> None:
    params = yaml.safe_load((checkout / "params.yaml").read_text())
    params["mlflow"].update(registered_model=MODEL, experiment="flight-delay-explain")
    (checkout / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_explain_a_published_flight(tmp_path_factory, mlflow_server: str):
    from pipelines.config import load_params
    from pipelines.data.versioning import DataVersion
    from pipelines.gate.quarantine import gate_landed_batch
    from pipelines.scoring.day import score_day
    from pipelines.scoring.publish import read_published
    from pipelines.training import dataset, tracking
    from pipelines.training import steps as training_steps

    ws = build_workspace(
        tmp_path_factory.mktemp("explain"), "2013-01-01", "2013-02-27", "2013-02-14", _own_model
    )
    ws.overrides["MLFLOW_TRACKING_URI"] = mlflow_server
    ws.run("mlops", "land", "--start", NIGHT.isoformat(), "--end", "2013-03-02")
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_server
    try:
        params = load_params(ws.path / "params.yaml")
        gate_landed_batch(params, "scheduled_flights", NIGHT)
        features = dataset.make_feature_table(
            params, params.snapshot_dir, str(tmp_path_factory.mktemp("features") / "f.parquet")
        )
        version = DataVersion("data/snapshot", ws.locked_snapshot_md5(), ws.head(), False, "local")
        trained = training_steps.train_and_log(
            params, features, version, tmp_path_factory.mktemp("reports"), "explain-v1"
        )
        champion = tracking.register_model(params.mlflow, trained.run_id)
        score_day(params, NIGHT, champion, "test-scoring", gate=None)
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    published = read_published(params, NIGHT)
    assert published is not None
    # the flight the model was surest would be late: a long explanation, not a trivial one
    flight = published.sort_values("late_probability").iloc[-1]

    answer = json.loads(
        ws.run(
            "mlops", "explain", "--date", str(NIGHT), "--flight", flight["flight_id"], "--json"
        ).stdout
    )
    assert answer["matches_published"] is True
    assert answer["rebuilt"]["late_probability"] == flight["late_probability"]
    assert answer["rebuilt"]["predicted_late"] == bool(flight["predicted_late"])
    assert answer["model"]["version"] == champion.version == flight["model_version"]
    assert answer["threshold"] == champion.decision_threshold
    total = answer["base_value"] + sum(c["contribution"] for c in answer["contributions"])
    assert total == pytest.approx(answer["rebuilt"]["late_probability"], abs=1e-9)
    assert answer["scale"] == "probability"
    assert answer["background_rows"] == params.explain.background_rows
    assert set(answer["features"]) == {c["feature"] for c in answer["contributions"]}

    table = ws.run("mlops", "explain", "--date", str(NIGHT), "--flight", flight["flight_id"])
    assert "matches the published probability" in table.stdout
    print(f"\n$ mlops explain --date {NIGHT} --flight {flight['flight_id']}\n{table.stdout}")

    unknown = subprocess.run(
        ["mlops", "explain", "--date", str(NIGHT), "--flight", "no-such-flight"],
        cwd=ws.path,
        env=ws.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    assert f"flight 'no-such-flight' is not in the published predictions of {NIGHT}" in (
        unknown.stderr
    )
