from datetime import date, timedelta

import pytest

from pipelines.config import GuardPolicy
from pipelines.retraining.guard import GuardInputs, NightVerdict, decide_retraining

POLICY = GuardPolicy(
    act_nights=3, of_last_nights=5, cooldown_days=14, min_new_labelled_flights=5000
)
DAY = date(2013, 6, 20)


def nights(
    levels: str, triggers: tuple[str, ...] = ("important_drift",)
) -> tuple[NightVerdict, ...]:
    """`levels` oldest first, ending on DAY: a = act, w = watch, o = ok, - = not monitored."""
    names = {"a": "act", "w": "watch", "o": "ok"}
    first = DAY - timedelta(days=len(levels) - 1)
    return tuple(
        NightVerdict(first + timedelta(days=i), names[c], triggers if c == "a" else ())
        for i, c in enumerate(levels)
        if c != "-"
    )


def inputs(**changes) -> GuardInputs:
    base = dict(
        day=DAY,
        nights=nights("ooaaa"),
        last_retraining=DAY - timedelta(days=30),
        last_training_end=DAY - timedelta(days=31),
        new_labelled_flights=20000,
        training_active=False,
    )
    return GuardInputs(**{**base, **changes})


def test_persisting_act_with_new_labels_after_the_cooldown_requests_with_its_reasons():
    decision = decide_retraining(inputs(), POLICY)
    assert decision.request
    assert decision.act_days == ("2013-06-18", "2013-06-19", "2013-06-20")
    assert decision.triggers == ("important_drift",)
    extra = decision.event_extra()
    assert extra["day"] == "2013-06-20" and "3 of the last 5" in extra["reason"]


@pytest.mark.parametrize("levels", ["ooooa", "owwaa", "aaooo" + "oo", "a-a--", "wwwww"])
def test_act_on_fewer_than_k_of_the_last_n_nights_does_not_request(levels):
    decision = decide_retraining(inputs(nights=nights(levels)), POLICY)
    assert not decision.request
    assert any("`act` on" in reason for reason in decision.reasons)


def test_k_act_nights_spread_over_the_last_n_request():
    assert decide_retraining(inputs(nights=nights("aoaoa")), POLICY).request


def test_act_nights_older_than_n_days_do_not_count():
    decision = decide_retraining(inputs(nights=nights("aaaaoooo")), POLICY)
    assert not decision.request


def test_inside_the_cooldown_no_request_and_the_reason_says_when():
    decision = decide_retraining(inputs(last_retraining=DAY - timedelta(days=13)), POLICY)
    assert not decision.request
    assert decision.reasons == ("cooldown: last retraining 2013-06-07 was 13 days ago (< 14)",)
    assert decide_retraining(inputs(last_retraining=DAY - timedelta(days=14)), POLICY).request


def test_never_retrained_has_no_cooldown():
    assert decide_retraining(inputs(last_retraining=None, last_training_end=None), POLICY).request


def test_too_few_new_labelled_flights_refuse():
    decision = decide_retraining(inputs(new_labelled_flights=4999), POLICY)
    assert not decision.request
    assert "only 4999 labelled flights" in decision.reasons[0]
    assert decide_retraining(inputs(new_labelled_flights=5000), POLICY).request


def test_an_active_training_run_refuses():
    decision = decide_retraining(inputs(training_active=True), POLICY)
    assert not decision.request and decision.reasons == ("a training run is active",)


def test_a_challenger_in_its_shadow_period_refuses():
    decision = decide_retraining(inputs(challenger_in_shadow="7"), POLICY)
    assert not decision.request
    assert decision.reasons == ("challenger v7 is still in its shadow period",)


def test_every_failing_rule_is_said():
    decision = decide_retraining(
        inputs(
            nights=nights("ooooo"),
            last_retraining=DAY,
            new_labelled_flights=0,
            training_active=True,
        ),
        POLICY,
    )
    assert not decision.request and len(decision.reasons) == 4


def test_triggers_are_ordered_by_how_many_act_nights_raised_them():
    mixed = (
        NightVerdict(DAY - timedelta(days=2), "act", ("prediction_drift",)),
        NightVerdict(DAY - timedelta(days=1), "act", ("important_drift", "prediction_drift")),
        NightVerdict(DAY, "act", ("performance_drop", "prediction_drift")),
    )
    decision = decide_retraining(inputs(nights=mixed), POLICY)
    assert decision.triggers == ("prediction_drift", "important_drift", "performance_drop")


def test_the_policy_refuses_k_above_n():
    with pytest.raises(ValueError):
        GuardPolicy(act_nights=6, of_last_nights=5, cooldown_days=1, min_new_labelled_flights=0)


def test_the_window_is_exactly_n_nights():
    """2 of the last 5 nights are `act` (one more just outside): refused; one day wider would
    count 3."""
    assert not decide_retraining(inputs(nights=nights("aoooaa")), POLICY).request


def test_a_night_that_already_requested_does_not_request_again():
    import pandas as pd

    from pipelines.retraining.request import already_requested

    history = pd.DataFrame(
        {"date": ["2013-06-19", "2013-06-20"], "retraining": ["declined", "requested"]}
    )
    assert already_requested(history, DAY, ())
    assert not already_requested(history.iloc[:1], DAY, ())
    assert already_requested(history.iloc[:1], DAY, ("2013-06-20",))
