"""Pages under the alert budget, and each signal judged against the benefit of retraining."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines.replay.signal_quality import paged_nights, pages_per_month, signal_quality


def test_a_persisting_act_condition_pages_once_and_a_new_episode_pages_again():
    levels = ["ok", "act", "act", "watch", "act", "act", "ok", "ok", "ok", "act", "watch"]
    paged = paged_nights(levels, clear_nights=3)
    assert [i for i, p in enumerate(paged) if p] == [1, 9]


def test_watch_never_pages():
    assert not any(paged_nights(["watch"] * 10, clear_nights=3))


def test_pages_per_month_counts_from_the_start_day():
    nights = pd.DataFrame(
        {
            "date": [f"2013-0{m}-{d:02d}" for m in (3, 4) for d in (1, 10, 20)],
            "policy": "guarded",
            "verdict": ["act", "ok", "ok", "act", "ok", "act"],
        }
    )
    out = pages_per_month(nights, clear_nights=1, since="2013-04-01")["guarded"]
    assert out["months"] == 1 and out["pages_per_month"] == 2 and out["act_nights_per_month"] == 2


def test_precision_and_recall_of_act_against_the_benefit():
    days = [f"2013-06-{d:02d}" for d in range(1, 11)]
    nights = pd.DataFrame(
        {
            "date": days,
            "policy": "guarded",
            "verdict": ["act", "act", "ok", "ok", "act", "ok", "ok", "ok", "ok", "ok"],
            "triggers": ["performance_drop", "performance_drop", "", "", "important_drift"]
            + [""] * 5,
        }
    )
    benefits = pd.DataFrame(
        {
            "day": days,
            "policy": "guarded",
            "helps": [True, True, True, False, False, False, False, False, True, False],
        }
    )
    quality = signal_quality(nights, benefits).set_index("signal")
    act = quality.loc["act"]
    assert act["fired"] == 3 and act["helps"] == 4
    assert act["precision"] == pytest.approx(2 / 3) and act["recall"] == pytest.approx(2 / 4)
    drop = quality.loc["performance_drop"]
    assert drop["precision"] == 1.0 and drop["recall"] == 0.5
    # helpful runs start 06-01 (first act that night: lead 0) and 06-09 (act since 06-01: 8)
    assert act["helpful_runs_missed"] == 0 and act["act_lead_days_median"] == 4.0


def test_the_estimates_error_and_bias_are_measured_on_the_same_flights():
    from pipelines.replay.signal_quality import estimate_error

    nights = pd.DataFrame(
        {
            "date": ["2013-03-31", "2013-04-01", "2013-04-02", "2013-04-03"],
            "policy": "frozen",
            "expected_observed_roc_auc": [0.9, 0.70, 0.66, None],
            "observed_window_roc_auc": [0.5, 0.65, 0.68, 0.7],
        }
    )
    error = estimate_error(nights, since="2013-04-01")["frozen"]
    assert error["nights"] == 2
    assert error["mae_roc_auc"] == pytest.approx((0.05 + 0.02) / 2)
    assert error["bias_roc_auc"] == pytest.approx((0.05 - 0.02) / 2)  # optimistic on average


def test_quality_is_reported_apart_before_and_after_the_cut():
    from pipelines.replay.signal_quality import signal_quality_by_period

    days = ["2013-06-29", "2013-06-30", "2013-07-01", "2013-07-02"]
    nights = pd.DataFrame(
        {"date": days, "policy": "g", "verdict": ["act", "ok", "act", "act"], "triggers": ""}
    )
    benefits = pd.DataFrame({"day": days, "policy": "g", "helps": [True, False, False, True]})
    quality = signal_quality_by_period(nights, benefits, "2013-07-01")
    act = quality.loc[quality["signal"] == "act"].set_index("period")
    assert act.loc["before 2013-07-01", "precision"] == 1.0
    assert act.loc["after 2013-07-01", "precision"] == 0.5
    assert act.loc["after 2013-07-01", "nights"] == 2


def test_trigger_sets_are_ranked_by_their_f1_before_the_cut_and_measured_after():
    from pipelines.replay.signal_quality import trigger_sets

    days = ["2013-06-01", "2013-06-02", "2013-06-03", "2013-07-01", "2013-07-02"]
    nights = pd.DataFrame(
        {
            "date": days,
            "policy": "g",
            "triggers": ["minor_drift", "performance_drop", "", "minor_drift", "performance_drop"],
        }
    )
    benefits = pd.DataFrame({"day": days, "policy": "g", "helps": [1, 0, 0, 0, 1]})
    sets = trigger_sets(nights, benefits, "2013-07-01", ("minor_drift", "performance_drop"))
    best = sets.iloc[0]
    assert best["act_triggers"] == "minor_drift"
    assert (best["precision_before"], best["recall_before"]) == (1.0, 1.0)
    assert (best["precision_after"], best["recall_after"]) == (0.0, 0.0)
    assert len(sets) == 3  # two singles and the pair


def test_the_episode_length_is_the_shortest_within_the_page_budget_before_the_cut():
    from pipelines.replay.signal_quality import page_budget_choice

    # `act` every 4th night in May (8 episodes at 3 clear nights, one at 5), none in June
    days = pd.date_range("2013-05-01", "2013-06-30").strftime("%Y-%m-%d")
    verdicts = ["act" if d < "2013-06-01" and i % 4 == 0 else "ok" for i, d in enumerate(days)]
    nights = pd.DataFrame({"date": days, "policy": "guarded", "verdict": verdicts})
    other = nights.assign(policy="frozen", verdict="act")  # another policy's nights: ignored
    choice = page_budget_choice(
        pd.concat([nights, other]), "guarded", (3, 5, 7), 2.0, "2013-05-01", "2013-06-01"
    )
    rows = {r["page_clear_nights"]: r for r in choice["candidates"]}
    assert rows[3]["pages_per_month_before"] == 8 and rows[5]["pages_per_month_before"] == 1
    assert rows[3]["pages_per_month_after"] == 0
    assert choice["chosen"] == 5
    assert (
        page_budget_choice(nights, "guarded", (3,), 2.0, "2013-05-01", "2013-06-01")["chosen"]
        is None
    )
    # with a safety factor the budget before the cut is a share of the budget
    halved = page_budget_choice(
        nights, "guarded", (3, 5, 7), 2.0, "2013-05-01", "2013-06-01", safety=0.4
    )
    assert halved["chosen"] is None  # 1 page a month is over 0.8
