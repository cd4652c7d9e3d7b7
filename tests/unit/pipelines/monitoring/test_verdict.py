"""The nightly verdict on constructed signals: each branch on its own, then their mix."""

from __future__ import annotations

import dataclasses

import pytest

from pipelines.monitoring.drift import SCORE_COLUMN
from pipelines.monitoring.verdict import (
    ACT,
    OK,
    WATCH,
    ObservedWindow,
    Signals,
    decide_verdict,
    important_features,
)
from tests.factories import verdict_policy

POLICY = verdict_policy()
#: The committed policy with the performance drop paging too (how the drop's own logic is tested)
PAGING_DROP = dataclasses.replace(POLICY, act_triggers=(*POLICY.act_triggers, "performance_drop"))
HOLDOUT = 0.75
HEALTHY = ObservedWindow(roc_auc=0.75, low=0.73, high=0.77, days=7, rows=5000)


def _signals(**overrides) -> Signals:
    values = dict(
        drifted=(),
        important=("distance", "dep_hour"),
        rows=1000,
        min_rows=100,
        holdout_roc_auc=HOLDOUT,
        estimated_roc_auc=HOLDOUT,
        observed=HEALTHY,
        labels_missing=(),
    )
    values.update(overrides)
    return Signals(**values)


def test_no_signal_is_ok():
    verdict = decide_verdict(_signals(), POLICY)
    assert verdict.level == OK
    assert verdict.reasons == ("no signal",)
    assert verdict.triggers == ()


def test_drift_on_an_important_feature_is_watch_until_it_is_severe():
    """Drift says something moved, not that the model is harmed: `watch`, named."""
    verdict = decide_verdict(_signals(drifted=("dep_hour",)), POLICY)
    assert verdict.level == WATCH
    assert verdict.triggers == ("important_drift_mild",)
    assert "dep_hour" in verdict.reasons[0]


def test_severe_drift_on_an_important_feature_is_act():
    verdict = decide_verdict(_signals(drifted=("dep_hour",), severe=("dep_hour",)), POLICY)
    assert verdict.level == ACT
    assert verdict.triggers == ("important_drift",)
    assert "dep_hour" in verdict.reasons[0] and "severe" in verdict.reasons[0]


def test_severe_drift_on_a_minor_column_is_act_and_named_whatever_its_importance():
    verdict = decide_verdict(_signals(drifted=("wx_visib",), severe=("wx_visib",)), POLICY)
    assert verdict.level == ACT
    assert verdict.triggers == ("severe_drift",)
    assert "wx_visib" in verdict.reasons[0]


def test_a_column_out_of_the_reference_range_is_watch_and_named():
    verdict = decide_verdict(_signals(out_of_range=("wx_temp",)), POLICY)
    assert verdict.level == WATCH
    assert verdict.triggers == ("out_of_range",)
    assert "wx_temp" in verdict.reasons[0]


def test_performance_is_held_to_the_estimate_on_the_same_flights_not_the_holdout():
    """A harder season (the scores themselves predict 0.68) is no drop at 0.68; the same
    observed figure under a bar of 0.75 is; the holdout reference keeps the old behaviour."""
    harder = ObservedWindow(0.68, 0.66, 0.70, days=7, rows=5000, expected_roc_auc=0.685)
    assert decide_verdict(_signals(observed=harder), PAGING_DROP).level == OK
    broken = ObservedWindow(0.68, 0.66, 0.70, days=7, rows=5000, expected_roc_auc=0.75)
    verdict = decide_verdict(_signals(observed=broken), PAGING_DROP)
    assert verdict.level == ACT and verdict.triggers == ("performance_drop",)
    assert "estimate on the same flights 0.750" in verdict.reasons[0]
    holdout_bar = dataclasses.replace(PAGING_DROP, performance_reference="holdout")
    assert decide_verdict(_signals(observed=harder), holdout_bar).level == ACT


