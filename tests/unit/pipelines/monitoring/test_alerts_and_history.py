"""The history table's upserts and the alert log's grouping, wording and round trip."""

from __future__ import annotations

import json
import math
from datetime import date

import pandas as pd

from pipelines.config import load_params
from pipelines.monitoring import history
from pipelines.monitoring.alerts import (
    append_alert,
    condition,
    decide_alert,
    read_alerts,
    verdict_alert,
)

REPEAT_DAYS = load_params().monitoring.alert_repeat_days


def _empty_history() -> pd.DataFrame:
    return pd.DataFrame({"date": pd.Series(dtype=str)})


def test_upsert_replaces_the_row_of_a_date_and_keeps_dates_sorted():
    table = _empty_history()
    for day, rows in (("2024-03-05", 900), ("2024-03-03", 800), ("2024-03-04", 850)):
        table = history.upsert(table, {"date": day, "rows": rows, "verdict": "ok"})
    table = history.upsert(table, {"date": "2024-03-04", "rows": 10, "verdict": "watch"})
    assert table["date"].tolist() == ["2024-03-03", "2024-03-04", "2024-03-05"]
    assert table.set_index("date").loc["2024-03-04", "rows"] == 10
    assert table.set_index("date").loc["2024-03-04", "verdict"] == "watch"
    assert table.index.tolist() == [0, 1, 2]


def test_update_sets_fields_on_an_existing_row_and_keeps_the_others():
    table = history.upsert(
        _empty_history(), {"date": "2024-03-04", "rows": 850, "labels": "pending"}
    )
    table = history.update(table, "2024-03-04", {"labels": "in", "actual_roc_auc": 0.71})
    assert len(table) == 1
    row = table.iloc[0]
    assert row["rows"] == 850
    assert row["labels"] == "in"
    assert row["actual_roc_auc"] == 0.71


def test_update_of_a_missing_date_creates_its_row():
    table = history.upsert(_empty_history(), {"date": "2024-03-05", "rows": 900})
    table = history.update(table, "2024-03-04", {"labels": "in"})
    assert table["date"].tolist() == ["2024-03-04", "2024-03-05"]
    created = table.iloc[0]
    assert created["labels"] == "in"
    assert math.isnan(created["rows"])


def test_history_round_trips_through_its_file(tmp_path):
    root = str(tmp_path)
    assert history.read_history(root).empty
    table = history.upsert(_empty_history(), {"date": "2024-03-04", "rows": 850, "verdict": "ok"})
    history.write_history(table, root)
    pd.testing.assert_frame_equal(history.read_history(root), table)


def _sent(day: str, level: str, triggers: list[str]) -> dict:
    return {"kind": "verdict", "date": day, "level": level, "condition": condition(level, triggers)}


def test_ok_never_sends():
    assert not decide_alert([], date(2024, 3, 4), "ok", [], REPEAT_DAYS).send


def test_first_watch_sends():
    decision = decide_alert([], date(2024, 3, 4), "watch", ["minor_drift"], REPEAT_DAYS)
    assert decision.send
    assert decision.why == "first alert"


def test_the_same_condition_the_next_day_is_grouped():
    log = [_sent("2024-03-04", "watch", ["minor_drift"])]
    decision = decide_alert(log, date(2024, 3, 5), "watch", ["minor_drift"], REPEAT_DAYS)
    assert not decision.send
    assert "grouped" in decision.why


def test_a_persisting_condition_is_sent_again_after_the_repeat_days():
    log = [_sent("2024-03-01", "watch", ["minor_drift"])]
    before = decide_alert(log, date(2024, 3, 1 + 2), "watch", ["minor_drift"], repeat_days=3)
    after = decide_alert(log, date(2024, 3, 1 + 3), "watch", ["minor_drift"], repeat_days=3)
    assert not before.send
    assert after.send


