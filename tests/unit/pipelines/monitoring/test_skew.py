"""Served inputs against the batch's features of the same flights: equal is no skew, a column
that differs on more than its share is named, the fallback's rows are not compared."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.monitoring.skew import feature_skew

COLUMNS = ("dep_hour", "carrier", "wx_temp")


def _batch() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "flight_id": [f"f{i}" for i in range(10)],
            "dep_hour": np.arange(10, dtype="float64"),
            "carrier": ["UA", "AA"] * 5,
            "wx_temp": [50.0 + i for i in range(9)] + [np.nan],
        }
    )


def _served(batch: pd.DataFrame) -> pd.DataFrame:
    return batch.assign(served_by="champion", request_id="r1")


def test_inputs_served_as_the_batch_built_them_are_no_skew():
    batch = _batch()
    report = feature_skew(_served(batch), batch, COLUMNS, 1e-9, 0.01)
    assert report.skewed == () and report.compared_rows == 10
    assert all(c.differing == 0 for c in report.columns)


def test_a_column_that_differs_beyond_its_share_is_named_with_its_largest_gap():
    batch = _batch()
    served = _served(batch)
    served.loc[:2, "wx_temp"] += 3.0  # a weather hour that landed late: 3 of 10 rows
    served.loc[0, "carrier"] = "B6"  # 1 of 10: at a 20% share, under the bar
    served.loc[9, "dep_hour"] = 9.0 + 1e-12  # within the tolerance
    report = feature_skew(served, batch, COLUMNS, 1e-9, 0.2)
    assert report.skewed == ("wx_temp",)
    by_name = {c.column: c for c in report.columns}
    assert by_name["wx_temp"].differing == 3 and by_name["wx_temp"].max_abs_difference == 3.0
    assert by_name["carrier"].differing == 1 and by_name["dep_hour"].differing == 0


def test_a_value_missing_on_one_side_only_differs_and_the_fallback_is_not_compared():
    batch = _batch()
    served = _served(batch)
    served.loc[4, "wx_temp"] = np.nan
    served.loc[5:, "served_by"] = "fallback"
    report = feature_skew(served, batch, COLUMNS, 1e-9, 0.0)
    assert report.served_rows == 5 and report.compared_rows == 5
    assert report.skewed == ("wx_temp",)


def test_canary_rows_are_compared_and_the_fallback_is_counted_by_reason():
    batch = _batch()
    served = _served(batch)
    served["fallback_reason"] = None
    served.loc[:1, "served_by"] = "challenger"
    served.loc[7:, "served_by"] = "fallback"
    served.loc[7:8, "fallback_reason"] = "weather_stale"
    served.loc[9, "fallback_reason"] = "timeout"
    report = feature_skew(served, batch, COLUMNS, 1e-9, 0.01)
    assert report.served_rows == 7 and report.compared_rows == 7
    assert report.fallbacks == {"timeout": 1, "weather_stale": 2}


def test_the_batch_sample_is_compared_like_the_online_rows():
    batch = _batch()
    served = batch.assign(served_by="batch", request_id="scheduled__2013-02-20")
    served.loc[:4, "wx_temp"] += 1.0  # the store's weather changed after the night's batch
    report = feature_skew(served, batch, COLUMNS, 1e-9, 0.1)
    assert report.served_rows == 10 and report.skewed == ("wx_temp",)
