"""The monitoring's alarms on real 2013 days (a slice of `mlops monitoring-backtest`): every
injected fault alarms, normal days after the training window mostly do not, and the
performance estimate lands near the truth the labels bring a day later."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.config import load_params
from pipelines.monitoring.backtest import BacktestWindow, backtest_from_source

WINDOW = BacktestWindow(
    train_start=date(2013, 1, 1),
    holdout_start=date(2013, 2, 1),
    window_end=date(2013, 2, 14),
    monitor_end=date(2013, 3, 14),
    early_days=14,
    inject_every=2,
)


@pytest.fixture(scope="module")
def backtest(tmp_path_factory) -> dict:
    return backtest_from_source(load_params(), str(tmp_path_factory.mktemp("landing")), WINDOW)


def test_every_injected_fault_alarms(backtest):
    assert backtest["injected_days"] >= 10
    rates = backtest["injected_alarm_rate"]
    assert set(k.split(":")[0] for k in rates) == {
        "numeric_shift",
        "categorical_collapse",
        "schedule_moved_3h",
    }
    for fault, rate in rates.items():
        assert rate >= 0.9, (fault, rate)


def test_normal_days_after_the_window_mostly_do_not_alarm(backtest):
    assert backtest["monitored_days"] == 28
    assert backtest["normal_day_alarm_rate"]["all_days"] <= 0.3, backtest["normal_day_alarm_rate"]


def test_the_estimate_lands_near_the_labels_truth(backtest):
    assert backtest["estimate"]["mae_rolling_roc_auc"] < 0.08, backtest["estimate"]
