"""A month of the cost ledger, per stage, priced."""

from __future__ import annotations

import pytest

from pipelines.config import CostParams
from pipelines.monitoring.cost_report import month_cost, render
from pipelines.run_cost import RunCost

PRICES = CostParams(ledger_dir="unused", cpu_hour_usd=0.036, storage_gb_month_usd=0.02)


def _record(stage: str, day: str, part: str, cpu: float, written: int, peak: int = 100) -> RunCost:
    return RunCost(stage, day, part, cpu, cpu * 2, peak, written)


def test_a_month_sums_per_stage_prices_cpu_hours_and_gb_months_and_skips_other_months():
    records = [
        _record("scoring", "2013-06-01", "shard-0", 3600.0, 10**9, peak=300),
        _record("scoring", "2013-06-01", "publish", 0.0, 0, peak=50),
        _record("scoring", "2013-06-02", "shard-0", 1800.0, 5 * 10**8),
        _record("monitoring", "2013-06-02", "night", 36.0, 10**6),
        _record("training", "2013-07-01", "as_of=2013-07-01", 999.0, 10**9),  # next month
    ]
    month = month_cost(records, "2013-06", PRICES)
    scoring, training, monitoring = (
        next(s for s in month.stages if s.stage == name)
        for name in ("scoring", "training", "monitoring")
    )
    assert (scoring.days, scoring.records, scoring.cpu_seconds) == (2, 3, 5400.0)
    assert scoring.peak_memory_bytes == 300 and scoring.bytes_written == 1.5 * 10**9
    assert scoring.cpu_usd == pytest.approx(1.5 * 0.036)
    assert scoring.storage_usd == pytest.approx(1.5 * 0.02)
    assert training.records == 0 and training.total_usd == 0
    assert monitoring.cpu_usd == pytest.approx(0.01 * 0.036)
    assert month.total_usd == pytest.approx(scoring.total_usd + monitoring.total_usd)
    table = render(month)
    assert "| scoring | 2 | 3 | 5400 |" in table and f"**{month.total_usd:.4f}**" in table


def test_a_month_is_named_yyyy_mm():
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_cost([], "June", PRICES)
