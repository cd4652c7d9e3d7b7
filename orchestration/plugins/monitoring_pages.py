"""Airflow plugin: the on-call pages inside the Airflow UI, with no separate server.

Mounts a small FastAPI app on the api-server at `/monitoring/`:
* `/monitoring/` and `/monitoring/date=D/index.html`: the pages `monitoring` writes
  (`monitoring.reports_dir`, a folder or s3://…, read through the same storage layer);
* `/monitoring/runbooks/<name>.md`: the runbooks of the deployed checkout;
* `/monitoring/data_docs/…`: the Great Expectations Data Docs (`gate.data_docs_dir`).
Adds *Browse → Monitoring* to the menu, and a "Monitoring page" link on the monitoring DAG's
task instances that opens the page of the run's day.

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


class MonitoringPageLink(BaseOperatorLink):
    """On the monitoring DAG's tasks: the page of the run's day."""

    name = "Monitoring page"

    def get_link(self, operator, *, ti_key):  # type: ignore[no-untyped-def]
        if ti_key.dag_id != "monitoring":
            return ""
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        from pipelines.config import load_params

        with create_session() as session:
            run = (
                session.query(DagRun)
                .filter_by(dag_id=ti_key.dag_id, run_id=ti_key.run_id)
                .one_or_none()
            )
        if run is None or run.data_interval_end is None:
            return f"{PREFIX}/"
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(load_params().features.timezone)
        day = run.data_interval_end.astimezone(zone).date()
        return f"{PREFIX}/date={day.isoformat()}/index.html"


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
    global_operator_extra_links = [MonitoringPageLink()]
