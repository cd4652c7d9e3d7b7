"""A few weeks of the year replay on real 2013 days (`make simulate` runs the whole year):
the order of the loop, no label before its time, each policy's rule, the report."""

from __future__ import annotations

import dataclasses
import io
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.config import load_params
from pipelines.replay.deliveries import LabelLeak, LabelledDays, ReplayPlan
from pipelines.replay.loop import run_replay
from pipelines.replay.report import summarise, write_report
from pipelines.training_window import TrainingWindow

PLAN = ReplayPlan(start=date(2013, 1, 1), end=date(2013, 2, 3), first_model_days=28)


def _quick(params):
    """Cheaper fits, and a guard that fires on the first `act` night (cooldown 3 days)."""
    retraining = dataclasses.replace(
        params.retraining,
        window_days=35,
        holdout_days=7,
        guard=dataclasses.replace(
            params.retraining.guard,
            act_nights=1,
            of_last_nights=1,
            cooldown_days=3,
            min_new_labelled_flights=500,
        ),
    )
    train = dataclasses.replace(
        params.train,
        hist_gradient_boosting={**params.train.hist_gradient_boosting, "max_iter": 60},
        importance_sample_rows=5000,
        importance_repeats=1,
    )
    return dataclasses.replace(params, retraining=retraining, train=train)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    params = _quick(load_params())
    lines: list[str] = []
    result = run_replay(params, PLAN, tmp_path_factory.mktemp("replay"), progress=lines.append)
    return {"params": params, "result": result, "progress": lines}


def test_no_model_is_fit_or_judged_on_a_label_delivered_after_its_decision(replayed):
    result = replayed["result"]
    records = [result.first_model, *result.retrainings()]
    assert len(records) >= 3  # the first model, the monthly one, at least one guarded
    for record in records:
        assert record.max_label_day < record.day, record
        assert record.holdout_end < record.day and record.train_end < record.holdout_end


def test_a_label_that_lands_after_the_decision_day_is_refused():
    known = LabelledDays()
    known.labelled["2013-01-02"] = pd.DataFrame({"flight_date": ["2013-01-02"], "label": [1.0]})
    known.landed_on["2013-01-02"] = date(2013, 1, 5)  # a late delivery
    window = TrainingWindow(date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 2))
    with pytest.raises(LabelLeak, match="landed on 2013-01-05"):
        known.window(window, date(2013, 1, 3))
    assert len(known.window(window, date(2013, 1, 5))) == 1


def test_every_policy_scores_every_flight_of_every_day_once(replayed):
    predictions = replayed["result"].predictions()
    assert predictions["flight_date"].min() == PLAN.first_day.isoformat()
    assert predictions["flight_date"].max() == PLAN.end.isoformat()
    per_policy = predictions.groupby("policy")["flight_id"]
    assert per_policy.apply(lambda ids: ids.is_unique).all()
    ids = {name: set(frame) for name, frame in per_policy}
    assert ids["frozen"] == ids["scheduled"] == ids["guarded"]
    first = predictions[predictions["flight_date"] == PLAN.first_day.isoformat()]
    assert set(first["version"]) == {1}  # the same first model for all


def test_each_policy_retrains_by_its_rule_and_a_promotion_serves_from_the_next_day(replayed):
    result, params = replayed["result"], replayed["params"]
    assert result.states["frozen"].retrainings == []
    scheduled = result.states["scheduled"].retrainings
    assert [(r.day, r.reason) for r in scheduled] == [("2013-02-01", "monthly schedule")]
    guarded = result.states["guarded"].retrainings
    assert guarded and all("`act` on 1 of the last 1 nights" in r.reason for r in guarded)
    days = [date.fromisoformat(r.day) for r in guarded]
    cooldown = params.retraining.guard.cooldown_days
    assert all((b - a).days >= cooldown for a, b in zip(days, days[1:], strict=False))
    nights = result.nights()
    guarded_nights = nights[nights["policy"] == "guarded"].set_index("date")
    for day in days:  # a guarded retraining follows an `act` night
        assert guarded_nights.loc[day.isoformat(), "verdict"] == "act"
    predictions = result.predictions()
    for record in [*scheduled, *guarded]:
        served = predictions[
            (predictions["policy"] == record.policy)
            & (
                predictions["flight_date"]
                == (date.fromisoformat(record.day) + timedelta(1)).isoformat()
            )
        ]
        if len(served):  # passed offline or not, a candidate never serves the next day:
            assert record.version not in set(served["version"])  # the shadow period first
    for episode in result.shadow_episodes().itertuples():
        after = (date.fromisoformat(episode.ended) + timedelta(1)).isoformat()
        served = predictions[
            (predictions["policy"] == episode.policy) & (predictions["flight_date"] == after)
        ]
        if episode.action == "promote" and len(served):
            assert set(served["version"]) == {episode.version}


