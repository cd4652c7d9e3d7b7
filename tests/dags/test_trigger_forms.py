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


def test_target_day_is_the_forms_date_on_a_manual_run_and_the_intervals_otherwise():
    """`day_of`, what `target_day()` reads from the task's context (midnight UTC of June 3 is
    still June 2 in New York)."""
    import pendulum

    from orchestration.clock import day_of

    end = pendulum.datetime(2013, 6, 3, 4, 0, tz="UTC")  # local midnight of June 3
    assert day_of({"params": {"date": None}, "data_interval_end": end}) == date(2013, 6, 3)
    assert day_of({"params": {}, "data_interval_end": end.subtract(hours=1)}) == date(2013, 6, 2)
    manual = {"params": {"date": "2013-05-20"}, "data_interval_end": end}
    assert day_of(manual) == date(2013, 5, 20)


def test_form_values_drop_the_empty_fields_and_conf_wins():
    from orchestration.schedule import form_values

    asked = form_values(
        {"reason": "", "as_of": None, "holdout_days": 7, "overrides": {}}, {"as_of": "2013-06-01"}
    )
    assert asked == {"holdout_days": 7, "as_of": "2013-06-01"}
    assert form_values(None, None) == {}


@pytest.mark.parametrize(
    ("run_type", "asked", "refused"),
    [
        ("manual", {}, True),
        ("DagRunType.MANUAL", {"reason": "  too short "}, True),
        ("manual", {"reason": "compare shallower trees"}, False),
        ("scheduled", {}, False),
        ("asset_triggered", {}, False),  # its reason is the event's
    ],
)
def test_a_manual_training_run_must_say_why(run_type, asked, refused):
    from orchestration.schedule import missing_reason

    problem = missing_reason(run_type, asked)
    assert (problem is not None) is refused
    if refused:
        assert "reason" in problem and "Trigger" in problem


def test_the_run_is_tagged_with_its_reason_and_overrides():
    from orchestration.schedule import request_tags

    asked = {"reason": "compare shallower trees", "overrides": {"train.seed": 1, "a.b": 2}}
    assert request_tags(asked) == {
        "run.reason": "compare shallower trees",
        "params.overrides": '{"a.b": 2, "train.seed": 1}',
    }
    assert request_tags({}) == {"run.reason": ""}  # no overrides: no tag, promotable


@pytest.mark.parametrize("dag_id", ["ingestion", "batch_scoring", "monitoring"])
def test_every_nightly_dag_has_a_day_field_empty_by_default(dagbag, dag_id):  # noqa: F811
    params = dagbag.dags[dag_id].params
    assert params["date"] is None  # a scheduled run validates and keeps its interval's day
    schema = params.get_param("date").schema
    assert schema["format"] == "date" and "null" in schema["type"]


def test_training_asks_for_a_reason_a_window_and_overrides(dagbag):  # noqa: F811
    params = dagbag.dags["training"].params
    assert params["reason"] is None and params["as_of"] is None and params["holdout_days"] is None
    assert params["overrides"] == {}
    assert params.get_param("as_of").schema["format"] == "date"
    assert params.get_param("overrides").schema["type"] == "object"
    params.validate()  # the defaults: what a scheduled or Asset-triggered run gets


def test_the_form_refuses_a_short_reason_and_overrides_that_are_not_an_object(dagbag):  # noqa: F811
    import copy

    from airflow.sdk.exceptions import ParamValidationError

    def validated(conf: dict) -> dict:  # what a trigger does with its conf (`deep_merge`)
        params = copy.deepcopy(dagbag.dags["training"].params)
        params.update(conf)
        return params.validate()

    asked = {"reason": "compare shallower trees", "overrides": {"train.seed": 1}}
    assert validated(asked)["overrides"] == {"train.seed": 1}
    for bad in ({"reason": "why"}, {"overrides": "train.seed=1"}):
        with pytest.raises(ParamValidationError):
            validated(bad)


def test_the_forms_overrides_reach_the_params_and_a_bad_key_is_named():
    """What every `training` task reads (`_run_params`): params.yaml with the form's overrides
    in the sections a run may change."""
    from orchestration.schedule import OVERRIDABLE_SECTIONS
    from pipelines.config import REPO_ROOT, OverrideError, load_params, with_overrides

    params = load_params(REPO_ROOT / "params.yaml")
    asked = {"train.hist_gradient_boosting.max_leaf_nodes": 15}
    overridden = with_overrides(params, asked, OVERRIDABLE_SECTIONS)
    assert overridden.train.hyperparameters["max_leaf_nodes"] == 15
    with pytest.raises(OverrideError, match="'train.hist_gradient_boosting.max_leafs'"):
        with_overrides(params, {"train.hist_gradient_boosting.max_leafs": 15}, OVERRIDABLE_SECTIONS)
    with pytest.raises(OverrideError, match="'promotion.log_path'.*outside"):
        with_overrides(params, {"promotion.log_path": "elsewhere.jsonl"}, OVERRIDABLE_SECTIONS)


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


def test_the_on_call_link_of_a_task_instance():
    """`MonitoringPageLink` for a task instance: what it pushed, else its run's day (the form's
    date on a manual run), else the pages' index."""
    from orchestration.links import oncall_link

    end = date(2013, 6, 3)
    assert oncall_link(None, end, None) == "/monitoring/date=2013-06-03/index.html"
    assert oncall_link(None, end, "2013-05-20") == "/monitoring/date=2013-05-20/index.html"
    assert oncall_link(None, None, "2013-05-20") == "/monitoring/date=2013-05-20/index.html"
    assert oncall_link(None, None, None) == "/monitoring/"
    pushed = "/monitoring/date=2013-06-01/index.html"  # training: the night that requested it
    assert oncall_link(pushed, end, None) == pushed


def test_the_plugin_offers_the_three_links_on_every_task():
    from airflow import plugins_manager

    names = {link.name for link in plugins_manager.get_global_operator_extra_links()}
    assert {"Monitoring page", "MLflow run", "Data Docs"} <= names
