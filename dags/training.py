"""
### Training

Pulls the DVC-versioned training snapshot, gates every table with its Great Expectations
contract (a blocking failure stops the run here: nothing is trained or registered, the failing
table is copied to `quarantine/snapshot/…`), builds features with the shared `features/` code,
chooses the model family and its settings on time-aware folds of the training days
(`train.search`; every trial a nested MLflow run), trains it with its baselines on a temporal
split, logs
everything to MLflow, registers the model as a new version, decides challenger vs champion on
the same holdout (`promotion:` in params.yaml; decision record on the run) and, if every check
passes, gives it the `challenger` alias: it scores in shadow (and answers a canary share
online) until the `monitoring` DAG's `judge_challenger` has judged its labelled shadow nights
with the same rules (`promotion.shadow`) and moves `champion` with compare-and-set, or retires
it. A first model (no champion) is promoted at once. Alias moves are serialized by the
`promotion` pool and a lease, and logged to the promotion log.

* **Trigger and window** (`pipelines/retraining/trigger.py`): scheduled on the Asset
  `retraining_requested` that `monitoring`'s guard emits (and on `retraining.fallback_cron`
  if set). Such a run trains on the moving window ending the day before the requested day
  (`retraining.window_days`, its newest `holdout_days` held out), its snapshot built from the
  validated partitions, `dvc add`ed and pushed; the event's day, act nights, triggers and
  reason are tagged on the MLflow run and written in the model version's description.
* **Manual runs** (*Trigger*, the form): a *reason* (required, at least 10 characters; tagged
  `run.reason` on the MLflow run: a manual run without one fails in `resolve_trigger`), an
  optional *as of* date for the moving window ending the day before (and its *holdout days*);
  empty, the fixed window of `params.yaml` (the snapshot of `dvc.lock`, as `dvc repro` and
  `make demo`). The same as conf: `{"as_of": "YYYY-MM-DD", "reason": "…"}`.
* **Overrides = an experiment**: the form's *params overrides* take dotted `params.yaml` keys
  of `features`, `train` and `retraining` to values for this run only, e.g.
  `{"train.hist_gradient_boosting.max_leaf_nodes": 15}`. An unknown key or a value of the
  wrong type fails `resolve_trigger` naming the key (`pipelines.config.with_overrides`). Every
  task reads the overridden params; the MLflow run is tagged `params.overrides` and the model
  is registered and decided as any other, but the decision's `committed_tree` check refuses
  it: those values are not the committed `params.yaml` (scoring would compute its features
  with other params), so it never becomes `challenger`. To keep a winning value, put it in
  `params.yaml`, commit and retrain (or `dvc exp run -S` from the command line).
* **Data**: pulled from the DVC remote by its md5 in every task, never files left on a worker.
  Its md5 and git revision are tagged on the run and the version
  (`mlops data pull-snapshot --md5 …` brings a moving window's snapshot back).
* **Monitoring reference**: `build_reference` stores, with the run and before it is
  registered, the sample, drift thresholds (calibrated on the training days) and calibration
  data the `monitoring` DAG compares every night against (`monitoring_reference/`), built from
  the logged model (the one the registry will serve).
* **Hand-offs**: tasks pass the data version, a feature-table URI and MLflow ids, never frames.
* **Re-runs**: each task is idempotent; a re-run trains again on the same data version and
  registers a new version with identical metrics (seeded).
* **Links** (a task's *Extra links*, in the task instance's header): "MLflow run" on
  `train_model` and `register_model` (the run they logged); "Data Docs" on every task opens
  the gate's Data Docs; "Monitoring page" on `resolve_trigger` of a requested retraining opens
  the on-call page of the night that asked for it.
* **Config**: `params.yaml`; MLflow from `MLFLOW_TRACKING_URI`.

Runbook: `runbooks/training.md`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, get_current_context, task

from orchestration.assets import RETRAINING_REQUESTED
from orchestration.clock import local_timezone, settings
from orchestration.schedule import (
    OVERRIDABLE_SECTIONS,
    default_args,
    form_values,
    loop_dag,
    missing_reason,
    request_tags,
    training_form,
)

DEFAULT_ARGS = default_args(retries=2, retry_delay_seconds=30, timeout_minutes=30)


def _schedule():  # type: ignore[no-untyped-def]
    """The retraining requests, or them and a slow cron fallback (`retraining.fallback_cron`)."""
    fallback = settings().retraining.fallback_cron
    if not fallback:
        return RETRAINING_REQUESTED
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    return AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(fallback, timezone=local_timezone()),
        assets=RETRAINING_REQUESTED,
    )


def _asked() -> dict:
    """What this run was asked for: its form's values and conf (nothing on a scheduled run)."""
    context = get_current_context()
    return form_values(context["params"], context["dag_run"].conf)


