"""A small slice of `make bench` inside the suite: the scoring benchmark end to end on 20,000
rows (its own MLflow server, gate, publish), so the benchmark cannot rot between runs. The
1M and 10M cases run outside the suite (`make bench`)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_scoring_benchmark_runs_a_small_case_end_to_end():
    from benchmarks import scoring_throughput

    result = scoring_throughput.run({"slice_20k": 20_000})["slice_20k"]
    assert result["rows"] == 20_000
    assert result["end_to_end_seconds"] > 0 and result["raw_predict_seconds"] > 0
    assert 0 < result["throughput_ratio_to_raw"] < 1.5
    assert {"gate_seconds", "shards_seconds", "publish_seconds"} <= set(result)
