"""Row-level quarantine within the budget, and release after a fix (re-validated)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipelines.data import landing
from pipelines.data.landing import validated_uri
from pipelines.gate.quarantine import (
    gate_landed_batch,
    list_quarantine,
    quarantine_dir,
    release,
)
from pipelines.gate.report import QUARANTINED_ROWS, DataGateError
from tests.data.conftest import TARGET_DAY


def _flights_path(params) -> Path:
    return Path(landing.partition_uri(params.landing_root, "flights", TARGET_DAY))


def _validated_path(params) -> Path:
    return Path(validated_uri(params, "flights", TARGET_DAY))


def test_one_duplicated_flight_is_quarantined_alone_and_the_rest_goes_on(landed):
    path = _flights_path(landed)
    original = pd.read_parquet(path)
    pd.concat([original, original.iloc[[3]]], ignore_index=True).to_parquet(path, index=False)
    report = gate_landed_batch(landed, "scheduled_flights", TARGET_DAY)
    assert report.status == QUARANTINED_ROWS and report.quarantined_rows == 2
    assert "expect_column_values_to_be_unique on 'flight_id'" in report.message()
    landed_bytes = path.read_bytes()
    clean = pd.read_parquet(_validated_path(landed))
    held = pd.read_parquet(Path(report.quarantine_path))
    assert len(clean) == len(original) - 1 and clean["flight_id"].is_unique
    assert len(clean) + len(held) == len(original) + 1, "nothing lost"
    assert set(held["flight_id"]) == {original.iloc[3]["flight_id"]}
    again = gate_landed_batch(landed, "scheduled_flights", TARGET_DAY)  # idempotent re-run
    assert again.status == report.status and again.quarantined_rows == report.quarantined_rows
    assert len(pd.read_parquet(_validated_path(landed))) == len(clean)
    assert len(pd.read_parquet(Path(again.quarantine_path))) == len(held), "no rows appended"
    assert path.read_bytes() == landed_bytes, "the landing zone is never touched"


def test_one_flight_with_a_wrong_route_distance_is_quarantined_alone(landed):
    path = _flights_path(landed)
    original = pd.read_parquet(path)
    wrong = original.copy()
    wrong.loc[5, "distance"] = wrong.loc[5, "distance"] * 3  # a typo in one row, not a unit
    wrong.to_parquet(path, index=False)
    report = gate_landed_batch(landed, "scheduled_flights", TARGET_DAY)
    assert report.status == QUARANTINED_ROWS and report.quarantined_rows == 1
    assert "expect_route_distance_to_match_reference" in report.message()
    held = pd.read_parquet(Path(report.quarantine_path))
    assert list(held["flight_id"]) == [original.loc[5, "flight_id"]]
    assert len(pd.read_parquet(_validated_path(landed))) == len(original) - 1


def test_row_failures_above_the_budget_hold_the_whole_batch(landed):
    path = _flights_path(landed)
    frame = pd.read_parquet(path)
    frame.loc[frame.index[:50], "origin"] = "BOS"  # ~6% of rows: above the 1% budget
    frame.to_parquet(path, index=False)
    with pytest.raises(DataGateError, match="expect_column_values_to_be_in_set on 'origin'"):
        gate_landed_batch(landed, "scheduled_flights", TARGET_DAY)
    assert [e.kind for e in list_quarantine(landed)] == ["batch"]


def test_release_revalidates_a_fixed_batch(landed):
    path = _flights_path(landed)
    original = pd.read_parquet(path)
    original.rename(columns={"dest": "destination"}).to_parquet(path, index=False)
    with pytest.raises(DataGateError):
        gate_landed_batch(landed, "scheduled_flights", TARGET_DAY)
    held = (
        Path(quarantine_dir(landed, "scheduled_flights", f"date={TARGET_DAY}")) / "part-0.parquet"
    )
    with pytest.raises(DataGateError, match="dest"):  # not fixed yet: stays held
        release(landed, "scheduled_flights", TARGET_DAY)
    assert held.exists() and not _validated_path(landed).exists()
    pd.read_parquet(held).rename(columns={"destination": "dest"}).to_parquet(held, index=False)
    report = release(landed, "scheduled_flights", TARGET_DAY)
    assert report.status == "passed"
    pd.testing.assert_frame_equal(pd.read_parquet(_validated_path(landed)), original)
    assert list_quarantine(landed) == []
    again = gate_landed_batch(landed, "scheduled_flights", TARGET_DAY)  # same landed content
    assert again.status == "passed" and again.released_from is not None
    archived = list(
        Path(landed.workspace_path(landed.gate.quarantine_root)).glob("_released/*/*/*/*")
    )
    assert {p.name for p in archived} == {"part-0.parquet", "validation.json"}


def test_released_rows_rejoin_their_day(landed):
    path = _flights_path(landed)
    original = pd.read_parquet(path)
    broken = original.copy()
    broken.loc[broken.index[0], "sched_dep_time"] = 9999
    broken.to_parquet(path, index=False)
    report = gate_landed_batch(landed, "scheduled_flights", TARGET_DAY)
    assert report.quarantined_rows == 1
    held = Path(report.quarantine_path)
    pd.read_parquet(held).assign(sched_dep_time=original.loc[0, "sched_dep_time"]).to_parquet(
        held, index=False
    )
    release(landed, "scheduled_flights", TARGET_DAY)
    restored = pd.read_parquet(_validated_path(landed)).sort_values("flight_id", ignore_index=True)
    pd.testing.assert_frame_equal(restored, original.sort_values("flight_id", ignore_index=True))