def _run_params():  # type: ignore[no-untyped-def]
    """params.yaml as this run reads it: with its form's overrides, if any (an experiment)."""
    from pipelines.config import load_params, with_overrides

    return with_overrides(load_params(), _asked().get("overrides") or {}, OVERRIDABLE_SECTIONS)


def _run_scope() -> str:
    """A filesystem-safe id of this DAG run, for its intermediate files."""
    run_id = get_current_context()["run_id"]
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)


@dag(
    dag_id="training",
    schedule=_schedule(),
    **loop_dag(
        __doc__,
        ["training", "dvc", "mlflow"],
        dagrun_timeout=timedelta(hours=2),
        params=training_form(),
        default_args=DEFAULT_ARGS,
    ),
)
def training() -> None:
    @task
    def resolve_trigger() -> dict:
        """Why this run trains, and on which window (the newest requested day wins); a manual
        run without a reason, or with an override params.yaml does not have, stops here."""
        from datetime import date

        from airflow.sdk.exceptions import AirflowFailException

        from orchestration.links import ONCALL_PAGE, oncall_page_path, push_link
        from pipelines.config import OverrideError
        from pipelines.retraining.trigger import training_trigger

        context = get_current_context()
        events = [
            dict(event.extra or {})
            for asset_events in context.get("triggering_asset_events", {}).values()
            for event in asset_events
        ]
        run = context["dag_run"]
        fallback_day = None
        if str(run.run_type).endswith("scheduled"):
            fallback_day = context["logical_date"].in_timezone(local_timezone()).date()
        asked = _asked()
        refused = missing_reason(str(run.run_type), asked)
        if refused:  # the form's fault, as a bad override: no retry can mend either
            raise AirflowFailException(refused)
        try:
            params = _run_params()
        except OverrideError as error:
            raise AirflowFailException(str(error)) from error
        trigger = training_trigger(params, events, asked, fallback_day)
        print(f"{trigger.kind}: window {trigger.window.as_dict()} {trigger.event}")
        if asked.get("overrides"):
            print(f"EXPERIMENT: params overridden for this run only: {asked['overrides']}")
        if trigger.event.get("day"):  # the night whose verdict asked for this retraining
            push_link(ONCALL_PAGE, oncall_page_path(date.fromisoformat(str(trigger.event["day"]))))
        return trigger.as_dict()

    @task
    def pull_data(trigger: dict) -> dict:
        """The window's snapshot: dvc.lock's (fixed) or built from validated days and pushed."""
        from pipelines.data import steps as data_steps
        from pipelines.retraining.trigger import TrainingTrigger

        window = TrainingTrigger.from_dict(trigger).window
        return data_steps.prepare_window(_run_params(), window).as_dict()

    @task
    def validate_snapshot(data_version: dict) -> list[dict]:
        """Great Expectations gate on every snapshot table; fails naming each failed expectation."""
        from pipelines.data import steps as data_steps
        from pipelines.data.versioning import DataVersion
        from pipelines.training import dataset

        params = _run_params()
        version = DataVersion.from_dict(data_version)
        folder = data_steps.materialise(params, version)
        return dataset.validate_snapshot(params, version, folder)

    @task
    def build_features(data_version: dict, validation: list[dict]) -> str:
        """Feature table of the pulled snapshot, written under the run's artifacts folder."""
        from pipelines.data import steps as data_steps
        from pipelines.data.versioning import DataVersion
        from pipelines.storage import join_uri
        from pipelines.training import dataset

        params = _run_params()
        folder = data_steps.materialise(params, DataVersion.from_dict(data_version))
        out_uri = join_uri(params.artifacts_root, "training", _run_scope(), "features.parquet")
        return dataset.make_feature_table(params, folder, out_uri)

    @task
    def train_model(
        features_uri: str, data_version: dict, validation: list[dict], trigger: dict
    ) -> str:
        """Fit, evaluate against the baselines and log to MLflow; returns the MLflow run id."""
        import tempfile
        from pathlib import Path

        from orchestration.links import MLFLOW_RUN, push_link
        from pipelines.data.versioning import DataVersion
        from pipelines.registry import run_url
        from pipelines.retraining.trigger import TrainingTrigger
        from pipelines.training import steps as training_steps

        params = _run_params()
        context = get_current_context()
        why = TrainingTrigger.from_dict(trigger)
        with tempfile.TemporaryDirectory(prefix="training-reports-") as reports:
            result = training_steps.train_and_log(
                params,
                features_uri,
                DataVersion.from_dict(data_version),
                Path(reports),
                run_name=f"airflow-{_run_scope()}",
                extra_tags={
                    "airflow.dag_id": context["dag"].dag_id,
                    "airflow.run_id": context["run_id"],
                    **request_tags(_asked()),
                    **why.tags(),
                },
                validation=validation,
                window=why.window,
            )
        push_link(MLFLOW_RUN, run_url(params.mlflow, result.run_id))
        return result.run_id

    @task
    def build_reference(mlflow_run_id: str, features_uri: str) -> str:
        """The run's monitoring reference (drift thresholds, sample, the estimate's calibration),
        built from the logged model and stored with the run, before the version exists."""
        from pipelines.monitoring.rebuild import reference_from_features

        reference = reference_from_features(_run_params(), mlflow_run_id, features_uri)
        print(f"reference of {mlflow_run_id}: false alarms {reference.false_alarms}")
        return mlflow_run_id

    @task
    def register_model(mlflow_run_id: str) -> dict:
        """Register the run's model as a new version with lineage tags and a model card."""
        from dataclasses import asdict

        from orchestration.links import MLFLOW_RUN, push_link
        from pipelines.registry import run_url
        from pipelines.training import steps as training_steps

        params = _run_params()
        push_link(MLFLOW_RUN, run_url(params.mlflow, mlflow_run_id))
        return asdict(training_steps.register(params, mlflow_run_id))

    @task
    def decide_promotion(registered: dict, features_uri: str, trigger: dict) -> dict:
        """Challenger vs champion on the same holdout, with the committed promotion policy (a
        run with overrides is refused: `committed_tree`); the record is logged on the run."""
        from pipelines.promotion.champion import evaluate_challenger
        from pipelines.retraining.trigger import TrainingTrigger

        window = TrainingTrigger.from_dict(trigger).window
        return evaluate_challenger(
            _run_params(), registered["version"], features_uri, window
        ).as_dict()

    @task(pool="promotion")
    def promote_champion(decision: dict) -> dict:
        """A passed challenger into shadow (`challenger` alias), or a first model to `champion`
        (compare-and-set: re-decided if the champion moved); a refusal is tagged."""
        from datetime import date

        from pipelines.config import load_params
        from pipelines.promotion.champion import ChallengerVerdict, apply_decision
        from pipelines.retraining.refusals import alert_on_refusals

        params = load_params()
        outcome = apply_decision(params, ChallengerVerdict.from_dict(decision))
        print(f"{outcome.action.upper()}: {outcome.verdict.summary}")
        alert = alert_on_refusals(params, date.today())
        if alert is not None:
            print(f"ALERT: {alert['message']}")
        return outcome.as_dict()

    trigger = resolve_trigger()
    data_version = pull_data(trigger)
    validation = validate_snapshot(data_version)
    features_uri = build_features(data_version, validation)
    trained = train_model(features_uri, data_version, validation, trigger)
    registered = register_model(build_reference(trained, features_uri))
    promote_champion(decide_promotion(registered, features_uri, trigger))


training()
