import numpy as np
import pandas as pd

from pipelines.replay.report import paired_bootstrap_auc


def _scored(rng: np.random.Generator, days: int = 30, rows: int = 200) -> pd.DataFrame:
    frames = []
    for day in range(days):
        label = rng.integers(0, 2, rows)
        noise = rng.normal(size=rows)
        for policy, signal in (("guarded", 1.5), ("frozen", 0.3), ("scheduled", 1.5)):
            frames.append(
                pd.DataFrame(
                    {
                        "policy": policy,
                        "flight_date": f"2013-04-{day + 1:02d}",
                        "label": label,
                        "late_probability": 1 / (1 + np.exp(-(signal * label + noise))),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def test_a_better_policy_has_a_positive_difference_with_an_interval_above_zero():
    scored = _scored(np.random.default_rng(0))
    result = paired_bootstrap_auc(scored, "guarded", "frozen", "2013-04-01", 200, seed=0)
    assert result["difference"] > 0.1 and result["low"] > 0
    assert result["days"] == 30


def test_identical_policies_differ_by_exactly_zero():
    scored = _scored(np.random.default_rng(1))
    result = paired_bootstrap_auc(scored, "guarded", "scheduled", "2013-04-01", 100, seed=0)
    assert result["difference"] == 0 and result["low"] == 0 and result["high"] == 0


def test_days_before_the_start_are_left_out():
    scored = _scored(np.random.default_rng(2))
    result = paired_bootstrap_auc(scored, "guarded", "frozen", "2013-04-21", 50, seed=0)
    assert result["days"] == 10
