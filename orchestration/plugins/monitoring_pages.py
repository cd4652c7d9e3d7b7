"""Airflow plugin: the on-call pages inside the Airflow UI, with no separate server.

Mounts a small FastAPI app on the api-server at `/monitoring/`:
* `/monitoring/` and `/monitoring/date=D/index.html`: the pages `monitoring` writes
  (`monitoring.reports_dir`, a folder or s3://…, read through the same storage layer);
* `/monitoring/runbooks/<name>.md`: the runbooks of the deployed checkout;
* `/monitoring/data_docs/…`: the Great Expectations Data Docs (`gate.data_docs_dir`).
Adds *Browse → Monitoring* to the menu, and three extra links on task instances: "Monitoring
page" (the nightly DAGs: the on-call page of the run's day, the form's day on a manual run;
`training`: the day that requested the retraining),
"MLflow run" (the run a task logged or used) and "Data Docs" (the batch a gate task validated),
the last two read from what the task pushed (`orchestration/links.py`).

Airflow mounts a plugin's app without its own authentication, so the app asks for it: the same
login as the UI (its session cookie, or a bearer token) and read access to DAGs (a viewer may
read the pages; anonymous requests get 401). The Data Docs show sample rows of rejected data.

`AIRFLOW__CORE__PLUGINS_FOLDER` points here (scripts/env.sh, docker-compose.yml)."""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from airflow.api_fastapi.core_api.security import requires_access_dag
from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import RedirectResponse, Response

PREFIX = "/monitoring"
#: Logged in, and allowed to read DAGs: what the UI's own pages ask of a viewer.
reader_access = requires_access_dag("GET")
reports_app = FastAPI(title="Monitoring pages", dependencies=[Depends(reader_access)])


def _safe(path: str) -> str:
    parts = PurePosixPath(path).parts
    if any(part in ("..", "") or part.startswith("/") for part in parts):
        raise HTTPException(404)
    return "/".join(parts)


def _serve(root: str, path: str) -> Response:
    from pipelines.storage import exists, filesystem, join_uri

    uri = join_uri(root, _safe(path))
    if not exists(uri):
        raise HTTPException(404, f"{path} not found")
    fs, local = filesystem(uri)
    if fs.isdir(local):
        uri = join_uri(uri, "index.html")
        if not exists(uri):
            raise HTTPException(404, f"{path} has no index.html")
        fs, local = filesystem(uri)
    with fs.open(local, "rb") as handle:
        body = handle.read()
    media = mimetypes.guess_type(uri)[0] or "application/octet-stream"
    if uri.endswith(".md"):
        media = "text/plain; charset=utf-8"
    return Response(body, media_type=media)


@reports_app.get("/")
def index() -> Response:
    return page("index.html")


@reports_app.get("/runbooks/{name}")
def runbook(name: str) -> Response:
    from pipelines.config import REPO_ROOT

    return _serve(str(REPO_ROOT / "runbooks"), name)


@reports_app.get("/data_docs/{path:path}")
def data_docs(path: str) -> Response:
    from pipelines.config import load_params

    params = load_params()
    return _serve(params.workspace_path(params.gate.data_docs_dir), path or "index.html")


@reports_app.get("/{path:path}")
def page(path: str) -> Response:
    from pipelines.config import load_params

    params = load_params()
    if path.rstrip("/").startswith("date=") and path.count("/") == 0:
        # relative, so it works under any mount: ".../date=D" -> "date=D/index.html"
        return RedirectResponse("index.html" if path.endswith("/") else f"{path}/index.html")
    return _serve(params.workspace_path(params.monitoring.reports_dir), path or "index.html")


def _xcom_link(ti_key, key: str) -> str:  # type: ignore[no-untyped-def]
    """The URL a task pushed under `key` (`orchestration.links.push_link`), or ""."""
    import json

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        value = session.execute(
            XComModel.get_many(
                key=key,
                run_id=ti_key.run_id,
                dag_ids=ti_key.dag_id,
                task_ids=ti_key.task_id,
                map_indexes=ti_key.map_index,
            ).with_only_columns(XComModel.value)
        ).scalar()
    if value is None:
        return ""
    try:  # stored as JSON text by some backends, as the decoded value by others
        value = json.loads(value)
    except (TypeError, ValueError):
        pass
    return value if isinstance(value, str) else ""


def _run_interval(ti_key):  # type: ignore[no-untyped-def]
    """The run's interval end as a local date and the day its form asked for (either None)."""
    from zoneinfo import ZoneInfo

    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from pipelines.config import load_params

    with create_session() as session:
        run = (
            session.query(DagRun)
            .filter_by(dag_id=ti_key.dag_id, run_id=ti_key.run_id)
            .one_or_none()
        )
        if run is None:
            return None, None
        chosen = (run.conf or {}).get("date")
        if run.data_interval_end is None:
            return None, chosen
        zone = ZoneInfo(load_params().features.timezone)
        return run.data_interval_end.astimezone(zone).date(), chosen


NIGHTLY_DAGS = ("ingestion", "batch_scoring", "monitoring")


class MonitoringPageLink(BaseOperatorLink):
    """The on-call page of the run's day (the nightly DAGs; the form's day on a manual run),
    or the page a task pushed (`training`'s `resolve_trigger`: the day that requested it)."""

    name = "Monitoring page"

    def get_link(self, operator, *, ti_key):  # type: ignore[no-untyped-def]
        from orchestration.links import ONCALL_PAGE, oncall_link

        pushed = _xcom_link(ti_key, ONCALL_PAGE)
        if pushed or ti_key.dag_id not in NIGHTLY_DAGS:
            return pushed
        return oncall_link(None, *_run_interval(ti_key))


class MlflowRunLink(BaseOperatorLink):
    """The MLflow run a task logged (training) or used (the pinned champion, the night's
    monitoring run)."""

    name = "MLflow run"

    def get_link(self, operator, *, ti_key):  # type: ignore[no-untyped-def]
        from orchestration.links import MLFLOW_RUN

        return _xcom_link(ti_key, MLFLOW_RUN)


class DataDocsLink(BaseOperatorLink):
    """The Great Expectations Data Docs of the batch a gate task validated (the index on
    the other tasks of `ingestion` and `training`)."""

    name = "Data Docs"

    def get_link(self, operator, *, ti_key):  # type: ignore[no-untyped-def]
        from orchestration.links import DATA_DOCS, data_docs_path

        pushed = _xcom_link(ti_key, DATA_DOCS)
        if pushed:
            return pushed
        if ti_key.dag_id in ("ingestion", "training"):
            return data_docs_path(None, "")
        return ""


class MonitoringPagesPlugin(AirflowPlugin):
    name = "mlops_monitoring"
    fastapi_apps = [{"app": reports_app, "url_prefix": PREFIX, "name": "Monitoring pages"}]
    external_views = [
        {
            "name": "Monitoring",
            "href": f"{PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "monitoring",
        }
    ]
    global_operator_extra_links = [MonitoringPageLink(), MlflowRunLink(), DataDocsLink()]
