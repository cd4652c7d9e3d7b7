"""A small slice of `make bench` inside the suite: the monitoring benchmark on one real day
and a 30,000-row day (sampled to `monitoring.current_sample_rows`, unsampled, and
`DataDriftPreset` on the raw frames), so the benchmark cannot rot between runs."""

from __future__ import annotations

import pytest

from tests.factories import verdict_level

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_monitoring_benchmark_runs_a_small_case_end_to_end():
    from benchmarks import monitoring_throughput

    result = monitoring_throughput.run({"slice_30k": 30_000}, compare_case="slice_30k")
    real = result["real_day"]
    assert real["rows"] == 989 and real["labels_for_previous_day"] == "in"  # 13 June 2013
    assert real["verdict"] == verdict_level(real["triggers"]), real
    sliced = result["slice_30k"]
    assert sliced["current_rows"] == 30_000 and sliced["sampled_rows"] < 25_000
    # A day of 30,000 flights has ~30 times a normal day's per-airport and per-carrier counts:
    # the count features must drift, sampled or not, and the sample must not change the answer.
    assert {"origin_day_flights", "carrier_day_flights"} <= set(sliced["drifted"]), sliced
    assert sliced["drifted"] == sliced["unsampled_drifted"]
    assert sliced["drift_verdict"] == sliced["unsampled_drift_verdict"] != "ok"
    assert sliced["verdict_agrees_with_unsampled"] is True
    assert result["baseline"]["rows"] == 30_000  # its time is the benchmark's to report
