"""The ground truth of "retraining helps", on streams where the answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.replay.benefit import retraining_benefit


def _stream(rng: np.random.Generator, rows: int, weight_now: float) -> tuple[np.ndarray, ...]:
    """Labels driven by feature `a` with `weight_now`; the serving model learned weight 1.0 on
    `a` plus an old feature `b` that no longer matters, the candidate learned today's weights."""
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    y = (rng.random(rows) < 1 / (1 + np.exp(-(weight_now * a - 1.0)))).astype(int)
    serving = 1 / (1 + np.exp(-(1.0 * a + (1.0 - weight_now) * 2 * b - 1.0)))
    candidate = 1 / (1 + np.exp(-(weight_now * a - 1.0)))
    return y, candidate, serving


def test_a_retraining_after_a_drift_helps_on_both_figures():
    y, candidate, serving = _stream(np.random.default_rng(0), 12_000, weight_now=0.3)
    benefit = retraining_benefit("2013-06-01", "frozen", 1, y, candidate, serving)
    assert benefit.helps
    assert benefit.roc_auc_low > 0 and benefit.roc_auc_difference > 0.01
    assert benefit.log_loss_low > 0  # serving − candidate: the candidate's losses are lower
    assert benefit.candidate_roc_auc > benefit.serving_roc_auc
    assert benefit.as_dict()["helps"] is True


def test_a_stationary_stream_gives_no_benefit():
    """Nothing moved: the candidate learned what the serving model knows."""
    y, candidate, serving = _stream(np.random.default_rng(1), 12_000, weight_now=1.0)
    benefit = retraining_benefit("2013-06-01", "frozen", 1, y, candidate, serving)
    assert not benefit.helps
    assert benefit.roc_auc_difference == pytest.approx(0.0, abs=1e-12)
    assert benefit.roc_auc_low <= 0 <= benefit.roc_auc_high + 1e-12


def test_a_worse_candidate_is_no_benefit():
    y, candidate, serving = _stream(np.random.default_rng(2), 12_000, weight_now=0.3)
    benefit = retraining_benefit("2013-06-01", "frozen", 1, y, serving, candidate)
    assert not benefit.helps and benefit.roc_auc_high < 0 and benefit.log_loss_high < 0
