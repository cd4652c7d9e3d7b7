"""Thresholds chosen before the cut: a night's verdict rebuilt from its row under any candidate,
the choice against the benefit, the guard's rule replayed over a policy's verdicts."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta

import pandas as pd

from pipelines.config import GuardPolicy
from pipelines.monitoring.judge import verdict_from_record
from pipelines.replay.thresholds import (
    choose_guard,
    choose_thresholds,
    guard_requests,
)
from tests.factories import repository_params

PARAMS = repository_params()


def _night(day: str, ratios: dict[str, float], shares: dict[str, float], **extra) -> dict:
    return {
        "date": day,
        "policy": "frozen",
        "version": 1,
        "judged_since": "2013-03-01",
        "rows": 900,
        "drift_ratios": json.dumps(ratios),
        "important": "dep_hour,carrier",
        "missing_features": "",
        "invalid_inputs": "",
        "out_of_range_shares": json.dumps(
            {"0.25": shares, "0.5": shares, "1": {c: s / 2 for c, s in shares.items()}}
        ),
        "holdout_roc_auc": 0.65,
        "estimated_window_roc_auc": 0.65,
        "observed_window_roc_auc": None,
        "observed_low": None,
        "observed_high": None,
        "observed_days": 0,
        "expected_observed_roc_auc": None,
        "labels_missing": "",
        **extra,
    }


def test_a_night_is_judged_by_decide_verdict_under_each_candidate_threshold():
    night = _night("2013-06-01", {"dep_hour": 2.5, "distance": 1.2}, {"wx_temp": 0.07})
    policy = dataclasses.replace(
        PARAMS.monitoring.verdict,
        severe_drift_factor=2.0,
        out_of_range_share=0.05,
        out_of_range_margin=0.5,
    )
    verdict = verdict_from_record(night, policy, 100)
    assert {"important_drift", "out_of_range"} <= set(verdict.triggers)
    assert "minor_drift" not in verdict.triggers  # one minor column (distance) < 2
    stricter = dataclasses.replace(policy, severe_drift_factor=3.0, out_of_range_margin=1.0)
    verdict = verdict_from_record(night, stricter, 100)
    assert "important_drift_mild" in verdict.triggers
    assert not {"important_drift", "out_of_range"} & set(verdict.triggers)


def _year(helpful_ratio: float, useless_ratio: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every night from April to September: on helpful nights `dep_hour` drifts to
    `helpful_ratio` × its threshold, on the others to `useless_ratio` ×."""
    first = date(2013, 4, 1)
    days = [(first + timedelta(days=i)).isoformat() for i in range(180)]
    helps = [i % 21 == 0 for i in range(180)]  # 1.4 a month: within the page budget
    nights = pd.DataFrame(
        [
            _night(d, {"dep_hour": helpful_ratio if h else useless_ratio}, {})
            for d, h in zip(days, helps, strict=True)
        ]
    )
    benefits = pd.DataFrame(
        {
            "day": days,
            "policy": "frozen",
            "helps": helps,
            "roc_auc_difference": [0.02 if h else -0.01 for h in helps],
        }
    )
    return nights, benefits


def test_the_severe_factor_that_separates_helpful_nights_is_chosen_before_the_cut():
    nights, benefits = _year(helpful_ratio=2.5, useless_ratio=1.6)
    choice = choose_thresholds(nights, benefits, PARAMS, "2013-04-01")
    # 1.5 acts on every night (precision 1/21), 3 and 4 never: 2 is exact
    assert choice["chosen"]["severe_drift_factor"] == 2.0
    assert choice["chosen_measured"]["precision_after"] == 1.0
    assert choice["chosen_measured"]["recall_after"] == 1.0
    assert choice["chosen_measured"]["pages_per_month_before"] <= 2.5


def test_a_guard_request_restarts_its_cooldown():
    days = [(date(2013, 5, 1) + timedelta(days=i)).isoformat() for i in range(20)]
    verdicts = pd.DataFrame({"date": days, "verdict": "act", "triggers": "minor_drift"})
    policy = GuardPolicy(
        act_nights=2, of_last_nights=3, cooldown_days=7, min_new_labelled_flights=1
    )
    assert guard_requests(verdicts, policy) == ["2013-05-02", "2013-05-09", "2013-05-16"]
    quiet = verdicts.assign(verdict=["act" if i % 3 == 0 else "ok" for i in range(20)])
    assert guard_requests(quiet, policy) == []  # never 2 `act` in 3 nights


def test_the_guard_that_requests_on_helpful_nights_is_chosen():
    nights, benefits = _year(helpful_ratio=2.5, useless_ratio=1.0)
    choice = choose_guard(nights, benefits, PARAMS, "2013-04-01")
    # `act` only on the helpful nights, 21 apart: a single `act` night must be enough
    assert choice["chosen"]["act_nights"] == 1
    assert choice["chosen_measured"]["helps_share_before"] == 1.0
    assert choice["calendar"]["before"]["helps_share"] < 0.1


def test_a_threshold_that_would_page_past_the_budget_is_not_chosen():
    nights, benefits = _year(helpful_ratio=2.5, useless_ratio=1.6)
    every_fortnight = [(i % 14 == 0) for i in range(len(nights))]
    nights["drift_ratios"] = [json.dumps({"dep_hour": 2.5 if h else 1.6}) for h in every_fortnight]
    benefits["helps"] = every_fortnight
    choice = choose_thresholds(nights, benefits, PARAMS, "2013-04-01")
    # 2× would be exact but pages 2.1 times a month (each fortnight a new episode)
    assert choice["chosen"]["severe_drift_factor"] != 2.0
    assert choice["chosen_measured"]["pages_per_month_before"] <= 2.0


def test_the_model_age_past_which_retraining_helps_is_chosen_for_model_stale():
    nights, benefits = _year(helpful_ratio=1.0, useless_ratio=1.0)
    age = [30 + i for i in range(len(nights))]  # one model all along: a night older each day
    nights["model_age_days"] = age
    nights["data_end"] = "2013-03-31"
    benefits["helps"] = [a > 90 for a in age]
    choice = choose_thresholds(nights, benefits, PARAMS, "2013-04-01")
    assert choice["chosen"]["max_model_age_days"] == 90
    measured = {r["max_model_age_days"]: r for r in choice["single"]["model_stale"]}
    assert measured[90]["precision_after"] == 1.0
