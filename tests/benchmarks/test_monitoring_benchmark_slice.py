"""A small slice of `make bench` inside the suite: the monitoring benchmark on one real day
and a 30,000-row day (sampled to `monitoring.current_sample_rows`, unsampled, and
`DataDriftPreset` on the raw frames), so the benchmark cannot rot between runs."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_monitoring_benchmark_runs_a_small_case_end_to_end():
    from benchmarks import monitoring_throughput

    result = monitoring_throughput.run({"slice_30k": 30_000}, compare_case="slice_30k")
    real = result["real_day"]
    assert real["rows"] > 500 and real["labels_for_previous_day"] == "in"
    assert real["verdict"] in ("ok", "watch", "act") and real["peak_memory_mb"] > 0
    sliced = result["slice_30k"]
    assert sliced["current_rows"] == 30_000 and sliced["sampled_rows"] < 25_000
    assert sliced["verdict_agrees_with_unsampled"] in (True, False)
    assert result["baseline"]["rows"] == 30_000 and result["speedup_vs_data_drift_preset"] > 0
