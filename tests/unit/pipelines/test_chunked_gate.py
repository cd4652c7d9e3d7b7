"""Merging per-chunk Great Expectations results into the batch's verdict."""

from __future__ import annotations

from typing import Any

from pipelines.gate.chunked import (
    PROPORTION,
    merge_chunk_results,
    split_contract,
    whole_batch_columns,
)
from pipelines.gate.contracts import scheduled_flights
from tests.factories import repository_params


def _column_map(unexpected: int, element: int, missing: int = 0, mostly: float | None = None):
    kwargs: dict[str, Any] = {"column": "carrier"}
    if mostly is not None:
        kwargs["mostly"] = mostly
    nonmissing = element - missing
    success = (
        unexpected == 0 if mostly is None else (nonmissing - unexpected) / nonmissing >= mostly
    )
    return {
        "type": "expect_column_values_to_be_in_set",
        "kwargs": kwargs,
        "severity": "critical",
        "success": success,
        "result": {
            "element_count": element,
            "missing_count": missing,
            "unexpected_count": unexpected,
            "partial_unexpected_list": ["ZZ"] * min(unexpected, 3),
        },
        "exception_info": {"raised_exception": False},
    }


def _proportion(observed: float, minimum: float):
    return {
        "type": PROPORTION,
        "kwargs": {"column": "tailnum", "min_value": minimum, "max_value": 1.0},
        "severity": "critical",
        "success": observed >= minimum,
        "result": {"observed_value": observed},
        "exception_info": {},
    }


def test_mostly_is_judged_on_the_batch_not_on_each_chunk():
    # 3 unknown of 100 in one chunk (97% < mostly), none in the other 900: 99.7% overall.
    chunks = [[_column_map(3, 100, mostly=0.99)], [_column_map(0, 900, mostly=0.99)]]
    (merged,) = merge_chunk_results(chunks, [100, 900])
    assert merged.success
    assert merged.result["unexpected_count"] == 3 and merged.result["element_count"] == 1000
    assert round(merged.result["unexpected_percent"], 2) == 0.3


def test_mostly_fails_when_the_sums_say_so_though_each_chunk_passes_alone():
    chunks = [[_column_map(1, 100, mostly=0.99)], [_column_map(1, 100, mostly=0.99)]]
    assert merge_chunk_results(chunks, [100, 100])[0].success
    chunks = [[_column_map(1, 100, mostly=0.995)], [_column_map(1, 100, mostly=0.995)]]
    assert not merge_chunk_results(chunks, [100, 100])[0].success


def test_unexpected_values_without_mostly_fail_the_batch_and_are_counted_with_missing():
    chunks = [[_column_map(0, 100, missing=10)], [_column_map(2, 100, missing=20)]]
    (merged,) = merge_chunk_results(chunks, [100, 100])
    assert not merged.success
    assert merged.result["unexpected_count"] == 2 and merged.result["missing_count"] == 30
    assert merged.result["partial_unexpected_list"] == ["ZZ", "ZZ"]


def test_null_shares_are_weighted_by_chunk_size():
    # 50% non-null in a chunk of 100, 100% in a chunk of 900: 95% overall, above the 90% floor.
    (merged,) = merge_chunk_results([[_proportion(0.5, 0.9)], [_proportion(1.0, 0.9)]], [100, 900])
    assert merged.success and abs(merged.result["observed_value"] - 0.95) < 1e-12
    (merged,) = merge_chunk_results([[_proportion(0.5, 0.9)], [_proportion(1.0, 0.9)]], [500, 500])
    assert not merged.success


def test_an_error_in_any_chunk_fails_the_expectation_with_its_message():
    errored = _column_map(0, 100) | {
        "success": False,
        "exception_info": {"raised_exception": True, "exception_message": "no column carrier"},
    }
    (merged,) = merge_chunk_results([[_column_map(0, 100)], [errored]], [100, 100])
    assert not merged.success and merged.exception_info["exception_message"] == "no column carrier"


def test_row_count_and_uniqueness_are_judged_on_the_whole_batch_by_key_only():
    chunk, whole = split_contract(scheduled_flights(repository_params().gate))
    whole_types = {e.expectation_type for e in whole.expectations}
    assert whole_types == {
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_be_unique",
    }
    assert not whole_types & {e.expectation_type for e in chunk.expectations}
    assert whole_batch_columns(whole) == ["flight_id"]


def test_equal_keys_are_spilled_into_the_same_bucket(tmp_path):
    import pandas as pd

    from pipelines.gate.chunked import spill_key_buckets

    keys = [f"2013-01-01_UA{i}_EWR" for i in range(1000)] + ["2013-01-01_UA7_EWR"]
    path = tmp_path / "batch.parquet"
    pd.DataFrame({"flight_id": keys, "x": range(1001)}).to_parquet(path, row_group_size=300)
    buckets = spill_key_buckets(str(path), ["flight_id"], 1001, 200, str(tmp_path))
    assert len(buckets) == 6
    frames = [pd.read_parquet(bucket) for bucket in buckets]
    assert sum(len(f) for f in frames) == 1001 and all(
        list(f.columns) == ["flight_id"] for f in frames
    )
    assert [f["flight_id"].duplicated().sum() for f in frames].count(1) == 1  # both copies together
    assert max(len(f) for f in frames) < 400, "buckets stay near their size"


def test_schedule_counts_survive_storage_between_tasks():
    import pandas as pd

    from features.schedule import ScheduleCounts, count_schedule

    day = count_schedule(
        pd.Series(["2013-01-01"] * 3),
        pd.Series(["EWR", "JFK", "EWR"]),
        pd.Series(["UA", "UA", "B6"]),
        pd.Series([5.0, 5.0, 6.0]),
    )
    again = ScheduleCounts.from_frame(day.to_frame())
    assert again.origin_hour.equals(day.origin_hour) and again.carrier_day.equals(day.carrier_day)


def test_the_flight_id_date_pattern_accepts_exactly_the_batch_dates():
    import re
    from datetime import date, timedelta

    from pipelines.gate.contracts import flight_id_date_pattern

    year = [(date(2013, 1, 1) + timedelta(days=i)).isoformat() for i in range(365)]
    pattern = re.compile(flight_id_date_pattern(year[10:40]))
    for day in year:
        matched = bool(pattern.match(f"{day}_UA1545_EWR"))
        assert matched == (day in year[10:40]), day
    assert not pattern.match("2013-01-15UA1545_EWR") and not pattern.match("x2013-01-15_UA1")
    one = re.compile(flight_id_date_pattern(["2013-06-14"]))
    assert one.match("2013-06-14_B6_JFK") and not one.match("2013-06-15_B6_JFK")
