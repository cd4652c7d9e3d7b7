"""Alerts from Airflow: a task failure anywhere, and a `watch` / `act` monitoring verdict.

Every alert is appended to the alert log (`monitoring.alerts_path`, JSON lines): the default
channel, and the record that groups repeats. Slack (connection `mlops_slack`, an incoming
webhook URL as its host or password) and e-mail (connection `mlops_email`, SMTP; recipients
in its extra `{"to": [...]}`) are used when their connection exists."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from airflow.sdk import BaseNotifier

from orchestration.clock import day_of, settings

SLACK_CONNECTION, EMAIL_CONNECTION = "mlops_slack", "mlops_email"
RUNBOOK_BY_DAG = {
    "ingestion": "data-gate.md",
    "batch_scoring": "batch-scoring.md",
    "training": "training.md",
    "monitoring": "monitoring.md",
}


def ui_base() -> str:
    from airflow.configuration import conf

    return conf.get("api", "base_url", fallback="http://127.0.0.1:8080").rstrip("/")


def runbook_base() -> str:
    return f"{ui_base()}/monitoring/runbooks"


def _connection(conn_id: str) -> Any | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _slack(connection: Any, message: str) -> None:
    url = connection.password or connection.host
    if not str(url).startswith(("https://", "http://")):
        raise ValueError("the Slack connection's webhook must be an http(s) URL")
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": message}).encode(),
        headers={"Content-Type": "application/json"},
    )
    # bandit B310 (file:// or custom schemes): the scheme is checked above.
    urllib.request.urlopen(request, timeout=10).close()  # nosec B310


def _email(connection: Any, record: dict[str, Any], context: Any) -> None:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    to = (connection.extra_dejson or {}).get("to") or []
    SmtpNotifier(
        to=to,
        smtp_conn_id=EMAIL_CONNECTION,
        subject=f"[mlops] {record['kind']} {record.get('date', '')}: "
        f"{record.get('level', 'failure')}",
        html_content=f"<p>{record['message']}</p>",
    ).notify(context)


def deliver(record: dict[str, Any], context: Any = None, page: bool = True) -> dict[str, Any]:
    """The alert log always; Slack and e-mail when configured and `page` (a `watch` night, or an
    `act` episode's later nights, are only logged: the alert budget). Returns the record."""
    from pipelines.monitoring.alerts import append_alert

    params = settings()
    channels = ["log"]
    slack, email = (
        (_connection(SLACK_CONNECTION), _connection(EMAIL_CONNECTION)) if page else (None, None)
    )
    if slack is not None:
        _slack(slack, record["message"])
        channels.append("slack")
    if email is not None and context is not None:
        _email(email, record, context)
        channels.append("email")
    return append_alert(
        params.workspace_path(params.monitoring.alerts_path),
        {**record, "channels": channels, "paged": page},
    )


class TaskFailureNotifier(BaseNotifier):
    """`on_failure_callback` of every task: who failed, for which day, why, which runbook."""

    def notify(self, context: Any) -> None:
        ti = context["ti"]
        dag_id = ti.dag_id
        runbook = f"{runbook_base()}/{RUNBOOK_BY_DAG.get(dag_id, 'monitoring.md')}"
        error = str(context.get("exception") or "")[:600]
        try:
            day = day_of(context).isoformat()
        except Exception:  # a run without a data interval (manual, asset-triggered)
            day = ""
        deliver(
            {
                "kind": "task_failure",
                "date": day,
                "dag_id": dag_id,
                "task_id": ti.task_id,
                "run_id": context.get("run_id"),
                "try_number": getattr(ti, "try_number", None),
                "error": error,
                "runbook": runbook,
                "message": f"[FAILED] {dag_id}.{ti.task_id} for {day or context.get('run_id')}: "
                f"{error or 'see the task log'}. Runbook: {runbook}",
            },
            context,
        )
