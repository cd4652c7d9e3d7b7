"""A week of 2013 through the nightly path gives what the replay gives, night by night.

The nightly path is what the DAG tasks call, in the DAGs' order, without Airflow: `ingestion`
gates D's flights and D-1's outcomes; `batch_scoring` pins `@champion` (and `@challenger`) and
scores D (`score_day`, the DAG's shards and publish); `monitoring` judges D (`monitor_day`), the
challenger's shadow nights (`judge_challenger`), and its guard decides (`guard_inputs`,
`decide_retraining`, `record_decision`); a request starts `training`'s tasks (trigger, window
snapshot, gate, features, `train_and_log`, the reference, register, `evaluate_challenger`,
`apply_decision`). Against the real MLflow server.

The replay (`run_replay`, guarded policy) runs the same days from the same first model. Compared:
every prediction and the version that made it, every night's verdict and triggers, each
retraining's night, its candidate's holdout ROC AUC, every check of its decision and whether it
was promoted. The guard is made eager (one `act` night, a three-day cooldown) so a week holds
retrainings; `make replay-airflow` runs a month of the same through a real scheduler."""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import replayed_workspace

FIRST_MODEL_DAYS = 60  # the first model serves from 2 March (fewer days: it fails its floors)
WEEK_END = date(2013, 3, 8)
MODEL = "flight-delay-week"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _own_model(checkout: Path) -> None:
    params = yaml.safe_load((checkout / "params.yaml").read_text())
    params["mlflow"].update(registered_model=MODEL, experiment="flight-delay-week")
    params["retraining"].update(window_days=60, holdout_days=7)
    # The speed check times two models on a shared machine: the two paths would time it apart.
    params["promotion"]["max_latency_ratio"] = 10.0
    params["retraining"]["guard"].update(
        act_nights=1, of_last_nights=2, cooldown_days=3, min_new_labelled_flights=1000
    )
    (checkout / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _training_run(params, events: list[dict], conf: dict, scratch: Path) -> None:
    """The `training` DAG's tasks, in order."""
    from pipelines.data import steps as data_steps
    from pipelines.monitoring.rebuild import reference_from_features
    from pipelines.promotion.champion import apply_decision, evaluate_challenger
    from pipelines.retraining.trigger import training_trigger
    from pipelines.storage import join_uri
    from pipelines.training import dataset
    from pipelines.training import steps as training_steps

    trigger = training_trigger(params, events, conf, None)
    version = data_steps.prepare_window(params, trigger.window)
    folder = data_steps.materialise(params, version)
    validation = dataset.validate_snapshot(params, version, folder)
    run_scope = trigger.window.name.replace("=", "_")
    features_uri = dataset.make_feature_table(
        params, folder, join_uri(params.artifacts_root, "training", run_scope, "features.parquet")
    )
    reports = scratch / run_scope
    reports.mkdir(parents=True)
    result = training_steps.train_and_log(
        params,
        features_uri,
        version,
        reports,
        run_name=f"week-{run_scope}",
        extra_tags=trigger.tags(),
        validation=validation,
        window=trigger.window,
    )
    reference_from_features(params, result.run_id, features_uri)
    registered = training_steps.register(params, result.run_id)
    verdict = evaluate_challenger(params, registered.version, features_uri, trigger.window)
    apply_decision(params, verdict)


def _night(params, night: date, scratch: Path) -> None:
    """`batch_scoring`, then `monitoring` with its shadow verdict and its guard (and the
    training a request starts)."""
    from pipelines.monitoring.history import read_history
    from pipelines.monitoring.nightly import monitor_day
    from pipelines.monitoring.shadow_period import apply_shadow_verdict, judge_challenger
    from pipelines.registry import CHALLENGER, resolve_alias
    from pipelines.retraining.guard import decide_retraining
    from pipelines.retraining.request import already_requested, guard_inputs, record_decision
    from pipelines.scoring.day import score_day

    champion = resolve_alias(params.mlflow)
    challenger = resolve_alias(params.mlflow, CHALLENGER)
    score_day(params, night, champion, f"week-{night}", challenger, gate=None)
    monitor_day(params, night)
    verdict = judge_challenger(params, night)  # the shadow period, before the guard
    if verdict is not None:
        apply_shadow_verdict(params, verdict)
    history = read_history(params.workspace_path(params.monitoring.reports_dir))
    assert not already_requested(history, night, ())
    decision = decide_retraining(
        guard_inputs(params, night, training_active=False), params.retraining.guard
    )
    record_decision(params, decision)
    if decision.request:
        _training_run(params, [decision.event_extra()], {}, scratch)


def test_a_week_through_the_nightly_path_gives_the_replays_nights_and_decisions(
    tmp_path_factory, mlflow_server: str
):
    from pipelines.data.landing import days
    from pipelines.gate.quarantine import gate_landed_batch
    from pipelines.replay.compare import compare_loops, replay_outcome, workspace_outcome

    root = tmp_path_factory.mktemp("one-loop")
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_server
    _, params, replayed = replayed_workspace(
        root, mlflow_server, _own_model, WEEK_END, FIRST_MODEL_DAYS
    )
    plan = replayed.plan
    scratch = root / "reports"
    try:
        for day in days(plan.start, WEEK_END):  # `ingestion`, every night
            gate_landed_batch(params, "scheduled_flights", day)
            if day > plan.start:
                gate_landed_batch(params, "outcomes", day - timedelta(days=1))
            if day < plan.first_day:
                continue
            if day == plan.first_day:  # the first model learns up to the labels landed tonight
                first = replayed.first_model
                holdout_days = (day - date.fromisoformat(first.train_end)).days - 1
                conf = {"as_of": day.isoformat(), "holdout_days": holdout_days}
                _training_run(params, [], conf, scratch)
            _night(params, day, scratch)
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    nights = list(days(plan.first_day, WEEK_END))
    replay = replay_outcome(replayed, "guarded")
    comparison = compare_loops(replay, workspace_outcome(params, nights))
    assert comparison.days == len(nights) and comparison.flights > 5000
    assert comparison.replay_retrainings, "the eager guard should retrain within the week"
    assert comparison.agrees, json.dumps(comparison.as_dict(), indent=1, default=str)