def test_the_repeat_counts_from_the_last_alert_sent():
    log = [
        _sent("2024-03-01", "watch", ["minor_drift"]),
        _sent("2024-03-04", "watch", ["minor_drift"]),
    ]
    assert not decide_alert(log, date(2024, 3, 6), "watch", ["minor_drift"], repeat_days=3).send
    assert decide_alert(log, date(2024, 3, 7), "watch", ["minor_drift"], repeat_days=3).send


def test_a_changed_condition_sends_at_once():
    log = [_sent("2024-03-04", "watch", ["minor_drift"])]
    other_trigger = decide_alert(log, date(2024, 3, 5), "watch", ["estimate_drop"], REPEAT_DAYS)
    more_triggers = decide_alert(
        log, date(2024, 3, 5), "watch", ["estimate_drop", "minor_drift"], REPEAT_DAYS
    )
    other_level = decide_alert(log, date(2024, 3, 5), "act", ["minor_drift"], REPEAT_DAYS)
    assert other_trigger.send and more_triggers.send and other_level.send
    assert "condition changed" in other_trigger.why


def test_trigger_order_does_not_change_the_condition():
    log = [_sent("2024-03-04", "act", ["important_drift", "prediction_drift"])]
    decision = decide_alert(
        log, date(2024, 3, 5), "act", ["prediction_drift", "important_drift"], REPEAT_DAYS
    )
    assert not decision.send


def test_rerunning_a_night_already_alerted_does_not_send():
    log = [_sent("2024-03-04", "act", ["performance_drop"])]
    decision = decide_alert(log, date(2024, 3, 4), "act", ["performance_drop"], REPEAT_DAYS)
    assert not decision.send
    assert decision.why == "already alerted for this night"


def test_failure_records_in_the_log_do_not_group_verdicts():
    log = [{"kind": "failure", "date": "2024-03-04", "condition": "watch:minor_drift"}]
    assert decide_alert(log, date(2024, 3, 5), "watch", ["minor_drift"], REPEAT_DAYS).send


SUMMARY = {
    "date": "2024-03-04",
    "model": {"version": "7"},
    "verdict": {
        "level": "act",
        "reasons": ["drift on important features: distance"],
        "triggers": ["important_drift"],
    },
    "drift": {
        "top": [
            {"column": "distance", "score": 0.3123, "threshold": 0.1, "drifted": True},
            {"column": "carrier", "score": 0.01, "threshold": 0.05, "drifted": False},
        ]
    },
}
PAGE = "http://airflow.test/monitoring/date=2024-03-04/index.html"
RUNBOOKS = "https://example.test/runbooks"


def test_verdict_alert_says_what_on_call_needs():
    record = verdict_alert(SUMMARY, PAGE, RUNBOOKS)
    assert record["kind"] == "verdict"
    assert record["date"] == "2024-03-04"
    assert record["level"] == "act"
    assert record["condition"] == "act:important_drift"
    assert record["signals"] == ["important_drift"]
    assert record["top_columns"] == [
        "distance 0.312 (threshold 0.1)"
    ]  # not carrier: it did not drift
    assert record["page"] == PAGE
    assert record["runbook"] == f"{RUNBOOKS}/drift-alert.md"
    message = record["message"]
    for expected in (
        "[ACT]",
        "2024-03-04",
        "v7",
        "distance 0.312",
        PAGE,
        f"{RUNBOOKS}/drift-alert.md",
    ):
        assert expected in message, expected
    assert "carrier" not in message


def test_verdict_alert_runbook_follows_the_trigger():
    summary = {
        **SUMMARY,
        "verdict": {"level": "watch", "reasons": ["labels missing"], "triggers": ["labels_late"]},
    }
    assert verdict_alert(summary, PAGE, RUNBOOKS)["runbook"] == f"{RUNBOOKS}/labels-late.md"


def test_append_and_read_alerts_round_trip(tmp_path):
    uri = str(tmp_path / "alerts.jsonl")
    assert read_alerts(uri) == []
    first = append_alert(uri, verdict_alert(SUMMARY, PAGE, RUNBOOKS))
    second = append_alert(uri, {"kind": "failure", "date": "2024-03-05", "message": "task failed"})
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert [json.loads(line)["kind"] for line in lines] == ["verdict", "failure"]
    assert read_alerts(uri) == [first, second]
    assert "sent_at" in first
    assert not (tmp_path / "alerts.jsonl.lease").exists()


