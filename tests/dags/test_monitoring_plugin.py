"""The on-call pages inside the Airflow UI: the plugin loads, serves the pages, the runbooks
and the Data Docs from their configured locations, and refuses paths outside them."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess

import pytest

from tests.conftest import REPO_ROOT
from tests.support.local_server import VENV_BIN

PLUGIN = REPO_ROOT / "orchestration" / "plugins" / "monitoring_pages.py"


@pytest.fixture()
def client(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    reports, docs = tmp_path / "monitoring", tmp_path / "docs"
    (reports / "date=2013-03-05").mkdir(parents=True)
    (reports / "date=2013-03-05" / "index.html").write_text("<h1>page of 2013-03-05</h1>")
    (reports / "index.html").write_text("<h1>all dates</h1>")
    docs.mkdir()
    (docs / "index.html").write_text("<h1>data docs</h1>")
    monkeypatch.setenv("MLOPS_MONITORING_REPORTS", str(reports))
    monkeypatch.setenv("MLOPS_DATA_DOCS", str(docs))
    spec = importlib.util.spec_from_file_location("monitoring_pages", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    anonymous = TestClient(module.reports_app)
    assert anonymous.get("/").status_code == 401, "the pages must ask for Airflow's login"
    assert anonymous.get("/runbooks/drift-alert.md").status_code == 401
    assert anonymous.get("/data_docs/index.html").status_code == 401
    module.reports_app.dependency_overrides[module.reader_access] = lambda: None  # logged in
    return TestClient(module.reports_app)


def test_the_plugin_serves_pages_runbooks_and_data_docs(client):
    assert "all dates" in client.get("/").text
    assert "page of 2013-03-05" in client.get("/date=2013-03-05/index.html").text
    assert "page of 2013-03-05" in client.get("/date=2013-03-05").text  # redirected
    runbook = client.get("/runbooks/drift-alert.md")
    assert runbook.status_code == 200 and "Runbook: drift alert" in runbook.text
    assert "data docs" in client.get("/data_docs/index.html").text


def test_the_plugin_refuses_paths_outside_its_folders(client):
    assert client.get("/date=2013-03-06/index.html").status_code == 404
    assert client.get("/runbooks/..%2F..%2Fparams.yaml").status_code == 404
    assert client.get("/..%2Fparams.yaml").status_code == 404


def test_airflow_loads_the_plugin_from_the_configured_folder():
    listed = subprocess.run(
        [f"{VENV_BIN}/airflow", "plugins", "-o", "json"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    plugins = {p["name"]: p for p in json.loads(listed.stdout[listed.stdout.index("[") :])}
    loaded = plugins["mlops_monitoring"]
    assert loaded["fastapi_apps"][0]["url_prefix"] == "/monitoring"
    assert loaded["external_views"][0]["href"] == "/monitoring/"