def test_performance_is_not_judged_on_fewer_labelled_days_than_the_minimum():
    one_day = ObservedWindow(0.60, 0.55, 0.65, days=POLICY.min_labelled_days - 1, rows=900)
    verdict = decide_verdict(_signals(observed=one_day), PAGING_DROP)
    assert verdict.level == OK
    assert "performance pending" in verdict.reasons[0]
    enough = dataclasses.replace(one_day, days=POLICY.min_labelled_days)
    assert decide_verdict(_signals(observed=enough), PAGING_DROP).level == ACT


def test_the_committed_policy_logs_a_drop_as_watch_and_pages_only_its_act_triggers():
    """Which triggers page is a measured choice (`act_triggers`): the drop is named, not paged."""
    dropped = ObservedWindow(roc_auc=0.66, low=0.64, high=0.68, days=7, rows=5000)
    verdict = decide_verdict(_signals(observed=dropped), POLICY)
    assert verdict.level == WATCH and verdict.triggers == ("performance_drop",)
    assert "performance_drop" not in POLICY.act_triggers


def test_a_trigger_that_cannot_page_is_refused_in_act_triggers():
    with pytest.raises(ValueError, match="labels_late"):
        dataclasses.replace(POLICY, act_triggers=("labels_late",))


def test_an_unknown_performance_reference_is_refused():
    with pytest.raises(ValueError, match="performance_reference"):
        dataclasses.replace(POLICY, performance_reference="last_year")


def test_drift_of_the_score_column_is_act_prediction_drift():
    verdict = decide_verdict(_signals(drifted=(SCORE_COLUMN,)), POLICY)
    assert verdict.level == ACT
    assert verdict.triggers == ("prediction_drift",)


def test_score_column_does_not_count_as_a_minor_feature():
    verdict = decide_verdict(_signals(drifted=(SCORE_COLUMN, "wind_speed")), POLICY)
    assert verdict.triggers == ("prediction_drift",)


def test_fewer_minor_drifted_columns_than_the_minimum_is_ok():
    verdict = decide_verdict(_signals(drifted=("wind_speed",)), POLICY)
    assert verdict.level == OK
    assert verdict.triggers == ()


@pytest.mark.parametrize("minimum", [2, 3])
def test_minor_drift_on_the_minimum_number_of_columns_is_act(minimum):
    policy = dataclasses.replace(POLICY, minor_drift_min_columns=minimum)
    columns = ("wind_speed", "visibility", "precipitation")[:minimum]
    below = decide_verdict(_signals(drifted=columns[:-1]), policy)
    at = decide_verdict(_signals(drifted=columns), policy)
    assert below.level == OK
    assert at.level == ACT  # committed: minor drift on enough columns foretold a useful retraining
    assert at.triggers == ("minor_drift",)
    assert all(c in at.reasons[0] for c in columns)


def test_too_few_rows_is_watch_and_drift_is_not_judged():
    signals = _signals(rows=99, drifted=("distance", SCORE_COLUMN, "wind_speed", "visibility"))
    verdict = decide_verdict(signals, POLICY)
    assert verdict.level == WATCH
    assert verdict.triggers == ("too_few_rows",)
    assert "drift not judged" in verdict.reasons[0]


def test_exactly_min_rows_is_judged():
    verdict = decide_verdict(_signals(rows=100, drifted=("distance",)), POLICY)
    assert verdict.triggers == ("important_drift_mild",)


def test_window_interval_entirely_below_the_holdout_is_act_performance_drop():
    observed = ObservedWindow(roc_auc=0.70, low=0.68, high=0.72, days=7, rows=5000)
    verdict = decide_verdict(_signals(observed=observed), PAGING_DROP)
    assert verdict.level == ACT
    assert verdict.triggers == ("performance_drop",)


