"""Nightly batch scoring against a real MLflow server: through Airflow, pinned to one model
version, sharded into mapped tasks, idempotent by date, atomic under SIGKILL, shadow
challenger, clear failures that leave predictions as they were, and every bad input of the
gate leaving champion and predictions untouched.

The scored day is landed in row groups of 200 rows and `scoring.shard_rows` is 400, so every
run here fans out into several shards, each streamed in record batches of 150 rows."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlflow import MlflowClient
from pipelines.gate.report import DataGateError
from tests.data.test_gate_bad_inputs import BAD_SCHEDULED_BATCHES
from tests.integration.airflow_services import (
    airflow_services,
    create_backfill,
    log_tail,
    query,
    wait_for_backfill,
)
from tests.integration.conftest import Workspace, airflow_dags_test, build_workspace, run

pytestmark = pytest.mark.integration

MODEL = "flight-delay-scoring"
DAY = date(2013, 2, 20)
ROW_GROUP_ROWS, SHARD_ROWS, BATCH_ROWS = 200, 400, 150


def _own_model(checkout: Path) -> None:
    params = yaml.safe_load((checkout / "params.yaml").read_text())
    params["mlflow"]["registered_model"] = MODEL
    params["scoring"].update(shard_rows=SHARD_ROWS, batch_rows=BATCH_ROWS)
    # A scheduled run for a day with no verdict (the scheduler's own "today") gives up fast.
    params["scoring"]["wait_for_data_hours"] = 0.01
    (checkout / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _landed(ws: Workspace) -> Path:
    return ws.path / "data" / "landing" / "flights" / f"date={DAY}" / "part-0.parquet"


@pytest.fixture(scope="module")
def scoring(tmp_path_factory, mlflow_server: str, airflow_db) -> dict:
    from pipelines.config import load_params
    from pipelines.data.versioning import DataVersion
    from pipelines.training import dataset, tracking
    from pipelines.training import steps as training_steps

    ws = build_workspace(
        tmp_path_factory.mktemp("scoring"),
        "2013-01-01",
        "2013-02-14",
        "2013-02-01",
        before_publish=_own_model,
    )
    ws.overrides["MLFLOW_TRACKING_URI"] = mlflow_server
    ws.run(
        "mlops", "land", "--start", "2013-02-16", "--end", DAY.isoformat()
    )  # the nights to score
    landed = pd.read_parquet(_landed(ws))  # a "large" day: several row groups, several shards
    landed.to_parquet(_landed(ws), index=False, row_group_size=ROW_GROUP_ROWS)
    for night in pd.date_range("2013-02-16", DAY).date:  # what the ingestion DAG does nightly
        ws.run("mlops", "gate", "batch", "--contract", "scheduled_flights", "--date", str(night))
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_server
    params = load_params(ws.path / "params.yaml")
    features = dataset.make_feature_table(
        params, params.snapshot_dir, str(tmp_path_factory.mktemp("features") / "f.parquet")
    )
    version = DataVersion("data/snapshot", ws.locked_snapshot_md5(), ws.head(), False, "local")
    reports = tmp_path_factory.mktemp("reports")
    first = training_steps.train_and_log(params, features, version, reports, "scoring-v1")
    second = training_steps.train_and_log(
        __import__("dataclasses").replace(
            params,
            train=__import__("dataclasses").replace(
                params.train, hist_gradient_boosting={"max_iter": 5, "max_leaf_nodes": 3}
            ),
        ),
        features,
        version,
        reports,
        "scoring-v2",
    )
    v1 = tracking.register_model(params.mlflow, first.run_id).version
    v2 = tracking.register_model(params.mlflow, second.run_id).version
    client = MlflowClient(tracking_uri=mlflow_server)
    client.set_registered_model_alias(MODEL, "champion", v1)
    client.delete_registered_model_alias(MODEL, "challenger")
    yield {"ws": ws, "params": params, "client": client, "v1": v1, "v2": v2, "uri": mlflow_server}
    os.environ.pop("MLFLOW_TRACKING_URI", None)


def _predictions(ws: Workspace, folder: str = "predictions", day: date = DAY) -> Path:
    """The day's published folder: its parts and `_published.json` (a dataset to pandas)."""
    return ws.path / "data" / folder / f"date={day}"


