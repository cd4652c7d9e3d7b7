from datetime import date

import pytest

from pipelines.config import load_params
from pipelines.training_window import TrainingWindow, fixed_window, moving_window


def test_a_moving_window_ends_the_day_before_its_day_and_holds_out_its_newest_days():
    policy = load_params().retraining
    window = moving_window(date(2013, 6, 1), policy)
    assert window.end == date(2013, 5, 31)
    assert (window.end - window.holdout_start).days + 1 == policy.holdout_days
    assert (window.end - window.train_start).days + 1 == policy.window_days
    assert window.name == "as_of=2013-06-01"
    assert TrainingWindow.from_dict(window.as_dict()) == window


def test_a_window_reaching_its_own_day_is_refused():
    with pytest.raises(ValueError, match="not before its day"):
        TrainingWindow(date(2013, 1, 1), date(2013, 2, 1), date(2013, 3, 1), as_of=date(2013, 3, 1))


def test_the_fixed_window_is_the_params_snapshot_and_holdout():
    params = load_params()
    window = fixed_window(params)
    assert (window.train_start, window.holdout_start, window.end) == (
        params.data.snapshot_start,
        params.train.holdout_start,
        params.data.snapshot_end,
    )
    assert window.name == "fixed" and window.as_of is None


def test_a_requested_retraining_trains_on_the_window_of_the_newest_event_and_says_why():
    from pipelines.retraining.trigger import training_trigger

    params = load_params()
    events = [
        {"day": "2013-06-20", "act_days": ["2013-06-18"], "triggers": ["a"], "reason": "old"},
        {
            "day": "2013-06-21",
            "act_days": ["2013-06-19", "2013-06-21"],
            "triggers": ["b"],
            "reason": "why",
        },
    ]
    trigger = training_trigger(params, events, {"as_of": "2013-01-01"}, None)
    assert trigger.kind == "retraining_requested"
    assert trigger.window == moving_window(date(2013, 6, 21), params.retraining)
    assert trigger.tags()["retraining.reason"] == "why"
    assert trigger.tags()["retraining.act_days"] == "2013-06-19,2013-06-21"


def test_conf_fallback_and_plain_manual_runs_pick_their_windows():
    from pipelines.retraining.trigger import training_trigger

    params = load_params()
    manual = training_trigger(params, [], {"as_of": "2013-05-01"}, None)
    assert manual.kind == "manual" and manual.window.as_of == date(2013, 5, 1)
    fallback = training_trigger(params, [], {}, date(2013, 7, 1))
    assert fallback.kind == "fallback" and fallback.window.end == date(2013, 6, 30)
    plain = training_trigger(params, [], None, None)
    assert plain.kind == "fixed" and plain.window == fixed_window(params)
    assert plain.tags() == {"retraining.trigger": "fixed"}


def test_a_window_starts_no_earlier_than_the_first_day_of_data():
    policy = load_params().retraining
    window = moving_window(date(2013, 3, 1), policy)
    assert window.train_start == policy.earliest_day
    assert window.holdout_start == date(2013, 2, 28) - __import__("datetime").timedelta(
        days=policy.holdout_days - 1
    )


def test_a_first_model_holds_out_at_most_a_third_of_its_days_and_a_manual_run_can_match_it():
    from pipelines.retraining.trigger import training_trigger
    from pipelines.training_window import first_model_window

    params = load_params()
    first = first_model_window(date(2013, 1, 1), date(2013, 3, 2), params.retraining)
    assert (first.train_start, first.holdout_start, first.end) == (
        date(2013, 1, 1),
        date(2013, 2, 10),  # 20 of the 60 days, not the 21 of `holdout_days`
        date(2013, 3, 1),
    )
    long = first_model_window(date(2013, 1, 1), date(2013, 6, 1), params.retraining)
    assert (long.end - long.holdout_start).days + 1 == params.retraining.holdout_days
    manual = training_trigger(params, [], {"as_of": "2013-03-02", "holdout_days": 20}, None)
    assert manual.window == first