def test_drop_whose_interval_includes_the_holdout_is_watch_performance_dip():
    observed = ObservedWindow(roc_auc=0.72, low=0.69, high=0.76, days=3, rows=800)
    verdict = decide_verdict(_signals(observed=observed), POLICY)
    assert verdict.level == WATCH
    assert verdict.triggers == ("performance_dip",)


def test_interval_below_the_holdout_but_point_within_tolerance_is_ok():
    """A tight interval just under the holdout is no drop: the point must be past the tolerance."""
    observed = ObservedWindow(roc_auc=0.74, low=0.735, high=0.745, days=7, rows=90000)
    verdict = decide_verdict(_signals(observed=observed), POLICY)
    assert verdict.level == OK
    assert verdict.triggers == ()


def test_estimate_below_the_holdout_by_more_than_its_tolerance_is_watch():
    verdict = decide_verdict(_signals(estimated_roc_auc=0.71), POLICY)
    assert verdict.level == WATCH
    assert verdict.triggers == ("estimate_drop",)


def test_estimate_within_tolerance_is_ok():
    verdict = decide_verdict(_signals(estimated_roc_auc=0.73), POLICY)
    assert verdict.level == OK
    assert verdict.triggers == ()


NAN = float("nan")


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"estimated_roc_auc": None}, "estimated_roc_auc"),
        ({"estimated_roc_auc": NAN}, "estimated_roc_auc"),
        ({"holdout_roc_auc": NAN}, "holdout_roc_auc"),
        ({"observed": ObservedWindow(NAN, NAN, NAN, 7, 5000)}, "observed roc_auc"),
        ({"observed": ObservedWindow(0.70, NAN, 0.72, 7, 5000)}, "observed low"),
        ({"invalid_inputs": ("distance",)}, "drift score of distance"),
    ],
)
def test_a_nan_or_missing_input_is_watch_and_named_never_ok(overrides, named):
    """A NaN compares false with everything: unguarded, it would read `ok`."""
    verdict = decide_verdict(_signals(**overrides), POLICY)
    assert verdict.level == WATCH
    assert verdict.triggers == ("input_invalid",)
    assert named in verdict.reasons[0]


def test_a_nan_input_does_not_hide_a_real_drop_judged_on_the_others():
    dropped = ObservedWindow(roc_auc=0.66, low=0.64, high=0.68, days=7, rows=5000)
    verdict = decide_verdict(_signals(estimated_roc_auc=NAN, observed=dropped), PAGING_DROP)
    assert verdict.level == ACT
    assert verdict.triggers == ("performance_drop", "input_invalid")


def test_a_feature_missing_tonight_is_its_own_trigger():
    verdict = decide_verdict(_signals(missing_features=("wx_temp", "wx_dewp")), POLICY)
    assert verdict.level == WATCH
    assert verdict.triggers == ("feature_missing",)
    assert "wx_temp, wx_dewp" in verdict.reasons[0]


def test_the_verdict_says_which_version_it_judged_and_since_when():
    dropped = ObservedWindow(roc_auc=0.66, low=0.64, high=0.68, days=2, rows=1800)
    verdict = decide_verdict(
        _signals(observed=dropped, version="4", judged_since="2013-05-02"), POLICY
    )
    assert (verdict.version, verdict.judged_since) == ("4", "2013-05-02")
    assert "v4 since 2013-05-02" in verdict.reasons[0]


def test_no_labelled_window_is_ok_with_performance_pending():
    verdict = decide_verdict(_signals(observed=None), POLICY)
    assert verdict.level == OK
    assert verdict.triggers == ()
    assert any("pending" in r for r in verdict.reasons)


def test_labels_missing_for_fewer_than_the_late_days_are_pending():
    missing = ("2024-03-03", "2024-03-04")
    verdict = decide_verdict(_signals(labels_missing=missing), POLICY)
    assert verdict.level == OK
    assert verdict.triggers == ()
    assert "labels pending for 2024-03-03, 2024-03-04" in verdict.reasons


