"""The trigger forms of manual runs: a nightly DAG for a chosen day, `training` with a reason
and a window; a scheduled run asks for nothing and keeps its own day."""

from __future__ import annotations

from datetime import date

import pytest

from tests.dags.test_dag_integrity import dagbag  # noqa: F401  (the module's DagBag fixture)


def test_a_picked_date_is_the_runs_day_and_none_is_the_intervals():
    from orchestration.clock import run_day

    end = date(2013, 6, 3)
    assert run_day(end, None) == end and run_day(end, "") == end
    assert run_day(end, "2013-05-20") == date(2013, 5, 20)
    assert run_day(end, date(2013, 5, 21)) == date(2013, 5, 21)
    with pytest.raises(ValueError):
        run_day(end, "20 May")


def test_form_values_drop_the_empty_fields_and_conf_wins():
    from orchestration.schedule import form_values

    asked = form_values({"reason": "", "as_of": None, "holdout_days": 7}, {"as_of": "2013-06-01"})
    assert asked == {"holdout_days": 7, "as_of": "2013-06-01"}
    assert form_values(None, None) == {}


@pytest.mark.parametrize("dag_id", ["ingestion", "batch_scoring", "monitoring"])
def test_every_nightly_dag_has_a_day_field_empty_by_default(dagbag, dag_id):  # noqa: F811
    params = dagbag.dags[dag_id].params
    assert params["date"] is None  # a scheduled run validates and keeps its interval's day
    schema = params.get_param("date").schema
    assert schema["format"] == "date" and "null" in schema["type"]


def test_training_asks_for_a_reason_and_a_window(dagbag):  # noqa: F811
    params = dagbag.dags["training"].params
    assert params["reason"] == "" and params["as_of"] is None and params["holdout_days"] is None
    assert params.get_param("as_of").schema["format"] == "date"
    params.validate()  # the defaults: what a scheduled or Asset-triggered run gets


def test_the_window_form_reaches_the_trigger():
    """What `resolve_trigger` hands `training_trigger`: a form with a date is a moving window."""
    import yaml

    from orchestration.schedule import form_values
    from pipelines.config import REPO_ROOT, params_from_dict
    from pipelines.retraining.trigger import training_trigger

    params = params_from_dict(yaml.safe_load((REPO_ROOT / "params.yaml").read_text()), REPO_ROOT)
    form = {"reason": "schedule change", "as_of": "2013-06-10", "holdout_days": 10}
    trigger = training_trigger(params, [], form_values(form, None), None)
    assert trigger.kind == "manual" and trigger.window.as_of == date(2013, 6, 10)
    assert (trigger.window.end - trigger.window.holdout_start).days == 9
    empty = form_values({"reason": "", "as_of": None, "holdout_days": None}, None)
    assert training_trigger(params, [], empty, None).kind == "fixed"


def test_the_links_paths_the_on_call_page_and_the_data_docs():
    from orchestration.links import data_docs_path, oncall_page_path

    assert oncall_page_path(date(2013, 6, 3)) == "/monitoring/date=2013-06-03/index.html"
    root = "/srv/mlops/reports/data_docs"
    page = f"{root}/validations/scheduled_flights/2013-06-03/index.html"
    assert data_docs_path(page, root) == (
        "/monitoring/data_docs/validations/scheduled_flights/2013-06-03/index.html"
    )
    assert data_docs_path(f"file://{page}", root + "/").startswith("/monitoring/data_docs/valid")
    assert data_docs_path("s3://elsewhere/page.html", root) == "/monitoring/data_docs/index.html"
    assert data_docs_path(None, root) == "/monitoring/data_docs/index.html"


def test_the_plugin_offers_the_three_links_on_every_task():
    from airflow import plugins_manager

    names = {link.name for link in plugins_manager.get_global_operator_extra_links()}
    assert {"Monitoring page", "MLflow run", "Data Docs"} <= names
