"""The links a task instance offers in the Airflow UI (its extra links): the MLflow run it logged
or used, the on-call page of its day, the Data Docs of the batch it gated.

A task pushes the URL under a key (`push_link`, in the task); the plugin's links read it back
(`orchestration/plugins/monitoring_pages.py`). The paths are built here, as plain functions."""

from __future__ import annotations

from datetime import date

from orchestration.clock import run_day

#: XCom keys the tasks push and the links read.
MLFLOW_RUN = "mlflow_run_url"
DATA_DOCS = "data_docs_url"
ONCALL_PAGE = "oncall_page_url"
#: Where the monitoring plugin serves the pages and the Data Docs.
PAGES_PREFIX = "/monitoring"


def oncall_page_path(day: date) -> str:
    return f"{PAGES_PREFIX}/date={day.isoformat()}/index.html"


def oncall_link(pushed: str | None, interval_end: date | None, chosen: str | date | None) -> str:
    """A task's "Monitoring page": the page it pushed (a retraining's requested day), else the
    page of its run's day (the form's `date` on a manual run, else the interval's end), else
    the pages' index."""
    if pushed:
        return pushed
    if interval_end is None and not chosen:
        return f"{PAGES_PREFIX}/"
    return oncall_page_path(run_day(interval_end or date.min, chosen))


def data_docs_path(page_uri: str | None, docs_root: str) -> str:
    """The plugin's path of a Data Docs page the gate published under `docs_root` (its index
    when the page is unknown or elsewhere)."""
    root = docs_root.rstrip("/") + "/"
    if page_uri:
        local = page_uri.removeprefix("file://")
        if local.startswith(root):
            return f"{PAGES_PREFIX}/data_docs/{local[len(root) :]}"
    return f"{PAGES_PREFIX}/data_docs/index.html"


def push_link(key: str, url: str | None) -> None:
    """From inside a task: offer `url` under the link that reads `key`."""
    if not url:
        return
    from airflow.sdk import get_current_context

    get_current_context()["ti"].xcom_push(key=key, value=url)