def test_labels_missing_for_the_late_days_is_watch_labels_late():
    missing = ("2024-03-02", "2024-03-03", "2024-03-04")
    verdict = decide_verdict(_signals(labels_missing=missing), POLICY)
    assert verdict.level == WATCH
    assert verdict.triggers == ("labels_late",)
    assert "3 days" in verdict.reasons[0]


def test_worst_level_wins_and_triggers_come_worst_first():
    signals = _signals(
        drifted=("distance",),
        estimated_roc_auc=0.70,
        labels_missing=("2024-03-02", "2024-03-03", "2024-03-04"),
    )
    verdict = decide_verdict(dataclasses.replace(signals, severe=("distance",)), POLICY)
    assert verdict.level == ACT
    assert verdict.triggers == ("important_drift", "estimate_drop", "labels_late")  # worst first


def test_reasons_are_ordered_worst_first():
    """`too_few_rows` (watch) is found before the performance drop (act) but is said after it;
    the pending note (ok) is found before `labels_late` (watch) but is said last."""
    drop = ObservedWindow(roc_auc=0.70, low=0.68, high=0.72, days=7, rows=5000)
    verdict = decide_verdict(_signals(rows=10, observed=drop), PAGING_DROP)
    assert verdict.reasons[0].startswith("ROC AUC 0.700")
    assert verdict.reasons[1].startswith("only 10 scored rows")

    late = ("2024-03-02", "2024-03-03", "2024-03-04")
    verdict = decide_verdict(_signals(observed=None, labels_missing=late), POLICY)
    assert verdict.level == WATCH
    assert verdict.reasons[0].startswith("labels missing")
    assert "pending" in verdict.reasons[-1]


def test_important_features_are_the_top_positive_importances():
    importance = {
        "distance": 0.3,
        "carrier": 0.0,
        "visibility": -0.1,
        "dep_hour": 0.5,
        "wind": 0.01,
    }
    assert important_features(importance, 3) == ("dep_hour", "distance", "wind")
    assert important_features(importance, 1) == ("dep_hour",)
    assert important_features(importance, 10) == ("dep_hour", "distance", "wind")


def test_every_trigger_the_verdict_can_raise_has_a_runbook():
    import inspect
    import re

    from pipelines.config import REPO_ROOT
    from pipelines.monitoring import verdict
    from pipelines.monitoring.alerts import RUNBOOK_BY_TRIGGER

    raised = set(re.findall(r'\(\s*(?:WATCH|ACT),\s*"(\w+)"', inspect.getsource(verdict)))
    assert {"feature_missing", "input_invalid", "performance_drop", "labels_late"} <= raised
    assert raised <= set(RUNBOOK_BY_TRIGGER), raised - set(RUNBOOK_BY_TRIGGER)
    for trigger in raised:
        assert (REPO_ROOT / "runbooks" / RUNBOOK_BY_TRIGGER[trigger]).exists()


def test_a_model_whose_data_is_older_than_the_limit_is_watch_and_says_since_when():
    limit = POLICY.max_model_age_days
    fresh = decide_verdict(
        _signals(data_end="2013-03-01", model_age_days=limit, version="4"), POLICY
    )
    assert fresh.level == OK
    stale = decide_verdict(
        _signals(data_end="2013-03-01", model_age_days=limit + 1, version="4"), POLICY
    )
    assert stale.level == WATCH and stale.triggers == ("model_stale",)
    assert "2013-03-01" in stale.reasons[0] and f"{limit + 1} days" in stale.reasons[0]
    unknown = decide_verdict(_signals(), POLICY)  # a reference from before ages were recorded
    assert "model_stale" not in unknown.triggers


def test_inputs_served_unlike_the_batch_are_watch_and_named():
    verdict = decide_verdict(_signals(serving_skew=("wx_temp", "origin_hour_flights")), POLICY)
    assert verdict.level == WATCH and verdict.triggers == ("serving_skew",)
    assert "wx_temp, origin_hour_flights" in verdict.reasons[0]
