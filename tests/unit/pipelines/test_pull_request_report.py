"""The pull request's model report from two sides' sample runs, built here: the decision is
the promotion's own rule on the flights both scored, and the report says it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.promotion.pull_request import (
    RUN_FILE,
    SCORES_FILE,
    SampleRun,
    merge_decision,
    pull_request_report,
)
from tests.factories import repository_params

ROWS = 4000


def _side(folder: Path, noise: float, seed: int, roc_auc: float) -> tuple[SampleRun, pd.DataFrame]:
    rng = np.random.default_rng(0)
    label = rng.random(ROWS) < 0.25
    signal = label.astype(float) + np.random.default_rng(seed).normal(0, noise, ROWS)
    probability = 1 / (1 + np.exp(-(signal - 0.8)))
    scores = pd.DataFrame(
        {
            "flight_id": [f"2013-02-20_{i}" for i in range(ROWS)],
            "flight_date": "2013-02-20",
            "origin": rng.choice(["EWR", "JFK", "LGA"], ROWS),
            "carrier": rng.choice(["UA", "B6", "EV"], ROWS),
            "dest_region": "mainland",
            "label": label.astype(int),
            "probability": probability,
            "logistic_regression": 1 / (1 + np.exp(-(label + rng.normal(0, 3, ROWS) - 0.8))),
            "base_rate": np.full(ROWS, 0.25),
        }
    )
    run = SampleRun(
        {"train_start": "2013-01-01", "holdout_start": "2013-02-15", "end": "2013-02-28"},
        "hist_gradient_boosting",
        {"holdout_roc_auc": roc_auc, "holdout_log_loss": 0.5},
        2.0,
        ROWS,
    )
    folder.mkdir()
    scores.to_parquet(folder / SCORES_FILE, index=False)
    (folder / RUN_FILE).write_text(json.dumps(asdict(run)))
    return run, scores


def test_a_clearly_better_pull_request_would_be_promoted_and_the_report_says_so(tmp_path):
    policy = repository_params().promotion
    base = _side(tmp_path / "base", noise=1.5, seed=1, roc_auc=0.62)
    head = _side(tmp_path / "head", noise=0.8, seed=2, roc_auc=0.70)
    decision = merge_decision(base, head, policy)
    assert decision.promote, decision.reasons
    report = pull_request_report(
        tmp_path / "base", tmp_path / "head", policy, "| param | old | new |"
    )
    assert "would be promoted" in report and "| param | old | new |" in report
    assert "| holdout_roc_auc | 0.6200 | 0.7000 | +0.0800 |" in report


def test_a_worse_pull_request_would_be_refused_naming_the_check(tmp_path):
    policy = repository_params().promotion
    _side(tmp_path / "base", noise=0.8, seed=2, roc_auc=0.70)
    _side(tmp_path / "head", noise=1.5, seed=1, roc_auc=0.62)
    report = pull_request_report(tmp_path / "base", tmp_path / "head", policy)
    assert "would be refused" in report and "primary_metric_improvement" in report
    assert "No parameter changed." in report


def test_sides_with_no_flight_in_common_decide_nothing(tmp_path):
    policy = repository_params().promotion
    base_run, base_scores = _side(tmp_path / "base", noise=1.0, seed=1, roc_auc=0.6)
    head = _side(tmp_path / "head", noise=1.0, seed=2, roc_auc=0.6)
    other = base_scores.assign(flight_id=base_scores["flight_id"] + "-elsewhere")
    decision = merge_decision((base_run, other), head, policy)
    assert not decision.promote and decision.checks[0].name == "common_holdout"