def test_the_report_has_the_timeline_the_tables_and_paired_intervals(replayed, tmp_path: Path):
    result, params = replayed["result"], replayed["params"]
    summary, daily, monthly, nights = summarise(result, "2013-01-29", 50, 1, params)
    page = write_report(tmp_path, summary, daily, monthly, nights, result)
    assert page.exists() and (tmp_path / "timeline.png").stat().st_size > 10_000
    assert (tmp_path / "frontier.png").stat().st_size > 10_000
    assert set(monthly["policy"]) == {"frozen", "scheduled", "guarded"}
    assert [c["against"] for c in summary["comparisons"]] == ["frozen", "scheduled"]
    for comparison in summary["comparisons"]:
        for metric in ("pooled_roc_auc", "mean_daily_roc_auc", "pooled_log_loss"):
            figure = comparison[metric]
            assert figure["low"] <= figure["difference"] <= figure["high"], metric
        # every scored day but the last, whose outcomes land after the replay ends
        assert comparison["days"] == (PLAN.end - PLAN.first_day).days
    frontier = {row["policy"]: row for row in summary["frontier"]}
    assert frontier["frozen"]["retrainings"] == 0 and frontier["scheduled"]["retrainings"] == 1
    assert summary["retrainings"]["scheduled"]["count"] == 1
    assert any("[replay]" in line for line in replayed["progress"])


def _moved_three_hours(frame: pd.DataFrame) -> pd.DataFrame:
    """What an upstream fault moving the whole schedule three hours later does to a day."""
    moved = frame.copy()
    moved["dep_hour"] = (moved["dep_hour"] + 3).clip(upper=23)
    moved["dep_minute_of_day"] = (moved["dep_minute_of_day"] + 180).clip(upper=1439)
    return moved


def test_normal_nights_stay_under_the_alert_budget_and_an_injected_shift_is_paged(replayed):
    """The week the slice monitors, as 2013 delivered it: `act` pages at most once (an episode
    pages once), `watch` never. Then the schedule moved by three hours (an upstream fault),
    judged by the nightly step: on the last night it is `act` and alerted (inside the week's
    open episode, if one is open, it is that episode's summary); on the first monitored night,
    with no episode open, it is `act` and it pages."""
    from pipelines.monitoring.alerts import decide_alert
    from pipelines.monitoring.frames import night_inputs
    from pipelines.monitoring.judge import judge_night
    from pipelines.replay.signal_quality import paged_nights

    result, params = replayed["result"], replayed["params"]
    clear = params.monitoring.page_clear_nights
    state = result.states["frozen"]
    levels = [row["verdict"] for row in state.night_rows]
    assert len(levels) >= 6
    assert sum(paged_nights(levels, clear)) <= 1, levels
    reference = state.serving.reference

    def judged_with_the_shift(day: date, scored: dict) -> Any:
        scored = {**scored, day.isoformat(): _moved_three_hours(scored[day.isoformat()])}
        inputs = night_inputs(
            day, scored, result_landed(scored), reference, params.monitoring.rolling_days
        )
        return judge_night(inputs, reference, params.monitoring)

    last = judged_with_the_shift(PLAN.end, dict(state.scored))
    assert last.verdict.level == "act", last.verdict.reasons
    assert {"important_drift", "prediction_drift"} & set(last.verdict.triggers)
    triggers = list(last.verdict.triggers)
    alert = decide_alert([], PLAN.end, "act", triggers, 7, None, levels[:-1][-clear:], clear)
    assert alert.send, "a fault is never silent"

    first_day = date.fromisoformat(min(state.scored))
    first = judged_with_the_shift(
        first_day, {first_day.isoformat(): state.scored[first_day.isoformat()]}
    )
    assert first.verdict.level == "act", first.verdict.reasons
    opening = decide_alert([], first_day, "act", list(first.verdict.triggers), 7, None, [], clear)
    assert opening.send and opening.page


def result_landed(scored: dict) -> dict:
    """Each scored day's outcomes landed the next morning (the replay's label clock)."""
    return {k: date.fromisoformat(k) + timedelta(days=1) for k in scored}


def test_every_night_recorded_is_judged_again_to_the_same_verdict(replayed):
    """`nights.csv` holds what the verdict needs under any candidate threshold: rebuilt from a
    row, `decide_verdict` gives the night's recorded verdict and triggers."""
    from pipelines.replay.thresholds import verdicts_under

    result, params = replayed["result"], replayed["params"]
    nights = result.nights().astype({"drift_ratios": str})
    nights = pd.read_csv(io.StringIO(nights.to_csv(index=False)))  # as the CSV reads back
    again = verdicts_under(nights, params.monitoring.verdict, params.monitoring.min_rows)
    assert len(again) == len(nights) > 0
    assert again["verdict"].tolist() == nights["verdict"].tolist()
    assert again["triggers"].tolist() == nights["triggers"].fillna("").tolist()
