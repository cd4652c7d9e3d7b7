"""The paired block bootstrap: its blocks, its weighted ROC AUC, and its intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from pipelines.replay.intervals import _weighted_auc, circular_blocks, paired_block_bootstrap


def _scored(rng: np.random.Generator, days: int = 60, rows: int = 150) -> pd.DataFrame:
    frames = []
    for day in range(days):
        label = rng.integers(0, 2, rows)
        noise = rng.normal(size=rows)
        when = (pd.Timestamp("2013-04-01") + pd.Timedelta(days=day)).date().isoformat()
        for policy, signal in (("guarded", 1.5), ("frozen", 0.3), ("scheduled", 1.5)):
            frames.append(
                pd.DataFrame(
                    {
                        "policy": policy,
                        "flight_date": when,
                        "label": label,
                        "late_probability": 1 / (1 + np.exp(-(signal * label + noise))),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def test_circular_blocks_draw_as_many_days_as_there_are_in_runs_of_the_block():
    rng = np.random.default_rng(0)
    counts = circular_blocks(100, 28, rng)
    assert counts.sum() == 100 and len(counts) == 100
    drawn = np.flatnonzero(counts)
    runs = np.split(drawn, np.flatnonzero(np.diff(drawn) != 1) + 1)
    assert max(len(r) for r in runs) >= 28  # whole blocks, not single days


def test_the_weighted_roc_auc_is_sklearns_with_ties_and_repeats():
    rng = np.random.default_rng(1)
    score = np.round(rng.random(500), 1)  # many ties
    y = (rng.random(500) < score).astype(float)
    order = np.argsort(score, kind="mergesort")
    _, group = np.unique(score[order], return_inverse=True)
    assert _weighted_auc(y[order], group, np.ones(500)) == pytest.approx(roc_auc_score(y, score))
    weight = rng.integers(0, 3, 500).astype(float)
    repeated = np.repeat(np.arange(500), weight.astype(int))
    assert _weighted_auc(y[order], group, weight[order]) == pytest.approx(
        roc_auc_score(y[repeated], score[repeated])
    )


def test_a_better_policy_is_better_on_all_three_figures_with_intervals_above_zero():
    result = paired_block_bootstrap(
        _scored(np.random.default_rng(2)), "guarded", "frozen", "2013-04-01", 200, 0, 28
    )
    assert result["days"] == 60
    for metric in ("pooled_roc_auc", "mean_daily_roc_auc", "pooled_log_loss"):
        assert result[metric]["difference"] > 0 and result[metric]["low"] > 0, metric


def test_identical_policies_differ_by_exactly_zero():
    result = paired_block_bootstrap(
        _scored(np.random.default_rng(3)), "guarded", "scheduled", "2013-04-01", 100, 0, 28
    )
    for metric in ("pooled_roc_auc", "mean_daily_roc_auc", "pooled_log_loss"):
        assert result[metric] == {"difference": 0.0, "low": 0.0, "high": 0.0}


def test_days_before_the_start_are_left_out():
    result = paired_block_bootstrap(
        _scored(np.random.default_rng(4)), "guarded", "frozen", "2013-05-01", 50, 0, 28
    )
    assert result["days"] == 30
