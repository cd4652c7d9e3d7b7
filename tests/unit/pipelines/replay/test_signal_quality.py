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