def test_a_condition_that_cleared_and_came_back_alerts_again():
    log = [_sent("2024-03-01", "watch", ["minor_drift"])]
    back = decide_alert(
        log, date(2024, 3, 3), "watch", ["minor_drift"], REPEAT_DAYS, night_before="ok:"
    )
    persisting = decide_alert(
        log,
        date(2024, 3, 2),
        "watch",
        ["minor_drift"],
        REPEAT_DAYS,
        night_before=condition("watch", ["minor_drift"]),
    )
    assert back.send and "night before" in back.why
    assert not persisting.send


def test_the_night_before_is_read_from_the_history():
    from pipelines.monitoring.alerts import night_before_condition

    history = pd.DataFrame(
        {
            "date": ["2024-03-01", "2024-03-02", "2024-03-03"],
            "verdict": ["watch", None, "act"],
            "triggers": ['["minor_drift"]', None, '["important_drift"]'],
        }
    )
    assert night_before_condition(history, date(2024, 3, 3)) == "watch:minor_drift"
    assert night_before_condition(history, date(2024, 3, 4)) == "act:important_drift"
    assert night_before_condition(history.head(0), date(2024, 3, 4)) is None


def test_rerunning_a_night_keeps_what_its_retraining_guard_recorded():
    first = history.upsert_night(
        pd.DataFrame({"date": pd.Series(dtype=str)}), {"date": "2013-06-20", "verdict": "act"}
    )
    requested = history.update(
        first, "2013-06-20", {"retraining": "requested", "retraining_reasons": '["why"]'}
    )
    again = history.upsert_night(requested, {"date": "2013-06-20", "verdict": "act"})
    assert again.iloc[0]["retraining"] == "requested"
    assert again.iloc[0]["retraining_reasons"] == '["why"]'


def test_only_act_pages_and_a_persisting_act_pages_once():
    from pipelines.monitoring.alerts import decide_page

    assert not decide_page([], "watch", 3)
    assert decide_page([], "act", 3)
    assert decide_page(["ok", "watch", "ok"], "act", 3)
    assert not decide_page(["act", "ok", "ok"], "act", 3)  # same episode: summarised, not paged
    assert decide_page(["act", "ok", "ok", "ok"], "act", 3)  # cleared for 3 nights: new episode


def test_the_levels_before_a_day_come_from_the_history_oldest_first():
    from pipelines.monitoring.alerts import levels_before

    history = pd.DataFrame(
        {"date": ["2024-03-03", "2024-03-01", "2024-03-02", "2024-03-04"], "verdict": list("abcd")}
    )
    assert levels_before(history, date(2024, 3, 4), 2) == ["c", "a"]


def test_the_alert_decision_pages_an_act_episode_once_and_never_a_watch_or_a_rerun():
    day = date(2024, 3, 5)
    first = decide_alert([], day, "act", ["minor_drift"], REPEAT_DAYS, None, ["ok", "ok"], 3)
    assert first.send and first.page
    watch = decide_alert([], day, "watch", ["estimate_drop"], REPEAT_DAYS, None, [], 3)
    assert watch.send and not watch.page  # logged and shown, not paged
    log = [{"kind": "verdict", "date": "2024-03-04", "condition": "watch:estimate_drop"}]
    same_episode = decide_alert(
        log, day, "act", ["minor_drift"], REPEAT_DAYS, "watch:estimate_drop", ["act", "watch"], 3
    )
    assert same_episode.send and not same_episode.page  # a new condition, the same episode
    rerun_log = [{"kind": "verdict", "date": day.isoformat(), "condition": "act:minor_drift"}]
    rerun = decide_alert(rerun_log, day, "act", ["minor_drift"], REPEAT_DAYS, None, ["ok"], 3)
    assert not rerun.send and not rerun.page
