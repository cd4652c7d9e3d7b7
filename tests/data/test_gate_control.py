"""The control: untouched landed days of 2013 pass, the hardest ones included (the 8-9 Feb
snowstorm, DST changes, Thanksgiving, Christmas). The full year runs outside the suite:
`mlops gate replay --start 2013-01-01 --end 2013-12-31`."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pipelines.data import landing, snapshot
from pipelines.gate.quarantine import gate_landed_batch, list_quarantine
from pipelines.gate.report import DataGateError
from pipelines.gate.snapshot_gate import gate_snapshot
from pipelines.upstream import delivery
from tests.data.conftest import workspace_params

HARD_DAYS = [
    date(2013, 2, 8),
    date(2013, 2, 9),
    date(2013, 3, 10),
    date(2013, 7, 4),
    date(2013, 11, 3),
    date(2013, 11, 28),
    date(2013, 12, 25),
]


@pytest.fixture(scope="module")
def hard_days_landed(tmp_path_factory):
    root = tmp_path_factory.mktemp("control")
    params = workspace_params(root, build_data_docs=False)
    deliveries = set()
    for day in HARD_DAYS:
        deliveries.update(landing.days(day - timedelta(days=8), day + timedelta(days=1)))
    delivery.land_days(params.landing_root, sorted(deliveries))
    return params


@pytest.mark.parametrize("day", HARD_DAYS, ids=str)
def test_untouched_days_pass_both_contracts(hard_days_landed, day):
    for contract in ("scheduled_flights", "outcomes"):
        report = gate_landed_batch(hard_days_landed, contract, day)
        assert report.status == "passed", report.message()
        assert "learned from" in report.parameters["row_count_bounds_source"]
    assert list_quarantine(hard_days_landed) == []


def test_training_snapshot_passes_with_the_weather_outlier_as_a_warning(landed):
    tables = snapshot.collect_snapshot(
        landed.landing_root, landed.data.snapshot_start, landed.data.snapshot_end
    )
    reports = gate_snapshot(landed, tables, "snapshot-test")
    assert all(r.status == "passed" for r in reports)
    weather = next(r for r in reports if r.contract == "reference_weather")
    assert any(w.column == "wind_speed" for w in weather.warnings)  # 1,048 mph in 2013


def test_a_bad_snapshot_table_holds_training_and_is_copied_to_quarantine(landed):
    tables = snapshot.collect_snapshot(
        landed.landing_root, landed.data.snapshot_start, landed.data.snapshot_end
    )
    tables["planes"] = tables["planes"].assign(seats=-1)
    with pytest.raises(DataGateError, match="expect_column_values_to_be_between on 'seats'"):
        gate_snapshot(landed, tables, "snapshot-bad")
    held = [e for e in list_quarantine(landed) if e.contract == "snapshot"]
    assert [(e.batch, e.kind, e.rows) for e in held] == [
        ("snapshot-bad", "table", len(tables["planes"]))
    ]
    assert "expect_column_values_to_be_between(seats)" in held[0].reasons
