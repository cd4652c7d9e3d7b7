"""The month-through-Airflow check says exactly where the two runs differ."""

import pandas as pd

from pipelines.replay.compare import RETRAINING_KEYS, LoopOutcome, compare_loops, triggers_key


def _outcome(probabilities, versions, verdicts, retrainings) -> LoopOutcome:
    return LoopOutcome(
        predictions=pd.DataFrame(
            {
                "flight_date": ["2013-03-02", "2013-03-02", "2013-03-03"],
                "flight_id": ["a", "b", "c"],
                "probability": probabilities,
                "version": versions,
            }
        ),
        nights=pd.DataFrame(
            {
                "date": ["2013-03-02", "2013-03-03"],
                "verdict": verdicts,
                "triggers": ["", "minor_drift,performance_drop"],
            }
        ),
        retrainings=pd.DataFrame(
            [(*r, 0.71, "common_holdout=1")[:4] if len(r) == 2 else r for r in retrainings],
            columns=list(RETRAINING_KEYS),
        ),
    )


def test_identical_runs_agree():
    replay = _outcome([0.1, 0.2, 0.3], [1, 1, 2], ["ok", "act"], [("2013-03-02", True)])
    comparison = compare_loops(replay, replay)
    assert comparison.agrees and comparison.flights == 3 and comparison.days == 2


def test_each_kind_of_difference_is_found():
    replay = _outcome([0.1, 0.2, 0.3], [1, 1, 2], ["ok", "act"], [("2013-03-02", True)])
    moved = _outcome([0.1, 0.2, 0.3 + 1e-6], [1, 1, 2], ["ok", "act"], [("2013-03-02", True)])
    assert compare_loops(replay, moved).max_probability_difference > 1e-7
    assert not compare_loops(replay, moved).agrees
    served = _outcome([0.1, 0.2, 0.3], [1, 1, 1], ["ok", "act"], [("2013-03-02", True)])
    assert compare_loops(replay, served).version_mismatches == 1
    judged = _outcome([0.1, 0.2, 0.3], [1, 1, 2], ["ok", "watch"], [("2013-03-02", True)])
    (night,) = compare_loops(replay, judged).night_mismatches
    assert night["date"] == "2013-03-03" and night["verdict_airflow"] == "watch"
    rejected = _outcome([0.1, 0.2, 0.3], [1, 1, 2], ["ok", "act"], [("2013-03-02", False)])
    assert not compare_loops(replay, rejected).agrees
    refit = [("2013-03-02", True, 0.7100001, "common_holdout=1")]
    assert not compare_loops(
        replay, _outcome([0.1, 0.2, 0.3], [1, 1, 2], ["ok", "act"], refit)
    ).agrees
    checked = [("2013-03-02", True, 0.71, "common_holdout=0")]
    assert not compare_loops(
        replay, _outcome([0.1, 0.2, 0.3], [1, 1, 2], ["ok", "act"], checked)
    ).agrees
    fewer = replay.predictions.iloc[:2]
    short = LoopOutcome(fewer, replay.nights, replay.retrainings)
    assert compare_loops(replay, short).missing_flights == 1


def test_triggers_are_spelled_one_way():
    assert triggers_key('["performance_drop", "minor_drift"]') == "minor_drift,performance_drop"
    assert triggers_key("performance_drop,minor_drift") == "minor_drift,performance_drop"
    assert triggers_key([]) == "" and triggers_key("") == ""


def test_a_replayed_policy_reads_as_the_three_tables():
    from types import SimpleNamespace

    from pipelines.replay.compare import replay_outcome

    state = SimpleNamespace(
        predictions=[
            pd.DataFrame(
                {
                    "flight_date": ["2013-03-02"],
                    "flight_id": ["a"],
                    "late_probability": [0.25],
                    "version": [1],
                }
            )
        ],
        night_rows=[
            {"date": "2013-03-02", "verdict": "act", "triggers": "performance_drop,minor_drift"}
        ],
        retrainings=[
            SimpleNamespace(
                day="2013-03-02", promoted=False, holdout_roc_auc=0.7, checks="common_holdout=0"
            )
        ],
    )
    outcome = replay_outcome(SimpleNamespace(states={"guarded": state}), "guarded")
    assert outcome.predictions.to_dict("records") == [
        {"flight_date": "2013-03-02", "flight_id": "a", "probability": 0.25, "version": 1}
    ]
    assert outcome.nights["triggers"].tolist() == ["minor_drift,performance_drop"]
    assert outcome.retrainings.to_dict("records") == [
        {
            "day": "2013-03-02",
            "promoted": False,
            "holdout_roc_auc": 0.7,
            "checks": "common_holdout=0",
        }
    ]