def _published_bytes(ws: Workspace, folder: str = "predictions") -> dict[str, bytes]:
    """Every file of the day's folder: what 'left as it was' compares."""
    return {p.name: p.read_bytes() for p in sorted(_predictions(ws, folder).iterdir())}


def test_the_dag_scores_the_day_of_its_data_interval_with_the_champion(scoring):
    ws = scoring["ws"]
    # The run whose data interval ends at local midnight of the 20th scores the 20th.
    result = airflow_dags_test(ws, scoring["uri"], "batch_scoring", "2013-02-20T05:00:00+00:00")
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "state=success" in output, output[-6000:]
    rows = pd.read_parquet(_predictions(ws))
    landed = pd.read_parquet(_landed(ws))
    assert len(rows) == len(landed) and rows["flight_id"].is_unique
    assert set(rows["flight_date"]) == {DAY.isoformat()}
    assert set(rows["model_version"]) == {scoring["v1"]}
    assert rows["late_probability"].between(0, 1).all()
    version = scoring["client"].get_model_version(MODEL, scoring["v1"])
    threshold = float(version.tags["model.decision_threshold"])  # chosen at training, per version
    assert 0 < threshold < 1
    assert (rows["predicted_late"] == (rows["late_probability"] >= threshold)).all()
    assert set(rows["model_data_version"]) == {ws.locked_snapshot_md5()}
    assert rows["scoring_run_id"].str.startswith("manual__").all()
    assert not list(_predictions(ws).glob(".tmp-*")), "no temporary file may stay visible"
    assert not (ws.path / "data" / "predictions" / "_staging" / f"date={DAY}").exists()
    shards = -(-len(landed) // SHARD_ROWS)
    assert shards >= 2
    for index in range(shards):  # one mapped task instance per shard, each run to its end
        assert f"end task task_id=score_shard map_index={index}" in output, output[-6000:]
    assert "rendered_map_index='shard 0 (" in output


def test_ingestion_publishes_the_validated_day_and_emits_an_asset_event(scoring, airflow_db):
    """The gate's owner: the day's verdict, its validated partition, and one event on the
    `validated_flights` Asset whose extra names the day, the rows and the partition."""
    ws = scoring["ws"]
    day = "2013-02-16"
    result = airflow_dags_test(ws, scoring["uri"], "ingestion", f"{day}T05:00:00+00:00")
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "state=success" in output, output[-6000:]
    validated = ws.path / "data" / "validated" / "flights" / f"date={day}" / "part-0.parquet"
    landed = ws.path / "data" / "landing" / "flights" / f"date={day}" / "part-0.parquet"
    assert validated.read_bytes() == landed.read_bytes()
    events = query(
        airflow_db,
        "select e.extra from asset_event e join asset a on a.id = e.asset_id "
        "where a.name = 'validated_flights'",
    )
    extras = [json.loads(extra) for (extra,) in events]
    mine = [e for e in extras if e.get("day") == day]
    assert mine, extras
    assert mine[-1]["status"] == "passed" and mine[-1]["rows"] == len(pd.read_parquet(landed))
    assert mine[-1]["partition"].endswith(f"validated/flights/date={day}/part-0.parquet")


def test_a_quarantined_day_fails_the_scoring_run_at_once_naming_the_failures(scoring):
    """Ingestion held day D: scoring does not wait hours for data that will not come, it
    fails naming the failed expectations and the release command, and writes nothing."""
    ws = scoring["ws"]
    held_day = "2013-02-16"  # outside the backfill test's logical dates (17, 18)
    landed = ws.path / "data" / "landing" / "flights" / f"date={held_day}" / "part-0.parquet"
    original = landed.read_bytes()
    pd.read_parquet(landed).assign(origin="BOS").to_parquet(landed, index=False)
    try:
        gate = subprocess.run(
            ["mlops", "gate", "batch", "--contract", "scheduled_flights", "--date", held_day],
            cwd=ws.path,
            env=ws.env,
            capture_output=True,
            text=True,
        )
        assert gate.returncode == 1, gate.stdout + gate.stderr
        started = time.monotonic()
        result = airflow_dags_test(
            ws, scoring["uri"], "batch_scoring", f"{held_day}T05:00:00+00:00"
        )
        output = result.stdout + result.stderr
        assert f"batch {held_day} is quarantined" in output, output[-6000:]
        assert "expect_column_values_to_be_in_set on 'origin'" in output
        assert "mlops quarantine release --contract scheduled_flights" in output
        assert time.monotonic() - started < 180, "failed at once, not after the wait"
        assert not (ws.path / "data" / "predictions" / f"date={held_day}").exists()
    finally:
        landed.write_bytes(original)
        ws.run("mlops", "gate", "batch", "--contract", "scheduled_flights", "--date", held_day)


def test_sharded_streamed_scores_equal_scoring_the_whole_day_at_once(scoring):
    """No skew from shards or record batches: the day's features and scores in one piece."""
    from features.build import build_features, model_inputs
    from pipelines.data import landing
    from pipelines.registry import load_model, resolve_alias

    ws, params = scoring["ws"], scoring["params"]
    ws.run("mlops", "score", "--date", DAY.isoformat(), "--run-id", "sharded")
    published = pd.read_parquet(_predictions(ws))
    flights = pd.read_parquet(_landed(ws))
    features = build_features(
        flights,
        landing.read_reference(params.landing_root, "weather"),
        params.features,
    )
    model = load_model(params.mlflow, resolve_alias(params.mlflow))
    whole_day = model.predict_proba(model_inputs(features, params.features))[:, 1]
    assert published["flight_id"].tolist() == features["flight_id"].tolist()
    assert published["late_probability"].to_numpy() == pytest.approx(whole_day, abs=1e-12)


def _published_briefs(ws: Workspace) -> list[list[str]]:
    """`mlops predictions` over the day before, the day, and the day after (not published)."""
    window = ["--start", str(DAY - timedelta(days=1)), "--end", str(DAY + timedelta(days=2))]
    listed = ws.run("mlops", "predictions", *window).stdout.strip().splitlines()
    return [line.split("\t") for line in listed]


def test_rerunning_a_date_gives_identical_rows_and_no_duplicates(scoring):
    ws = scoring["ws"]
    ws.run("mlops", "score", "--date", DAY.isoformat(), "--run-id", "rerun-1")
    first = pd.read_parquet(_predictions(ws))
    before = _published_briefs(ws)
    ws.run("mlops", "score", "--date", DAY.isoformat(), "--run-id", "rerun-2")
    second = pd.read_parquet(_predictions(ws))
    assert len(second) == len(first)
    pd.testing.assert_frame_equal(
        first.drop(columns="scoring_run_id"), second.drop(columns="scoring_run_id")
    )
    # What on-call compares around a re-run or a backfill: the digest stays, the run changes.
    after = _published_briefs(ws)
    assert before[1][:4] == after[1][:4] and after[1][0] == DAY.isoformat()
    assert int(after[1][1]) == len(second) and after[1][2] == scoring["v1"]
    assert (before[1][4], after[1][4]) == ("rerun-1", "rerun-2")
    assert after[2] == [str(DAY + timedelta(days=1)), "not published"]


def _kill_while_writing(ws: Workspace, run_id: str) -> None:
    """Start `mlops score`, wait until it is streaming a shard, SIGKILL it."""
    staging = ws.path / "data" / "predictions" / "_staging" / f"date={DAY}"
    process = subprocess.Popen(
        ["mlops", "score", "--date", DAY.isoformat(), "--run-id", run_id],
        cwd=ws.path,
        env=ws.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(staging.glob(".tmp-*")):
            assert process.poll() is None, "scoring ended before it could be killed"
            assert time.monotonic() < deadline, "scoring never started writing"
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_sigkill_mid_write_leaves_the_published_day_whole_and_a_rerun_restores_it(scoring):
    import pyarrow.dataset as ds

    ws = scoring["ws"]
    ws.run("mlops", "score", "--date", DAY.isoformat(), "--run-id", "undisturbed")
    undisturbed = pd.read_parquet(_predictions(ws))
    before = _published_bytes(ws)
    _kill_while_writing(ws, "killed")
    # The published day is the previous one, byte for byte; what the killed run left behind
    # (a hidden temporary file under `_staging/`) is invisible to a dataset reader.
    assert _published_bytes(ws) == before
    root = ws.path / "data" / "predictions"
    assert list((root / "_staging").rglob(".tmp-*")), "the kill should leave a partial file"
    dataset = ds.dataset(root, format="parquet", partitioning="hive")
    assert dataset.count_rows() == len(undisturbed)
    ws.run("mlops", "score", "--date", DAY.isoformat(), "--run-id", "after-kill")
    rerun = pd.read_parquet(_predictions(ws))
    pd.testing.assert_frame_equal(
        rerun.drop(columns="scoring_run_id"), undisturbed.drop(columns="scoring_run_id")
    )
    assert not list(root.rglob(".tmp-*"))
    assert not [p for p in (root / "_staging").rglob("*") if p.is_file()], "staging cleared"


def test_a_run_keeps_the_version_it_started_with_when_the_alias_moves(scoring):
    from pipelines.registry import resolve_alias
    from pipelines.scoring.day import score_day

    params, client = scoring["params"], scoring["client"]
    pinned = resolve_alias(params.mlflow)
    client.set_registered_model_alias(MODEL, "champion", scoring["v2"])  # moved mid-run
    try:
        score_day(params, DAY, pinned, "pinned-run")
    finally:
        client.set_registered_model_alias(MODEL, "champion", scoring["v1"])
    rows = pd.read_parquet(_predictions(scoring["ws"]))
    assert set(rows["model_version"]) == {scoring["v1"]} == {pinned.version}


def test_the_challenger_scores_in_shadow_and_agreement_is_logged(scoring):
    ws, client = scoring["ws"], scoring["client"]
    client.set_registered_model_alias(MODEL, "challenger", scoring["v2"])
    try:
        ws.run("mlops", "score", "--date", DAY.isoformat(), "--run-id", "with-shadow")
    finally:
        client.delete_registered_model_alias(MODEL, "challenger")
    shadow = pd.read_parquet(_predictions(ws, "shadow"))
    champion = pd.read_parquet(_predictions(ws))
    assert set(shadow["model_version"]) == {scoring["v2"]}
    assert set(champion["model_version"]) == {scoring["v1"]}, "shadow is never acted upon"
    agreement = yaml.safe_load((_predictions(ws, "shadow") / "_agreement.json").read_text())
    assert 0 <= agreement["decision_agreement"] <= 1 and agreement["rows"] == len(champion)


def test_an_unreachable_registry_fails_clearly_and_keeps_predictions(scoring, monkeypatch):
    import dataclasses

    from pipelines.registry import ModelUnavailable, ModelVersionRef, resolve_alias
    from pipelines.scoring.day import score_day

    params = scoring["params"]
    before = _published_bytes(scoring["ws"])
    down = dataclasses.replace(params.mlflow, tracking_uri="http://127.0.0.1:9")  # nothing there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # fail in seconds, not minutes
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with pytest.raises(ModelUnavailable, match="127.0.0.1:9"):
        resolve_alias(down)
    missing = ModelVersionRef(MODEL, "champion", "999", "no-run", "none")
    with pytest.raises(ModelUnavailable, match="cannot load models:/flight-delay-scoring/999"):
        score_day(params, DAY, missing, "doomed-run")
    assert _published_bytes(scoring["ws"]) == before


@pytest.mark.parametrize("case", list(BAD_SCHEDULED_BATCHES), ids=list(BAD_SCHEDULED_BATCHES))
def test_a_bad_batch_never_touches_the_champion_or_the_predictions(scoring, case):
    from pipelines.registry import resolve_alias
    from pipelines.scoring.day import score_day

    ws, params, client = scoring["ws"], scoring["params"], scoring["client"]
    landed = ws.path / "data" / "landing" / "flights" / f"date={DAY}" / "part-0.parquet"
    original = landed.read_bytes()
    predictions_before = _published_bytes(ws)
    champion_before = client.get_model_version_by_alias(MODEL, "champion").version
    change, expected = BAD_SCHEDULED_BATCHES[case]
    change(pd.read_parquet(landed)).to_parquet(landed, index=False)
    changed = landed.read_bytes()
    held = ws.path / "data" / "quarantine" / "scheduled_flights" / f"date={DAY}"
    try:
        with pytest.raises(DataGateError) as caught:
            score_day(params, DAY, resolve_alias(params.mlflow), "bad-input-run")
        assert all(fragment in str(caught.value) for fragment in expected)
        assert (held / "part-0.parquet").exists()
        assert landed.read_bytes() == changed, "the landing zone is never touched"
        assert _published_bytes(ws) == predictions_before
        assert client.get_model_version_by_alias(MODEL, "champion").version == champion_before
    finally:
        landed.write_bytes(original)
        shutil.rmtree(held, ignore_errors=True)


@pytest.fixture
def airflow_scheduler(scoring, airflow_db: Path):
    """The api-server, and the scheduler parts for the test to start and stop."""
    with airflow_services(scoring["ws"], scoring["uri"], airflow_db) as services:
        yield services


@pytest.mark.scheduler  # also alone: make test-scheduler
def test_a_backfill_through_the_scheduler_scores_each_day_once_and_reruns_identically(
    scoring, airflow_scheduler, airflow_db: Path
):
    """Two nights through a real scheduler; a month is the same command (runbook)."""
    ws, (env, scheduler) = scoring["ws"], airflow_scheduler
    # The api-server also serves the on-call pages (the monitoring plugin), no other server.
    # It asks for Airflow's own login: an anonymous request gets what Airflow's API gives it
    # (here every user is an admin, as in these tests; the stack tests see 401 for both), a
    # token or the UI's cookie gets the page.
    import urllib.error
    import urllib.request

    def anonymous_status(url: str) -> int:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    base = env["AIRFLOW__API__BASE_URL"]
    runbook = f"{base}/monitoring/runbooks/drift-alert.md"
    assert anonymous_status(runbook) == anonymous_status(f"{base}/api/v2/dags")
    with urllib.request.urlopen(f"{base}/auth/token", timeout=30) as response:
        token = json.loads(response.read())["access_token"]
    for headers in ({"Authorization": f"Bearer {token}"}, {"Cookie": f"_token={token}"}):
        request = urllib.request.Request(runbook, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as page:
            assert page.status == 200 and b"Runbook: drift alert" in page.read()
    run(["airflow", "dags", "reserialize"], cwd=ws.path, env=env, timeout=300)
    run(["airflow", "dags", "unpause", "batch_scoring"], cwd=ws.path, env=env, timeout=120)
    window = ["--from-date", "2013-02-17", "--to-date", "2013-02-19"]
    backfill = create_backfill(ws.path, env, airflow_db, "batch_scoring", window)
    scheduler.start()
    first = wait_for_backfill(airflow_db, backfill, timeout=600)
    scheduler.stop()
    assert [state for _, state, _ in first] == ["success"] * 2, log_tail(
        airflow_db, "batch_scoring"
    )
    days = [
        pd.Timestamp(end).tz_localize("UTC").tz_convert("America/New_York").date().isoformat()
        for _, _, end in first
    ]
    # Logical dates 17 and 18 February: the runs whose intervals end at midnight of 18 and 19.
    assert days == ["2013-02-18", "2013-02-19"]
    scored = {}
    for day in days:
        path = _predictions(ws, day=date.fromisoformat(day))
        landed = ws.path / "data" / "landing" / "flights" / f"date={day}" / "part-0.parquet"
        rows = pd.read_parquet(path)
        assert len(rows) == len(pd.read_parquet(landed)) and rows["flight_id"].is_unique
        assert set(rows["model_version"]) == {scoring["v1"]}
        assert rows["scoring_run_id"].str.startswith("backfill__").all()
        scored[day] = rows
    # Idempotent: backfilling the same window again re-scores each day into identical rows.
    wall_clock = time.time()
    again = create_backfill(
        ws.path, env, airflow_db, "batch_scoring", [*window, "--reprocess-behavior", "completed"]
    )
    scheduler.start()
    rerun_states = wait_for_backfill(airflow_db, again, timeout=600)
    assert [run_id for run_id, _, _ in rerun_states] == [run_id for run_id, _, _ in first]
    assert [state for _, state, _ in rerun_states] == ["success"] * 2, log_tail(
        airflow_db, "batch_scoring"
    )
    for day, rows in scored.items():
        path = _predictions(ws, day=date.fromisoformat(day))
        assert (path / "_published.json").stat().st_mtime > wall_clock, f"{day} not scored again"
        rerun = pd.read_parquet(path)
        pd.testing.assert_frame_equal(
            rerun.drop(columns="scoring_run_id"), rows.drop(columns="scoring_run_id")
        )
