"""Confidence-based performance estimation against brute force and closed forms."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from pipelines.monitoring.estimate import (
    Calibrator,
    estimated_metrics,
    expected_roc_auc,
    fit_calibrator,
)


def _auc_per_draw(score: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ROC AUC (ties one half) of each row of `labels` against one score vector."""
    ranks = stats.rankdata(score)
    positives = labels.sum(axis=1)
    negatives = labels.shape[1] - positives
    rank_sum = labels @ ranks
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


@pytest.mark.parametrize("decimals", [None, 2], ids=["distinct", "tied"])
def test_expected_roc_auc_is_the_mean_auc_over_simulated_labels(decimals):
    rng = np.random.default_rng(7)
    p = rng.beta(2, 5, size=2000)
    if decimals is not None:
        p = np.round(p, decimals)  # many ties
    labels = (rng.random((300, len(p))) < p).astype(float)
    simulated = _auc_per_draw(p, labels).mean()
    assert expected_roc_auc(p, p) == pytest.approx(simulated, abs=0.005)


def test_expected_roc_auc_is_exact_on_an_enumerated_small_case():
    """E[concordant] / E[pairs] over all 2^6 labelings, ties counted one half."""
    score = np.array([0.1, 0.3, 0.3, 0.3, 0.7, 0.9])
    p = np.array([0.2, 0.6, 0.1, 0.4, 0.5, 0.8])
    concordant = pairs = 0.0
    for labels in itertools.product([0, 1], repeat=len(score)):
        y = np.array(labels)
        weight = float(np.prod(np.where(y == 1, p, 1 - p)))
        for i, j in itertools.product(np.flatnonzero(y == 1), np.flatnonzero(y == 0)):
            pairs += weight
            concordant += weight * (
                1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0.0
            )
    assert expected_roc_auc(score, p) == pytest.approx(concordant / pairs, rel=1e-12)


def test_expected_roc_auc_does_not_depend_on_row_order():
    rng = np.random.default_rng(1)
    score = np.round(rng.random(500), 1)
    p = rng.random(500)
    order = rng.permutation(500)
    assert expected_roc_auc(score[order], p[order]) == pytest.approx(
        expected_roc_auc(score, p), rel=1e-12
    )


def test_all_equal_scores_give_one_half():
    p = np.random.default_rng(3).random(50)
    assert expected_roc_auc(np.full(50, 0.4), p) == pytest.approx(0.5)


def test_expected_roc_auc_of_fewer_than_two_rows_is_nan():
    assert math.isnan(expected_roc_auc(np.array([0.5]), np.array([0.5])))


def test_certain_labels_give_a_perfect_ranking():
    score = np.array([0.1, 0.2, 0.8, 0.9])
    assert expected_roc_auc(score, np.array([0.0, 0.0, 1.0, 1.0])) == pytest.approx(1.0)
    assert expected_roc_auc(score, np.array([1.0, 1.0, 0.0, 0.0])) == pytest.approx(0.0)


def test_estimated_brier_log_loss_and_delay_rate_follow_their_closed_forms():
    calibrator = Calibrator(scores=(0.0, 1.0), probabilities=(0.1, 0.5))  # p = 0.1 + 0.4 s
    score = np.array([0.2, 0.5, 0.8])
    # p = 0.18, 0.30, 0.42; E[(s - y)^2] = (s - p)^2 + p (1 - p)
    brier = ((0.02**2 + 0.18 * 0.82) + (0.2**2 + 0.3 * 0.7) + (0.38**2 + 0.42 * 0.58)) / 3
    log_loss = (
        -(
            (0.18 * math.log(0.2) + 0.82 * math.log(0.8))
            + (0.30 * math.log(0.5) + 0.70 * math.log(0.5))
            + (0.42 * math.log(0.8) + 0.58 * math.log(0.2))
        )
        / 3
    )
    metrics = estimated_metrics(score, calibrator)
    assert metrics["brier"] == pytest.approx(brier, rel=1e-12)
    assert metrics["brier"] == pytest.approx(0.262, rel=1e-12)
    assert metrics["log_loss"] == pytest.approx(log_loss, rel=1e-12)
    assert metrics["delay_rate"] == pytest.approx(0.30, rel=1e-12)
    assert metrics["roc_auc"] == pytest.approx(
        expected_roc_auc(score, np.array([0.18, 0.30, 0.42]))
    )


def test_estimated_brier_is_the_mean_brier_over_simulated_labels():
    rng = np.random.default_rng(11)
    score = rng.random(1000)
    calibrator = Calibrator(scores=(0.0, 1.0), probabilities=(0.05, 0.6))
    p = calibrator(score)
    labels = rng.random((400, len(score))) < p
    simulated = np.mean((score - labels) ** 2)
    assert estimated_metrics(score, calibrator)["brier"] == pytest.approx(simulated, abs=0.002)


def test_fit_calibrator_is_monotone_and_recovers_a_distorted_probability():
    rng = np.random.default_rng(5)
    score = rng.random(20000)
    label = rng.random(len(score)) < score**2  # over-confident scores
    calibrator = fit_calibrator(score, label)
    grid = np.linspace(-0.5, 1.5, 401)
    mapped = calibrator(grid)
    assert np.all(np.diff(mapped) >= 0)
    assert mapped.min() >= 0.0 and mapped.max() <= 1.0
    inner = np.linspace(0.1, 0.9, 17)
    assert np.max(np.abs(calibrator(inner) - inner**2)) < 0.05


def test_a_calibrated_score_stays_close_to_identity():
    rng = np.random.default_rng(6)
    score = rng.random(20000)
    label = rng.random(len(score)) < score
    calibrator = fit_calibrator(score, label)
    inner = np.linspace(0.1, 0.9, 17)
    assert np.max(np.abs(calibrator(inner) - inner)) < 0.05


def test_calibrator_clips_outside_its_fitted_range():
    calibrator = fit_calibrator(np.array([0.2, 0.4, 0.6, 0.8]), np.array([0, 0, 1, 1]))
    assert calibrator(np.array([0.0]))[0] == pytest.approx(calibrator(np.array([0.2]))[0])
    assert calibrator(np.array([1.0]))[0] == pytest.approx(calibrator(np.array([0.8]))[0])
