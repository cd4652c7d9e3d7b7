"""
### Monitoring

Every night, once day D is scored, answers on-call's question: *can the champion still be
trusted, and if not, what do I do?*

* **Run for D**: the run whose data interval ends at local midnight of D (like `batch_scoring`).
  It waits for D's published predictions (`wait_for_predictions`; "predictions are late"
  after `scoring.wait_for_data_hours`).
* **Signals** (`pipelines/monitoring/`): Evidently drift of D's inputs and scores against the
  reference stored with the version that scored D (thresholds calibrated on its training
  days); the estimated performance of D from its scores alone (CBPE); D-1's delayed labels
  (landed today) with Evidently's classification report, and the rolling window's ROC AUC
  against the holdout's, with its interval.
* **Verdict** `ok` / `watch` / `act` (policy in `params.yaml`), emitted on the Asset
  `monitoring_verdict`.
* **Retraining guard** (`request_retraining`, policy `retraining.guard`): `act` on k of the
  last n nights, outside the cooldown, with enough new labels and no training run active, emits
  `retraining_requested` (extra: the act days, triggers, reason) and `training` runs on it;
  otherwise the task is *skipped* with the reasons (also in the night's history row).
* **Shadow period** (`judge_challenger`, policy `promotion.shadow`): a `challenger` that passed
  the offline decision is judged on its labelled shadow nights with the same rules; it is
  promoted (compare-and-set, promotion log), retired with the reason, or left waiting.
* **Outputs**: `reports/monitoring/date=D/` (Evidently HTML/JSON, summary, the on-call page),
  one row per date in `history.parquet` (a re-run replaces it), MLflow run
  `monitoring-v<version>` (metrics with the date as step). Pages: *Browse → Monitoring* in this UI.
* **Alerts**: a `watch` / `act` verdict and any task failure go to the alert log (and Slack or
  e-mail when `mlops_slack` / `mlops_email` exist); a persisting condition is grouped.

* **Manual run for a day**: *Trigger* shows a form with the day to monitor (empty: the run's
  interval). **Links**: every task opens the on-call page of its day ("Monitoring page"),
  `monitor` the night's MLflow monitoring run ("MLflow run").

Runbooks: `runbooks/drift-alert.md`, `performance-drop.md`, `labels-late.md`, `monitoring.md`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Metadata, PokeReturnValue, dag, get_current_context, task

from orchestration.assets import MONITORING_VERDICT, RETRAINING_REQUESTED
from orchestration.clock import settings
from orchestration.schedule import day_form, default_args, loop_dag, nightly, target_day


@dag(
    dag_id="monitoring",
    schedule=nightly(),
    **loop_dag(
        __doc__,
        ["monitoring", "evidently"],
        params=day_form(),
        default_args=default_args(retries=2, retry_delay_seconds=300, timeout_minutes=30),
    ),
)
def monitoring() -> None:
    wait_seconds = settings().scoring.wait_for_data_hours * 3600

    @task.sensor(
        poke_interval=max(1.0, min(300.0, wait_seconds / 10)),
        timeout=wait_seconds,
        mode="reschedule",
        retries=1,  # one more wait window after "predictions are late", then on-call
        execution_timeout=timedelta(hours=8),
    )
    def wait_for_predictions() -> PokeReturnValue:
        """D's predictions are published by `batch_scoring` (its manifest, written last; a day
        published before manifests counts too)."""
        from pipelines.config import load_params
        from pipelines.scoring.paths import manifest_uri
        from pipelines.scoring.publish import published_manifest

        params, day = load_params(), target_day()
        published = published_manifest(params, day) is not None
        return PokeReturnValue(is_done=published, xcom_value=manifest_uri(params, day))

    @task(outlets=[MONITORING_VERDICT])
    def monitor():  # type: ignore[no-untyped-def]
        """Drift, estimate, delayed labels, verdict, reports, history, page, MLflow."""
        from orchestration.links import MLFLOW_RUN, push_link
        from pipelines.config import load_params
        from pipelines.monitoring.nightly import monitor_day

        summary = monitor_day(load_params(), target_day())
        push_link(MLFLOW_RUN, summary.get("mlflow_url"))
        verdict = summary["verdict"]
        yield Metadata(
            MONITORING_VERDICT,
            {
                "day": summary["date"],
                "verdict": verdict["level"],
                "triggers": verdict["triggers"],
                "model_version": summary["model"]["version"],
                "drifted": summary["drift"]["drifted"][:5],
            },
        )
        drift = {"top": summary["drift"]["top"], "drifted": summary["drift"]["drifted"]}
        return {
            "date": summary["date"],
            "model": summary["model"],
            "verdict": verdict,
            "drift": drift,
        }

    @task
    def alert(summary: dict) -> dict:
        """Alert on `watch` / `act`, once per persisting condition (grouped in the alert log)."""
        from orchestration.notifiers import deliver, runbook_base, ui_base
        from pipelines.config import load_params
        from pipelines.monitoring.alerts import (
            decide_alert,
            levels_before,
            night_before_condition,
            read_alerts,
            verdict_alert,
        )
        from pipelines.monitoring.history import read_history

        params = load_params()
        log = params.workspace_path(params.monitoring.alerts_path)
        day = target_day()
        history = read_history(params.workspace_path(params.monitoring.reports_dir))
        clear = params.monitoring.page_clear_nights
        decision = decide_alert(
            read_alerts(log),
            day,
            summary["verdict"]["level"],
            summary["verdict"]["triggers"],
            params.monitoring.alert_repeat_days,
            night_before_condition(history, day),
            levels_before(history, day, clear),
            clear,
        )
        if not decision.send:  # a re-run of the night, or a condition already alerted
            return {"sent": False, "paged": False, "why": decision.why}
        page = f"{ui_base()}/monitoring/date={day.isoformat()}/index.html"
        record = deliver(
            verdict_alert(summary, page, runbook_base()), get_current_context(), page=decision.page
        )
        return {
            "sent": True,
            "paged": decision.page,
            "why": decision.why,
            "channels": record["channels"],
        }

    @task(outlets=[RETRAINING_REQUESTED], inlets=[RETRAINING_REQUESTED], trigger_rule="none_failed")
    def request_retraining(summary: dict):  # type: ignore[no-untyped-def]
        """The guard's decision for D; an event only when it requests (skipped otherwise)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from pipelines.config import load_params
        from pipelines.monitoring.history import read_history
        from pipelines.retraining.guard import decide_retraining
        from pipelines.retraining.request import already_requested, guard_inputs, record_decision

        params = load_params()
        context = get_current_context()
        active = context["ti"].get_dr_count(dag_id="training", states=["queued", "running"])
        past = context["inlet_events"][RETRAINING_REQUESTED].ascending(False).limit(100)
        event_days = tuple(str((event.extra or {}).get("day", "")) for event in past)
        history = read_history(params.workspace_path(params.monitoring.reports_dir))
        if already_requested(history, target_day(), event_days):
            raise AirflowSkipException(f"{target_day()} already requested a retraining")
        inputs = guard_inputs(params, target_day(), active > 0, event_days)
        decision = decide_retraining(inputs, params.retraining.guard)
        record_decision(params, decision)
        if not decision.request:
            raise AirflowSkipException("no retraining: " + "; ".join(decision.reasons))
        yield Metadata(RETRAINING_REQUESTED, decision.event_extra())
        return decision.as_dict()

    @task(pool="promotion")
    def judge_challenger(summary: dict) -> dict:
        """The `challenger`'s shadow nights judged with the promotion rules: promoted,
        retired with the reason, or left waiting (skipped when there is no challenger)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from pipelines.config import load_params
        from pipelines.monitoring.shadow_period import apply_shadow_verdict, judge_challenger

        params = load_params()
        verdict = judge_challenger(params, target_day())
        if verdict is None:
            raise AirflowSkipException("no challenger in shadow")
        outcome = apply_shadow_verdict(params, verdict)
        print(f"{outcome.action.upper()}: {verdict.summary}")
        if outcome.action == "retired":
            from pipelines.retraining.refusals import alert_on_refusals

            alert = alert_on_refusals(params, target_day())
            if alert is not None:
                print(f"ALERT: {alert['message']}")
        return outcome.as_dict()

    summary = monitor()
    wait_for_predictions() >> summary
    alert(summary)
    # the guard after the shadow verdict: a challenger still in shadow refuses a retraining
    judge_challenger(summary) >> request_retraining(summary)


monitoring()
