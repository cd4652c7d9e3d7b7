"""Nightly monitoring against a real MLflow server: a week of real nights (Evidently drift,
the estimate, delayed labels), idempotent re-runs, every bad input of the issue, the
monitoring DAG through `airflow dags test` with its alerts, and the plugin's pages."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.integration.conftest import Workspace, airflow_dags_test, build_workspace, run

pytestmark = pytest.mark.integration

MODEL = "flight-delay-monitoring"
FIRST, LAST = date(2013, 3, 1), date(2013, 3, 8)  # scored nights; the 9th is left unscored
NIGHTS = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]


def _own_model(checkout: Path) -> None:
    params = yaml.safe_load((checkout / "params.yaml").read_text())
    params["mlflow"]["registered_model"] = MODEL
    params["scoring"]["wait_for_data_hours"] = 0.002  # a night without predictions fails fast
    params["mlflow"]["experiment"] = "flight-delay-monitoring"  # its own training runs only
    # The retraining loop's test: a short window, `act` on 3 nights of 3, and a challenger that
    # cannot clear the champion (so the decision, not the retraining, is what is checked).
    params["retraining"].update(window_days=28, holdout_days=7)
    params["retraining"]["guard"].update(act_nights=3, of_last_nights=3)
    params["promotion"]["min_improvement"] = 0.5
    (checkout / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _day_dir(ws: Workspace, day: date) -> Path:
    return ws.path / "reports" / "monitoring" / f"date={day}"


@pytest.fixture(scope="module")
def monitored(tmp_path_factory, mlflow_server: str, airflow_db) -> dict:
    from mlflow import MlflowClient
    from pipelines.config import load_params
    from pipelines.data.versioning import DataVersion
    from pipelines.gate.quarantine import gate_landed_batch
    from pipelines.monitoring.rebuild import reference_from_features
    from pipelines.scoring.day import score_day
    from pipelines.training import dataset, tracking
    from pipelines.training import steps as training_steps

    ws = build_workspace(
        tmp_path_factory.mktemp("monitoring"), "2013-01-01", "2013-02-27", "2013-02-14", _own_model
    )
    ws.overrides["MLFLOW_TRACKING_URI"] = mlflow_server
    ws.run("mlops", "land", "--start", "2013-03-01", "--end", "2013-03-10")
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_server
    params = load_params(ws.path / "params.yaml")
    for night in [*NIGHTS, LAST + timedelta(days=1), LAST + timedelta(days=2)]:
        gate_landed_batch(params, "scheduled_flights", night)
        gate_landed_batch(params, "outcomes", night - timedelta(days=1))
    features = dataset.make_feature_table(
        params, params.snapshot_dir, str(tmp_path_factory.mktemp("features") / "f.parquet")
    )
    version = DataVersion("data/snapshot", ws.locked_snapshot_md5(), ws.head(), False, "local")
    trained = training_steps.train_and_log(
        params, features, version, tmp_path_factory.mktemp("reports"), "monitoring-v1"
    )
    reference_from_features(params, trained.run_id, features)  # the DAG's next task
    champion = tracking.register_model(params.mlflow, trained.run_id)
    client = MlflowClient(tracking_uri=mlflow_server)
    client.set_registered_model_alias(MODEL, "champion", champion.version)
    client.delete_registered_model_alias(MODEL, "challenger")
    for night in NIGHTS:
        score_day(params, night, champion, "test-scoring", gate=None)
    yield {"ws": ws, "params": params, "client": client, "champion": champion, "uri": mlflow_server}
    os.environ.pop("MLFLOW_TRACKING_URI", None)


def _history(ws: Workspace) -> pd.DataFrame:
    return pd.read_parquet(ws.path / "reports" / "monitoring" / "history.parquet")


def test_a_week_of_nights_drift_estimate_and_delayed_labels(monitored):
    from pipelines.monitoring.nightly import monitor_day
    from pipelines.monitoring.reference import load_reference
    from tests.factories import verdict_level

    ws, params = monitored["ws"], monitored["params"]
    champion = monitored["champion"]
    reference = load_reference(params.mlflow, champion.version, champion.run_id, ws.path / "ref")
    important = set(reference.important(params.monitoring.verdict.important_features))
    summaries = [monitor_day(params, night) for night in NIGHTS[1:6]]  # 2nd..6th
    for night, summary in zip(NIGHTS[1:6], summaries, strict=True):
        folder = _day_dir(ws, night)
        for name in ("drift.html", "drift.json", "summary.json", "index.html"):
            assert (folder / name).exists(), (night, name)
        assert summary["model"]["version"] == monitored["champion"].version
        verdict, drifted = summary["verdict"], set(summary["drift"]["drifted"])
        assert verdict["level"] == verdict_level(verdict["triggers"]), verdict
        on_important = {"important_drift", "important_drift_mild"} & set(verdict["triggers"])
        assert bool(on_important) == bool(drifted & important)
        assert (verdict["version"], verdict["judged_since"]) == (champion.version, str(NIGHTS[0]))
        assert 0.5 < summary["estimate"]["day"]["roc_auc"] < 0.9
        assert summary["drift"]["judged"] and len(summary["drift"]["columns"]) >= 15
        # the model's age: its training data ends with the reference's holdout, on the page
        data_end = reference.window["holdout_end"]
        assert summary["model"]["data_end"] == data_end
        assert summary["model"]["age_days"] == (night - date.fromisoformat(data_end)).days
        page = (folder / "index.html").read_text()
        assert f"its training data ends {data_end}" in page
        # nothing changed under the model between these nights (same packages, same files)
        assert summary["changes_since_previous_night"] == {"packages": [], "upstream": []}
        assert not {"packages_changed", "upstream_changed"} & set(verdict["triggers"])
        # the batch's every 20th flight, served as the store gives it now: no skew
        batch_skew = summary["batch_skew"]
        assert batch_skew["served_rows"] == -(-summary["rows"] // 20) > 0
        assert batch_skew["compared_rows"] == batch_skew["served_rows"]
        assert not batch_skew["skewed"] and "serving_skew" not in verdict["triggers"]
        assert f"Served by the batch: {batch_skew['served_rows']} sampled rows" in page
    # The labels of D land with D+1: the 5th's row got them from the run of the 6th.
    history = _history(ws)
    # The 1st was scored, not monitored: its row holds its labels only.
    assert list(history["date"]) == [str(d) for d in NIGHTS[:6]]
    labelled = history.set_index("date")
    assert pd.isna(labelled.loc[str(NIGHTS[0]), "verdict"])
    assert labelled.loc[str(NIGHTS[4]), "labels"] == "in"
    assert 0.4 < labelled.loc[str(NIGHTS[4]), "actual_roc_auc"] < 1.0
    assert labelled.loc[str(NIGHTS[5]), "labels"] == "pending"
    assert (_day_dir(ws, NIGHTS[4]) / "performance.html").exists()
    assert summaries[-1]["performance"]["window"]["days"] >= 4
    # MLflow: one monitoring run for the version, the date as step, linked from the version.
    client = monitored["client"]
    version = client.get_model_version(MODEL, monitored["champion"].version)
    run_id = version.tags["monitoring.run_id"]
    steps = [m.step for m in client.get_metric_history(run_id, "drift_share")]
    assert sorted(steps) == [int(d.strftime("%Y%m%d")) for d in NIGHTS[1:6]]
    assert any(a.path.startswith("date=") for a in client.list_artifacts(run_id))
    index = (ws.path / "reports" / "monitoring" / "index.html").read_text()
    assert all(f"date={d}/index.html" in index for d in NIGHTS[1:6])
    # What it cost: every night's shards and publish, each monitored night, and the fit (its
    # fixed window counts on the day after its holdout, in February), in the ledger and on runs
    march = json.loads(ws.run("mlops", "cost", "--month", "2013-03", "--json").stdout)
    stages = {stage["stage"]: stage for stage in march["stages"]}
    assert stages["scoring"]["days"] == len(NIGHTS) and stages["scoring"]["records"] >= 2 * len(
        NIGHTS
    )
    assert stages["scoring"]["bytes_written"] > 0 and stages["scoring"]["cpu_seconds"] > 0
    assert stages["monitoring"]["days"] >= 5 and stages["monitoring"]["peak_memory_bytes"] > 0
    assert stages["training"]["records"] == 0 and march["total_usd"] > 0
    february = json.loads(ws.run("mlops", "cost", "--month", "2013-02", "--json").stdout)
    assert [s["records"] for s in february["stages"] if s["stage"] == "training"] == [1]
    cost_steps = [m.step for m in client.get_metric_history(run_id, "cost_cpu_seconds")]
    assert sorted(cost_steps) == [int(d.strftime("%Y%m%d")) for d in NIGHTS[1:6]]
    trained = client.get_run(monitored["champion"].run_id).data.metrics
    assert trained["cost_cpu_seconds"] > 0 and trained["cost_bytes_written"] > 0


def test_weather_changed_after_the_night_batch_is_skew_on_its_sample(monitored):
    """The weather table is rewritten after the batch scored the night (an hour corrected
    upstream): the night's sample of served features no longer matches the store's, and the
    verdict says `serving_skew` naming the weather inputs."""
    from pipelines.data.landing import reference_uri
    from pipelines.monitoring.nightly import batch_skew_of_day

    params = monitored["params"]
    weather_file = Path(reference_uri(params.landing_root, "weather"))
    kept = weather_file.read_bytes()
    try:
        weather = pd.read_parquet(weather_file)
        weather["temp"] = weather["temp"] + 5.0
        weather.to_parquet(weather_file, index=False)
        report = batch_skew_of_day(params, NIGHTS[3])
    finally:
        weather_file.write_bytes(kept)
    assert report is not None and report.compared_rows == report.served_rows > 0
    skewed = set(report.skewed)
    assert skewed and all(column.startswith("wx_") for column in skewed), skewed
    assert batch_skew_of_day(params, NIGHTS[3]).skewed == ()  # the store as it was


def test_rerunning_a_night_replaces_its_row_and_keeps_its_labels(monitored):
    from pipelines.monitoring.nightly import monitor_day

    ws, params = monitored["ws"], monitored["params"]
    before = _history(ws).set_index("date").loc[str(NIGHTS[3])]
    again = monitor_day(params, NIGHTS[3])
    history = _history(ws)
    assert history["date"].is_unique and len(history) == 6
    after = history.set_index("date").loc[str(NIGHTS[3])]
    assert after["verdict"] == before["verdict"] == again["verdict"]["level"]
    assert after["drift_share"] == before["drift_share"]
    assert after["labels"] == "in" and after["actual_roc_auc"] == before["actual_roc_auc"]
    run_id = (
        monitored["client"]
        .get_model_version(MODEL, monitored["champion"].version)
        .tags["monitoring.run_id"]
    )
    steps = [m.step for m in monitored["client"].get_metric_history(run_id, "drift_share")]
    assert len(steps) == len(set(steps)), "a re-run must not double the metric history"


def test_a_package_changed_since_the_previous_night_is_watch_and_named(monitored):
    """The previous night's fingerprint says another pandas: the night is `watch`
    (`packages_changed`) and its page says which; put back, the night is as before."""
    import json as _json

    from pipelines.monitoring.history import history_uri
    from pipelines.monitoring.nightly import monitor_day

    ws, params = monitored["ws"], monitored["params"]
    uri = history_uri(str(ws.path / "reports" / "monitoring"))
    original = pd.read_parquet(uri)
    changed = original.copy()
    row = changed["date"] == str(NIGHTS[2])
    fingerprint = _json.loads(changed.loc[row, "fingerprint"].iloc[0])
    running = fingerprint["packages"]["pandas"]
    fingerprint["packages"]["pandas"] = "0.0.1"
    changed.loc[row, "fingerprint"] = _json.dumps(fingerprint)
    changed.to_parquet(uri, index=False)
    try:
        summary = monitor_day(params, NIGHTS[3])
        assert "packages_changed" in summary["verdict"]["triggers"]
        assert f"pandas 0.0.1 -> {running}" in summary["changes_since_previous_night"]["packages"]
        page = (_day_dir(ws, NIGHTS[3]) / "index.html").read_text()
        assert f"package pandas 0.0.1 -&gt; {running}" in page
    finally:
        original.to_parquet(uri, index=False)
    again = monitor_day(params, NIGHTS[3])
    assert "packages_changed" not in again["verdict"]["triggers"]


def test_labels_that_never_arrive_leave_performance_pending(monitored):
    from pipelines.monitoring.nightly import monitor_day

    ws, params = monitored["ws"], monitored["params"]
    outcomes = ws.path / "data" / "validated" / "outcomes" / f"date={NIGHTS[6]}"
    shutil.move(outcomes, outcomes.with_name("held-back"))
    try:
        summary = monitor_day(params, NIGHTS[7], log_to_mlflow=False)
    finally:
        shutil.move(outcomes.with_name("held-back"), outcomes)
    assert summary["performance"]["labels_for_previous_day"] == "pending"
    assert any(f"labels pending for {NIGHTS[6]}" in r for r in summary["verdict"]["reasons"])


def test_outcome_keys_that_match_no_prediction_are_counted_not_fatal(monitored):
    from pipelines.monitoring.nightly import monitor_day

    ws, params = monitored["ws"], monitored["params"]
    path = ws.path / "data" / "validated" / "outcomes" / f"date={NIGHTS[6]}" / "part-0.parquet"
    original = path.read_bytes()
    outcomes = pd.read_parquet(path)
    strangers = outcomes.head(3).assign(flight_id=lambda f: f["flight_id"] + "-unknown")
    pd.concat([outcomes, strangers]).to_parquet(path, index=False)
    try:
        monitor_day(params, NIGHTS[7], log_to_mlflow=False)
    finally:
        path.write_bytes(original)
    row = _history(ws).set_index("date").loc[str(NIGHTS[6])]
    assert row["unmatched_outcomes"] == 3 and row["labels"] == "in"
    assert 0.4 < row["actual_roc_auc"] < 1.0


def test_a_day_with_zero_scored_rows_is_a_watch_not_a_crash(monitored):
    from pipelines.monitoring.nightly import monitor_day
    from pipelines.scoring.paths import day_uri, manifest_uri
    from pipelines.scoring.publish import Manifest
    from pipelines.scoring.rows import DICTIONARY_COLUMNS, PREDICTION_SCHEMA
    from pipelines.storage import join_uri, parquet_sink, write_text

    params = monitored["params"]
    empty_day = LAST + timedelta(days=2)
    part = join_uri(day_uri(params, empty_day), "empty.parquet")
    with parquet_sink(part, PREDICTION_SCHEMA, DICTIONARY_COLUMNS):
        pass
    write_text(Manifest(("empty.parquet",), (0,)).to_json(), manifest_uri(params, empty_day))
    summary = monitor_day(params, empty_day, log_to_mlflow=False)
    assert summary["rows"] == 0 and summary["verdict"]["level"] in ("watch", "act")
    assert "too_few_rows" in summary["verdict"]["triggers"]
    assert not summary["drift"]["judged"] and summary["drift"]["drifted"] == []
    assert summary["model"]["version"] == monitored["champion"].version  # the champion's reference
    shutil.rmtree(day_uri(params, empty_day))


def test_a_rerun_after_the_champion_moved_keeps_the_version_that_scored_the_day(monitored):
    from pipelines.monitoring.nightly import monitor_day
    from pipelines.training import tracking

    ws, params, client = monitored["ws"], monitored["params"], monitored["client"]
    first = monitored["champion"]
    other = tracking.register_model(params.mlflow, first.run_id)  # same run: same version
    assert other.version == first.version
    newer = client.create_model_version(MODEL, f"runs:/{first.run_id}/model", first.run_id)
    client.set_registered_model_alias(MODEL, "champion", newer.version)
    try:
        summary = monitor_day(params, NIGHTS[2], log_to_mlflow=False)
    finally:
        client.set_registered_model_alias(MODEL, "champion", first.version)
    assert summary["model"]["version"] == first.version
    assert _history(ws).set_index("date").loc[str(NIGHTS[2]), "model_version"] == first.version


def test_a_version_without_a_reference_names_the_command_that_builds_it(monitored):
    from pipelines import registry
    from pipelines.monitoring.nightly import monitor_day
    from pipelines.monitoring.reference import ReferenceMissing
    from pipelines.scoring.day import score_day
    from pipelines.training import tracking

    ws, params, client = monitored["ws"], monitored["params"], monitored["client"]
    first = monitored["champion"]
    run = client.get_run(first.run_id)
    model = registry.load_model(params.mlflow, first)
    sample = pd.read_parquet(ws.path / "data" / "validated" / "flights" / f"date={NIGHTS[0]}")
    from features.build import build_features, model_inputs
    from pipelines.data import landing

    inputs = model_inputs(
        build_features(
            sample, landing.read_reference(params.landing_root, "weather"), params.features
        ),
        params.features,
    ).head(50)
    old_run = tracking.log_training_run(
        params.mlflow,
        "before-monitoring",
        model,
        inputs,
        inputs.head(5),
        {},
        {k: v for k, v in run.data.metrics.items()},
        dict(run.data.tags),
        {},
        {
            "feature_importance.json": json.loads(
                Path(client.download_artifacts(first.run_id, "feature_importance.json")).read_text()
            )
        },
    )
    old = tracking.register_model(params.mlflow, old_run)
    client.delete_registered_model_alias(MODEL, "challenger")
    day = NIGHTS[0]
    score_day(params, day, old, "old-version", gate=None)
    with pytest.raises(
        ReferenceMissing, match=f"mlops monitoring-reference --model-version {old.version}"
    ):
        monitor_day(params, day, log_to_mlflow=False)
    assert not (_day_dir(ws, day) / "summary.json").exists()
    built = ws.run("mlops", "monitoring-reference", "--model-version", old.version)
    assert "false_alarms" in built.stdout
    summary = monitor_day(params, day, log_to_mlflow=False)
    assert summary["model"]["version"] == old.version
    score_day(params, day, first, "test-scoring", gate=None)  # the day as the others had it


def test_the_dag_monitors_its_night_and_alerts_once_per_condition(monitored):
    ws = monitored["ws"]
    alerts = ws.path / "reports" / "monitoring" / "alerts.jsonl"
    alerts.unlink(missing_ok=True)
    night = NIGHTS[6]
    result = airflow_dags_test(ws, monitored["uri"], "monitoring", f"{night}T05:00:00+00:00")
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "state=success" in output, output[-6000:]
    summary = json.loads((_day_dir(ws, night) / "summary.json").read_text())
    records = (
        [json.loads(line) for line in alerts.read_text().splitlines()] if alerts.exists() else []
    )
    if summary["verdict"]["level"] == "ok":
        assert records == []
    else:
        assert [r["date"] for r in records] == [str(night)]
        assert records[0]["page"].endswith(f"/monitoring/date={night}/index.html")
        assert records[0]["runbook"].endswith(".md") and records[0]["signals"]
        if summary["verdict"]["level"] == "watch":  # logged and on the page, never paged
            assert records[0]["paged"] is False and records[0]["channels"] == ["log"]
    # The same night again: no second alert.
    again = airflow_dags_test(ws, monitored["uri"], "monitoring", f"{night}T05:00:00+00:00")
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    after = alerts.read_text().splitlines() if alerts.exists() else []
    assert len(after) == len(records)


class _Webhook(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (the handler's API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Webhook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_failed_task_is_alerted_with_its_runbook_in_the_log_and_on_slack(monitored):
    """A night with no predictions: the sensor gives up ("late") and the failure notifier
    writes the alert naming the DAG, the task, the day and the runbook, and posts it to the
    Slack webhook of the `mlops_slack` connection (here a local HTTP server)."""
    ws = monitored["ws"]
    alerts = ws.path / "reports" / "monitoring" / "alerts.jsonl"
    alerts.unlink(missing_ok=True)
    server = http.server.HTTPServer(("127.0.0.1", 0), _Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_port}/hook"
    ws.overrides["AIRFLOW_CONN_MLOPS_SLACK"] = json.dumps({"conn_type": "http", "password": hook})
    night = date(2013, 3, 20)
    try:
        result = airflow_dags_test(ws, monitored["uri"], "monitoring", f"{night}T05:00:00+00:00")
    finally:
        ws.overrides.pop("AIRFLOW_CONN_MLOPS_SLACK")
        server.shutdown()
    assert result.returncode != 0
    records = [json.loads(line) for line in alerts.read_text().splitlines()]
    failure = [r for r in records if r["kind"] == "task_failure"]
    assert failure and failure[0]["task_id"] == "wait_for_predictions"
    assert failure[0]["date"] == str(night) and failure[0]["runbook"].endswith("monitoring.md")
    assert failure[0]["channels"] == ["log", "slack"]
    assert any("wait_for_predictions" in m["text"] for m in _Webhook.received)


DRIFTED = [date(2013, 3, 11) + timedelta(days=i) for i in range(4)]  # the 11th..14th


def _drifted_nights(monitored) -> None:
    """Land the 11th..14th, gate them, move every validated flight's schedule by 3 hours (a
    persisting upstream fault), and score them with the champion."""
    from pipelines.data.landing import days, validated_uri
    from pipelines.gate.quarantine import gate_landed_batch
    from pipelines.monitoring.backtest import _with_schedule_moved
    from pipelines.scoring.day import score_day

    ws, params = monitored["ws"], monitored["params"]
    ws.run("mlops", "land", "--start", "2013-03-11", "--end", "2013-03-15")
    window_start = DRIFTED[2] - timedelta(days=params.retraining.window_days)
    for day in days(window_start, DRIFTED[-1]):  # what the ingestion DAG did every night
        gate_landed_batch(params, "scheduled_flights", day)
        gate_landed_batch(params, "outcomes", day - timedelta(days=1))
    for day in DRIFTED:
        uri = validated_uri(params, "flights", day)
        _with_schedule_moved(pd.read_parquet(uri), 3).to_parquet(uri, index=False)
        score_day(params, day, monitored["champion"], "test-scoring", gate=None)


@pytest.mark.scheduler
def test_a_persisting_drift_requests_one_retraining_and_training_follows_through_the_asset(
    monitored, airflow_db: Path
):
    """Under a real scheduler: nights 11 and 12 are `act` (monitored before); night 13 (`act`
    on 3 of 3) emits one `retraining_requested` event and the `training` DAG runs on it, on the
    window ending the 12th, with the reason on its MLflow run and version; the challenger is
    judged by the champion/challenger rules (rejected here: the champion stays); night 14,
    inside the cooldown, emits nothing."""
    from pipelines.monitoring.nightly import monitor_day
    from tests.integration.airflow_services import (
        airflow_services,
        backfill_runs,
        create_backfill,
        log_tail,
        query,
        wait_for_backfill,
        wait_for_training,
    )

    ws, params, client = monitored["ws"], monitored["params"], monitored["client"]
    _drifted_nights(monitored)
    for night in DRIFTED[:2]:
        assert monitor_day(params, night)["verdict"]["level"] == "act"
    champion_before = client.get_model_version_by_alias(MODEL, "champion").version
    with airflow_services(ws, monitored["uri"], airflow_db) as (env, scheduler):
        run(["airflow", "dags", "reserialize"], cwd=ws.path, env=env, timeout=300)
        for dag_id in ("monitoring", "training"):
            run(["airflow", "dags", "unpause", dag_id], cwd=ws.path, env=env, timeout=120)
        # One night at a time, as the DAG's own schedule runs them (`max_active_runs=1`).
        window = ["--from-date", "2013-03-12", "--to-date", "2013-03-14", "--max-active-runs", "1"]
        backfill = create_backfill(ws.path, env, airflow_db, "monitoring", window)
        scheduler.start()
        runs = wait_for_backfill(airflow_db, backfill, timeout=600)
        training = wait_for_training(airflow_db, timeout=900)
        scheduler.stop()
    nights = [
        pd.Timestamp(end).tz_localize("UTC").tz_convert("America/New_York").date()
        for _, _, end in backfill_runs(airflow_db, backfill)
    ]
    history = _history(ws).set_index("date")
    shown = history.filter(["verdict", "triggers", "retraining", "retraining_reasons"]).tail(6)
    assert nights == DRIFTED[2:], (nights, shown.to_string())
    assert [state for _, state, _ in runs] == ["success"] * 2, log_tail(airflow_db, "monitoring")
    assert training == [("asset_triggered", "success")], shown.to_string() + log_tail(
        airflow_db, "training"
    )
    events = query(
        airflow_db,
        "select e.extra from asset_event e join asset a on a.id = e.asset_id "
        "where a.name = 'retraining_requested'",
    )
    assert [json.loads(extra)["day"] for (extra,) in events] == ["2013-03-13"]
    assert history.loc["2013-03-13", "retraining"] == "requested"
    assert history.loc["2013-03-14", "retraining"] == "declined"
    assert "cooldown" in history.loc["2013-03-14", "retraining_reasons"]
    (version,) = client.search_model_versions(
        f"name = '{MODEL}' and tag.`retraining.day` = '2013-03-13'"
    )
    tags = client.get_run(version.run_id).data.tags
    assert tags["retraining.trigger"] == "retraining_requested"
    assert tags["retraining.act_days"] == "2013-03-11,2013-03-12,2013-03-13"
    assert tags["window.as_of"] == "2013-03-13" and tags["split.holdout_end"] == "2013-03-12"
    assert tags["data.dvc_path"] == "data/windows/as_of=2013-03-13"
    assert "Retraining requested by monitoring on 2013-03-13" in version.description
    assert version.tags["decision"] == "rejected"
    assert "primary_metric_improvement" in version.tags["decision.reason"]
    assert client.get_model_version_by_alias(MODEL, "champion").version == champion_before
