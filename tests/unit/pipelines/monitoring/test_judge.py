"""`judge_night` on small frames: the step the nightly job, the replay and the backtest share.

Each case builds a few scored days in memory (`frames.night_inputs`, as the replay does) against
a hand-made reference, and checks one thing the night must get right."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from pipelines.config import load_params
from pipelines.monitoring import drift
from pipelines.monitoring.frames import night_inputs
from pipelines.monitoring.judge import judge_night, serving_since
from pipelines.monitoring.reference import MonitoringReference
from tests.factories import verdict_policy

SETTINGS = dataclasses.replace(
    load_params().monitoring,
    rolling_days=7,
    min_rows=50,
    verdict=dataclasses.replace(verdict_policy(), important_features=2),
)
NIGHT = date(2013, 5, 10)
ROWS = 400


def _flights(seed: int, version: str, skill: float = 2.0, distance_shift: float = 0.0):
    """A day of flights whose label follows the score with `skill` (0: a coin)."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=ROWS)
    label = (signal * skill + rng.normal(size=ROWS) > 1.0).astype(float)
    return pd.DataFrame(
        {
            "distance": rng.normal(1000, 200, ROWS) + distance_shift,
            "wx_temp": rng.normal(15, 5, ROWS),
            "carrier": rng.choice(["AA", "UA", "DL"], ROWS),
            drift.SCORE_COLUMN: 1 / (1 + np.exp(-signal)),
            "label": label,
            "version": version,
        }
    )


def _reference(holdout_roc_auc: float = 0.80) -> MonitoringReference:
    sample = _flights(0, "1").drop(columns=["label", "version"])
    columns = drift.DriftColumns(
        ("distance", "wx_temp", drift.SCORE_COLUMN),
        ("carrier",),
        {
            "distance": "wasserstein",
            "wx_temp": "wasserstein",
            drift.SCORE_COLUMN: "wasserstein",
            "carrier": "jensenshannon",
        },
    )
    calibration = _flights(1, "1")
    return MonitoringReference(
        sample=sample,
        calibration=pd.DataFrame(
            {
                "late_probability": calibration[drift.SCORE_COLUMN],
                "label": calibration["label"].astype(int),
            }
        ),
        daily_scores=pd.DataFrame(),
        columns=columns,
        thresholds={"distance": 0.5, "wx_temp": 0.5, drift.SCORE_COLUMN: 0.5, "carrier": 0.2},
        importance={"distance": 0.05, "wx_temp": 0.03, "carrier": 0.0},
        holdout={"holdout_roc_auc": holdout_roc_auc},
        false_alarms={},
        window={},
    )


def judge_frames(day, scored, landed, reference, settings):
    """What the replay does: inputs from frames, then the shared step."""
    return judge_night(
        night_inputs(day, scored, landed, reference, settings.rolling_days), reference, settings
    )


def _week(versions: dict[int, str], skills: dict[int, float] | None = None):
    """Night D and the 7 days before it: offset -> version; labels landed the next day."""
    scored, landed = {}, {}
    for offset, version in versions.items():
        day = NIGHT - timedelta(days=offset)
        skill = (skills or {}).get(offset, 2.0)
        scored[day.isoformat()] = _flights(100 + offset, version, skill)
        landed[day.isoformat()] = day + timedelta(days=1)
    return scored, landed


def test_a_quiet_week_of_the_same_version_is_ok_and_judged_since_its_first_night():
    scored, landed = _week({o: "1" for o in range(8)})
    night = judge_frames(NIGHT, scored, landed, _reference(0.75), SETTINGS)
    assert night.verdict.level == "ok", night.verdict.reasons
    assert night.judged_since == NIGHT - timedelta(days=7)
    assert night.observed is not None and night.observed.days == 7


def test_after_a_promotion_performance_is_judged_on_the_new_versions_scores_only():
    """v1 served badly (a coin) until 2 nights ago; v2 serves well since. Mixed, the window
    reads a drop and `act`; judged on v2's own nights, it is fine."""
    versions = {o: ("2" if o <= 2 else "1") for o in range(8)}
    skills = {o: 0.0 for o in range(3, 8)}
    scored, landed = _week(versions, skills)
    night = judge_frames(NIGHT, scored, landed, _reference(0.75), SETTINGS)
    assert night.judged_since == NIGHT - timedelta(days=2)
    assert night.verdict.version == "2"
    assert night.verdict.judged_since == (NIGHT - timedelta(days=2)).isoformat()
    assert night.observed is not None and night.observed.days == 2  # D-1, D-2
    assert night.observed.rows == int(
        sum(scored[(NIGHT - timedelta(days=o)).isoformat()]["label"].notna().sum() for o in (1, 2))
    )
    assert "performance_drop" not in night.verdict.triggers
    mixed = {k: frame.assign(version="2") for k, frame in scored.items()}
    blended = judge_frames(NIGHT, mixed, landed, _reference(0.75), SETTINGS)
    assert "performance_drop" in blended.verdict.triggers  # what mixing versions did


