"""Champion vs challenger end to end through the training DAG, against a real MLflow server:
the first model is promoted, a worse one is rejected, a better one is promoted, rollback
restores the previous champion, a manual change in the UI is picked up, concurrent promotions
leave exactly one champion and a consistent log, and retraining reproduces the metrics."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from mlflow import MlflowClient
from tests.integration.conftest import Workspace, airflow_dags_test, build_workspace

pytestmark = pytest.mark.integration

MODEL = "flight-delay-promotion-e2e"
# Chosen on the Jan-Feb window (fitted on 1 Jan-3 Feb, calibrated on 4-14 Feb, holdout 15-28
# Feb, ~12.5k flights): ROC AUC ~0.60, ~0.55, ~0.62; FIRST beats both baselines' log loss, and
# BETTER is no worse than FIRST on any origin or carrier (deeper models lose 9E by 0.04-0.09).
FIRST = {"max_iter": 2, "learning_rate": 0.1, "max_leaf_nodes": 3, "min_samples_leaf": 1000}
WORSE = {"max_iter": 1, "learning_rate": 0.05, "max_leaf_nodes": 2, "min_samples_leaf": 1000}
BETTER = {"max_iter": 5, "learning_rate": 0.1, "max_leaf_nodes": 3, "min_samples_leaf": 1000}


def _own_model_name(checkout: Path) -> None:
    params = yaml.safe_load((checkout / "params.yaml").read_text())
    params["mlflow"]["registered_model"] = MODEL
    # Timing on a shared 2-core CI machine is noisy: the speed budget is unit-tested instead.
    params["promotion"]["max_latency_ratio"] = 10.0
    # These deliberately weak models (3 to 10 trees) lose to logistic regression and rank some
    # carriers no better than chance, so the simpler-model rule and the first model's slice
    # floor would refuse them all; both are unit-tested (test_promotion.py) and on in every
    # other workspace. Here the champion/challenger mechanics are under test.
    params["promotion"]["simpler_models"]["metrics"] = []
    params["promotion"]["slice_floor"] = 0.0
    # Promoted at once when the offline checks pass: no nights are scored in this workspace.
    # The shadow period between the two is tested in test_shadow_period.py.
    params["promotion"]["shadow"] = {"min_nights": 0, "max_nights": 0}
    (checkout / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _train_with(ws: Workspace, tracking_uri: str, hyperparameters: dict) -> dict:
    params = yaml.safe_load((ws.path / "params.yaml").read_text())
    params["train"]["hist_gradient_boosting"] = hyperparameters
    (ws.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ws.run("git", "commit", "--quiet", "-am", f"train with {hyperparameters}")
    result = airflow_dags_test(ws, tracking_uri, "training")
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "state=success" in output, output[-6000:]
    client = MlflowClient(tracking_uri=tracking_uri)
    newest = max(client.search_model_versions(f"name = '{MODEL}'"), key=lambda v: int(v.version))
    return {"version": newest.version, "output": output}


def _champion(client: MlflowClient) -> str:
    return client.get_model_version_by_alias(MODEL, "champion").version


def _race_forced_promotions(
    ws: Workspace, env: dict[str, str], versions: list[str], reason: str
) -> list[subprocess.Popen]:
    """`mlops promote --force` of each version, all at once; each must succeed."""
    processes = [
        subprocess.Popen(
            ["mlops", "promote", "--version", v, "--reason", f"{reason} {v}", "--force"],
            cwd=ws.path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for v in versions
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
    return processes


def _log(ws: Workspace) -> list[dict]:
    path = ws.path / "data" / "registry" / "promotion_log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def history(tmp_path_factory, mlflow_server: str, airflow_db) -> dict:
    ws = build_workspace(
        tmp_path_factory.mktemp("promotion"),
        "2013-01-01",
        "2013-02-28",
        "2013-02-15",
        before_publish=_own_model_name,
    )
    ws.overrides["MLFLOW_TRACKING_URI"] = mlflow_server  # the CLI must use the test's server
    client = MlflowClient(tracking_uri=mlflow_server)
    runs = {}
    runs["first"] = _train_with(ws, mlflow_server, FIRST)
    runs["champion_after_first"] = _champion(client)
    runs["worse"] = _train_with(ws, mlflow_server, WORSE)
    runs["champion_after_worse"] = _champion(client)
    runs["better"] = _train_with(ws, mlflow_server, BETTER)
    runs["champion_after_better"] = _champion(client)
    return {"ws": ws, "client": client, "runs": runs, "uri": mlflow_server}


def test_first_model_is_promoted_against_the_floor_and_baselines(history):
    runs, client = history["runs"], history["client"]
    assert runs["champion_after_first"] == runs["first"]["version"]
    assert (
        "PROMOTE challenger" in runs["first"]["output"]
        and "against no champion" in runs["first"]["output"]
    )
    tags = client.get_model_version(MODEL, runs["first"]["version"]).tags
    assert tags["decision"] == "promoted" and tags["data.dvc_md5"]


def test_worse_model_is_rejected_and_the_champion_stays(history):
    runs, client = history["runs"], history["client"]
    assert runs["champion_after_worse"] == runs["first"]["version"]
    version = client.get_model_version(MODEL, runs["worse"]["version"])
    assert version.tags["decision"] == "rejected"
    assert "primary_metric_improvement" in version.tags["decision.reason"]
    assert "REJECT challenger" in runs["worse"]["output"]
    # the card says so, with the record (what the MLflow UI shows on the version)
    card = version.description
    assert "### Model card" in card and "| logistic baseline |" in card and "Known limits" in card
    assert "### Decisions\n- **rejected**:" in card and "decision/decision.json" in card


def test_better_model_is_promoted_with_a_decision_record(history):
    runs, client = history["runs"], history["client"]
    assert runs["champion_after_better"] == runs["better"]["version"]
    version = client.get_model_version(MODEL, runs["better"]["version"])
    record_path = client.download_artifacts(version.run_id, "decision/decision.json")
    record = json.loads(Path(record_path).read_text())
    decision = record["decision"]
    assert decision["promote"] and decision["champion_version"] == runs["first"]["version"]
    improvement = decision["checks"][0]
    assert (
        improvement["name"] == "primary_metric_improvement"
        and improvement["numbers"]["improvement_low"] > 0
    )
    assert record["holdout"]["start"] == "2013-02-15" and record["holdout"]["rows"] > 10_000
    assert {"challenger", "champion"} <= set(record["metrics"])
    markdown = Path(client.download_artifacts(version.run_id, "decision/decision.md")).read_text()
    assert "| primary_metric_improvement | yes |" in markdown


def test_rollback_restores_the_previous_champion_and_is_logged(history):
    ws, client, runs = history["ws"], history["client"], history["runs"]
    ws.run("mlops", "rollback", "--reason", "test rollback", timeout=120)
    assert _champion(client) == runs["first"]["version"]
    kinds = [(e["kind"], e["from_version"], e["to_version"]) for e in _log(ws)]
    assert kinds[:3] == [
        ("promotion", None, runs["first"]["version"]),
        ("promotion", runs["first"]["version"], runs["better"]["version"]),
        ("rollback", runs["better"]["version"], runs["first"]["version"]),
    ]
    away = client.get_model_version(MODEL, runs["better"]["version"]).description
    back = client.get_model_version(MODEL, runs["first"]["version"]).description
    assert f"**rolled back to v{runs['first']['version']}**: test rollback" in away
    assert "- **promoted**:" in back and "**champion again (rollback from v" in back


def test_a_manual_change_in_the_mlflow_ui_is_honoured_and_logged(history):
    ws, client, runs = history["ws"], history["client"], history["runs"]
    client.set_registered_model_alias(
        MODEL, "champion", runs["better"]["version"]
    )  # as the UI does
    shown = ws.run("mlops", "promotions", timeout=120).stdout
    assert f"champion: v{runs['better']['version']}" in shown
    last = _log(ws)[-1]
    assert last["kind"] == "observed_external_change"
    assert last["to_version"] == runs["better"]["version"]


def test_concurrent_promotions_leave_one_champion_and_a_consistent_log(history):
    ws, client = history["ws"], history["client"]
    versions = sorted({history["runs"][k]["version"] for k in ("first", "worse", "better")})
    before = len(_log(ws))
    processes = _race_forced_promotions(ws, ws.env, versions * 2, "race")
    entries = _log(ws)
    raced = entries[before:]
    assert len(raced) == len(processes), "no promotion may be lost"
    assert all(e["kind"] == "forced" for e in raced)
    for earlier, later in zip(entries, entries[1:], strict=False):
        assert later["from_version"] == earlier["to_version"], (
            "each change starts where the last ended"
        )
    assert _champion(client) == entries[-1]["to_version"] and _champion(client) in versions


def test_retraining_on_identical_data_and_params_reproduces_the_metrics(history, tmp_path):
    from pipelines.config import load_params
    from pipelines.data.versioning import DataVersion
    from pipelines.training import steps as training_steps

    ws = history["ws"]
    import os

    os.environ["MLFLOW_TRACKING_URI"] = history["uri"]
    try:
        params = load_params(ws.path / "params.yaml")
        features = sorted((ws.path / "data" / "runs" / "training").glob("*/features.parquet"))[-1]
        version = DataVersion("data/snapshot", "md5", "rev", False, "local")
        train_and_log = training_steps.train_and_log
        first = train_and_log(params, str(features), version, tmp_path / "a", "repro-1")
        second = train_and_log(params, str(features), version, tmp_path / "b", "repro-2")
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    assert first.run_id != second.run_id
    assert first.metrics == second.metrics


def test_a_registry_outage_during_the_decision_fails_and_never_moves_the_champion(
    history, monkeypatch: pytest.MonkeyPatch
):
    """The alias read answers 503: that is not "no champion" (which would judge the
    challenger on the floor only and compare-and-set against None): the decision fails,
    naming the registry, and the champion stays where it was."""
    import dataclasses

    from pipelines.config import load_params
    from pipelines.promotion.champion import evaluate_challenger
    from pipelines.registry import RegistryUnavailable
    from tests.support.faulty_proxy import faulty_proxy

    ws, client, runs = history["ws"], history["client"], history["runs"]
    champion_before = _champion(client)
    features = sorted((ws.path / "data" / "runs").rglob("features.parquet"))[-1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    params = load_params(ws.path / "params.yaml")

    def alias_read(method: str, path: str) -> bool:
        return method == "GET" and "registered-models/alias" in path

    with faulty_proxy(history["uri"], alias_read) as proxy:
        broken = dataclasses.replace(
            params, mlflow=dataclasses.replace(params.mlflow, tracking_uri=proxy)
        )
        with pytest.raises(RegistryUnavailable, match=proxy):
            evaluate_challenger(broken, runs["worse"]["version"], str(features))
    assert _champion(client) == champion_before


def test_a_model_trained_from_uncommitted_params_is_rejected_naming_why(history):
    """The run says its params.yaml was not the committed one (what `dvc exp run -S` or an
    edit leaves, `params.git_dirty`): the decision refuses it whatever its metrics, and says
    how to proceed; the champion does not move."""
    from pipelines.config import load_params
    from pipelines.promotion.champion import evaluate_challenger

    ws, client, runs = history["ws"], history["client"], history["runs"]
    champion_before = _champion(client)
    version = runs["better"]["version"]
    run_id = client.get_model_version(MODEL, version).run_id
    assert client.get_run(run_id).data.tags["params.git_dirty"] == "false"
    features = sorted((ws.path / "data" / "runs").rglob("features.parquet"))[-1]
    params = load_params(ws.path / "params.yaml")
    params = __import__("dataclasses").replace(
        params,
        mlflow=__import__("dataclasses").replace(params.mlflow, tracking_uri=history["uri"]),
    )
    client.set_tag(run_id, "params.git_dirty", "true")
    try:
        verdict = evaluate_challenger(params, version, str(features))
    finally:
        client.set_tag(run_id, "params.git_dirty", "false")
    assert not verdict.promote
    assert "committed_tree: trained from a tree with uncommitted changes" in verdict.summary
    assert "params.git_dirty" in verdict.summary and "--force" in verdict.summary
    assert _champion(client) == champion_before


def test_registering_the_same_run_again_returns_its_version(history):
    """A retry after a transient error must not make a second version of one run."""
    from pipelines.config import load_params
    from pipelines.training import tracking

    ws, client, runs = history["ws"], history["client"], history["runs"]
    params = load_params(ws.path / "params.yaml")
    params = __import__("dataclasses").replace(
        params,
        mlflow=__import__("dataclasses").replace(params.mlflow, tracking_uri=history["uri"]),
    )
    challenger_before = client.get_registered_model(MODEL).aliases.get("challenger")
    versions_before = len(client.search_model_versions(f"name = '{MODEL}'"))
    run_id = client.get_model_version(MODEL, runs["worse"]["version"]).run_id
    again = tracking.register_model(params.mlflow, run_id)
    assert again.version == runs["worse"]["version"] and again.run_id == run_id
    assert len(client.search_model_versions(f"name = '{MODEL}'")) == versions_before
    if challenger_before:
        client.set_registered_model_alias(MODEL, "challenger", challenger_before)
    else:
        client.delete_registered_model_alias(MODEL, "challenger")


def test_concurrent_promotions_share_no_lock_file_when_the_log_is_on_s3(history, s3_endpoint: str):
    """Hosts with no common filesystem: the log and its lease live in a bucket (moto), and
    promotions still take turns: none lost, each starting where the last ended."""
    from tests.integration.conftest import make_bucket

    ws, client = history["ws"], history["client"]
    make_bucket(s3_endpoint, "registry")
    log_uri = "s3://registry/prod/promotion_log.jsonl"
    env = {**ws.env, "MLOPS_PROMOTION_LOG": log_uri, "AWS_ENDPOINT_URL": s3_endpoint}
    versions = sorted({history["runs"][k]["version"] for k in ("first", "better")})
    processes = _race_forced_promotions(ws, env, versions * 2, "s3 race")
    import boto3

    bucket = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    body = bucket.get_object(Bucket="registry", Key="prod/promotion_log.jsonl")["Body"].read()
    entries = [json.loads(line) for line in body.decode().splitlines()]
    forced = [e for e in entries if e["kind"] == "forced"]
    assert len(forced) == len(processes), "no promotion may be lost"
    for earlier, later in zip(forced, forced[1:], strict=False):
        assert later["from_version"] == earlier["to_version"]
    keys = {o["Key"] for o in bucket.list_objects_v2(Bucket="registry")["Contents"]}
    assert keys == {"prod/promotion_log.jsonl"}, "the lease is released"
    assert _champion(client) == forced[-1]["to_version"]


def test_a_form_run_with_overrides_trains_with_them_and_is_never_promoted(history):
    """The `training` form's params overrides (an experiment): every task reads them, the run is
    tagged with them, the version is registered and judged, and `committed_tree` refuses it
    (they are not the committed params.yaml); a key params.yaml does not have stops the run
    in `resolve_trigger`, named, before anything is trained."""
    ws, client, uri = history["ws"], history["client"], history["uri"]
    champion_before = _champion(client)
    versions_before = len(client.search_model_versions(f"name = '{MODEL}'"))
    overrides = {"train.hist_gradient_boosting.max_iter": 4}
    conf = json.dumps(
        {"reason": "an experiment: four trees, from the form", "overrides": overrides}
    )
    result = airflow_dags_test(ws, uri, "training", "--conf", conf)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "state=success" in output, output[-6000:]
    assert "EXPERIMENT: params overridden for this run only" in output
    newest = max(client.search_model_versions(f"name = '{MODEL}'"), key=lambda v: int(v.version))
    assert int(newest.version) == versions_before + 1
    run = client.get_run(newest.run_id)
    assert json.loads(run.data.tags["params.overrides"]) == overrides
    assert json.loads(newest.tags["model.hyperparameters"])["max_iter"] == 4  # trained with it
    assert run.data.tags["run.reason"] == "an experiment: four trees, from the form"
    record = json.loads(
        Path(client.download_artifacts(run.info.run_id, "decision/decision.json")).read_text()
    )
    refused = {c["name"]: c["detail"] for c in record["decision"]["checks"] if not c["passed"]}
    assert "params.overrides" in refused["committed_tree"], record["decision"]["summary"]
    assert not record["decision"]["promote"] and _champion(client) == champion_before

    bad = json.dumps({"reason": "an experiment with a typo", "overrides": {"train.max_leafs": 3}})
    result = airflow_dags_test(ws, uri, "training", "--conf", bad)
    output = result.stdout + result.stderr
    assert result.returncode != 0 or "state=failed" in output
    assert "'train.max_leafs' is not a key of params.yaml" in output, output[-6000:]
    assert len(client.search_model_versions(f"name = '{MODEL}'")) == versions_before + 1