def test_serving_since_stops_at_the_first_night_of_another_version():
    from pipelines.monitoring.judge import WindowDay

    days = tuple(
        WindowDay(NIGHT - timedelta(days=o), v, np.zeros(1), None)
        for o, v in enumerate(["3", "3", "2", "3"])
    )
    assert serving_since(days, NIGHT, "3") == NIGHT - timedelta(days=1)


def test_a_column_empty_tonight_is_feature_missing_not_a_silent_pass():
    scored, landed = _week({o: "1" for o in range(8)})
    scored[NIGHT.isoformat()]["wx_temp"] = np.nan  # the weather feed is down
    night = judge_frames(NIGHT, scored, landed, _reference(0.75), SETTINGS)
    assert night.missing_features == ("wx_temp",)
    assert "feature_missing" in night.verdict.triggers
    assert night.verdict.level != "ok"


def test_a_column_the_reference_rarely_has_is_not_missing_when_empty():
    reference = _reference(0.75)
    reference.sample["wx_temp"] = np.where(np.arange(ROWS) % 4 == 0, 1.0, np.nan)  # 25% present
    scored, landed = _week({o: "1" for o in range(8)})
    scored[NIGHT.isoformat()]["wx_temp"] = np.nan
    night = judge_frames(NIGHT, scored, landed, reference, SETTINGS)
    assert night.missing_features == ()
    assert "feature_missing" not in night.verdict.triggers


def test_labels_not_landed_for_three_days_fire_labels_late():
    scored, landed = _week({o: "1" for o in range(8)})
    for offset in (1, 2, 3):
        landed.pop((NIGHT - timedelta(days=offset)).isoformat())
    night = judge_frames(NIGHT, scored, landed, _reference(0.75), SETTINGS)
    assert night.labels_missing == tuple((NIGHT - timedelta(days=o)).isoformat() for o in (3, 2, 1))
    assert "labels_late" in night.verdict.triggers


def test_labels_landing_after_the_night_are_never_read():
    scored, landed = _week({o: "1" for o in range(8)})
    landed[(NIGHT - timedelta(days=1)).isoformat()] = NIGHT + timedelta(days=1)
    inputs = night_inputs(NIGHT, scored, landed, _reference(), SETTINGS.rolling_days)
    yesterday = next(d for d in inputs.window if d.day == NIGHT - timedelta(days=1))
    today = next(d for d in inputs.window if d.day == NIGHT)
    assert yesterday.labelled is None and today.labelled is None


def test_a_nan_drift_score_on_a_column_with_values_is_watch_naming_it():
    scored, landed = _week({o: "1" for o in range(8)})
    inputs = night_inputs(NIGHT, scored, landed, _reference(0.75), SETTINGS.rolling_days)
    broken = dataclasses.replace(inputs, drift_scores={**inputs.drift_scores, "distance": np.nan})
    from pipelines.monitoring.judge import judge_night

    night = judge_night(broken, _reference(0.75), SETTINGS)
    assert night.verdict.level == "watch"
    assert night.verdict.triggers == ("input_invalid",)
    assert "drift score of distance" in night.verdict.reasons[0]


@pytest.mark.parametrize("shift", [0.0, 1000.0])
def test_drift_on_an_important_feature_is_act_and_none_is_not(shift):
    scored, landed = _week({o: "1" for o in range(8)})
    today = scored[NIGHT.isoformat()]
    today["distance"] = today["distance"] + shift
    night = judge_frames(NIGHT, scored, landed, _reference(0.75), SETTINGS)
    assert ("distance" in night.drifted) == (shift > 0)
    assert ("important_drift" in night.verdict.triggers) == (shift > 0)


def test_a_unit_change_on_a_minor_column_is_named_never_a_silent_ok():
    """Fahrenheit tonight on a column the model gives little weight: the next retraining would
    learn from it, so the verdict says it, whatever the column's importance."""
    scored, landed = _week({o: "1" for o in range(8)})
    today = scored[NIGHT.isoformat()]
    today["wx_temp"] = today["wx_temp"] * 1.8 + 32
    one_important = dataclasses.replace(
        SETTINGS, verdict=dataclasses.replace(SETTINGS.verdict, important_features=1)
    )
    night = judge_frames(NIGHT, scored, landed, _reference(0.75), one_important)
    assert night.verdict.level == "act", night.verdict.reasons  # severe drift pages
    assert "out_of_range" in night.verdict.triggers
    assert "severe_drift" in night.verdict.triggers
    assert any("wx_temp" in reason for reason in night.verdict.reasons)


def test_codes_the_reference_never_had_are_out_of_range():
    scored, landed = _week({o: "1" for o in range(8)})
    today = scored[NIGHT.isoformat()]
    today["carrier"] = today["carrier"].map({"AA": "A1", "UA": "U1", "DL": "DL"})
    night = judge_frames(NIGHT, scored, landed, _reference(0.75), SETTINGS)
    assert night.signals.out_of_range == ("carrier",)
    assert night.verdict.level != "ok"


def test_a_mild_drift_on_an_important_feature_is_watch_a_severe_one_act():
    scored, landed = _week({o: "1" for o in range(8)})
    reference = _reference(0.75)
    today = scored[NIGHT.isoformat()]
    base = today["distance"].copy()
    levels = {}
    for shift in (130.0, 1000.0):
        today["distance"] = base + shift
        night = judge_frames(NIGHT, scored, landed, reference, SETTINGS)
        assert "distance" in night.drifted, shift
        levels[shift] = (night.verdict.level, night.signals.severe)
    assert levels[130.0][0] == "watch" and "distance" not in levels[130.0][1]
    assert levels[1000.0][0] == "act" and "distance" in levels[1000.0][1]


def test_a_saturday_is_compared_with_the_references_saturdays():
    reference = _reference(0.75)
    days = pd.Series(["2013-05-08", "2013-05-11"] * (len(reference.sample) // 2))
    sample = reference.sample.assign(flight_date=days.to_numpy()[: len(reference.sample)])
    saturday_thresholds = {k: v * 3 for k, v in reference.thresholds.items()}
    typed = dataclasses.replace(
        reference, sample=sample, thresholds_by_day_type={"saturday": saturday_thresholds}
    )
    saturday = typed.for_day(date(2013, 5, 18))
    assert set(saturday.sample["flight_date"]) == {"2013-05-11"}
    assert saturday.thresholds == saturday_thresholds
    assert typed.for_day(date(2013, 5, 15)) is typed  # no weekday thresholds: the whole reference


def test_an_injected_fault_counts_as_caught_only_when_its_column_is_flagged():
    from pipelines.monitoring.backtest import caught_level

    assert caught_level("numeric_shift:distance", ("distance",), (), "act") == "act"
    assert caught_level("numeric_shift:distance", ("wx_temp",), (), "act") == "ok"
    assert caught_level("categorical_collapse:carrier", (), ("carrier",), "watch") == "watch"
    assert caught_level("schedule_moved_3h", ("dep_hour", "dest"), (), "act") == "act"
    assert caught_level("schedule_moved_3h", ("late_probability",), (), "act") == "ok"


def test_the_range_a_night_is_held_to_is_the_whole_references_not_its_day_types():
    """A Saturday's share of the sample spans a narrower range than the reference: a normal
    Saturday must not read as out of range (it did, on Sundays of the 2013 backtest)."""
    reference = _reference(0.75)
    sample = reference.sample.copy()
    saturday_rows = sample.index % 2 == 1
    sample["flight_date"] = np.where(saturday_rows, "2013-05-11", "2013-05-08")
    sample.loc[saturday_rows, "distance"] = sample.loc[saturday_rows, "distance"].clip(950, 1050)
    typed = dataclasses.replace(
        reference,
        sample=sample,
        thresholds_by_day_type={"saturday": {k: v * 10 for k, v in reference.thresholds.items()}},
    )
    saturday = date(2013, 5, 18)
    scored, landed = {}, {}
    for offset in range(8):
        day = saturday - timedelta(days=offset)
        scored[day.isoformat()] = _flights(200 + offset, "1")
        landed[day.isoformat()] = day + timedelta(days=1)
    night = judge_frames(saturday, scored, landed, typed, SETTINGS)
    assert night.signals.out_of_range == ()
    assert "distance" not in night.drifted
