"""The promotion decision on constructed cases: each check can fail on its own."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pipelines.config import SliceRule
from pipelines.promotion.rules import ModelScores, decide, judged_slice_columns
from pipelines.promotion.statistics import delong_auc_difference, paired_bootstrap_difference
from tests.factories import repository_params

ROWS = 6000
POLICY = dataclasses.replace(
    repository_params().promotion,
    primary_metric="roc_auc",
    min_improvement=0.0,
    calibration_metric="brier",
    baseline_metric="log_loss",
    slices=(SliceRule("origin", 500),),
    slice_tolerance=0.02,
    calibration_tolerance=0.002,
    max_latency_ratio=2.0,
    absolute_floor=0.55,
)


def _world(seed: int = 0):
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=ROWS)
    y = (signal + rng.normal(scale=1.5, size=ROWS) > 0.8).astype(int)
    origin = pd.Series(
        np.where(np.arange(ROWS) % 3 == 0, "JFK", np.where(np.arange(ROWS) % 3 == 1, "EWR", "LGA"))
    )
    return rng, signal, y, pd.DataFrame({"origin": origin})


def _probability(score: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(score - 1.0)))


def _scores(label: str, probability: np.ndarray, speed: float = 1.0) -> ModelScores:
    return ModelScores(label, label, probability, seconds_per_million_rows=speed)


def _models(noise_champion: float, noise_challenger: float, seed: int = 0):
    rng, signal, y, slices = _world(seed)
    champion = _probability(signal + rng.normal(scale=noise_champion, size=ROWS))
    challenger = _probability(signal + rng.normal(scale=noise_challenger, size=ROWS))
    return y, slices, champion, challenger


def test_clear_win_is_promoted():
    y, slices, champion, challenger = _models(noise_champion=2.0, noise_challenger=0.3)
    decision = decide(y, _scores("2", challenger), _scores("1", champion), {}, slices, POLICY)
    assert decision.promote, decision.summary
    assert decision.checks[0].numbers["improvement_low"] > 0


def test_clear_loss_is_rejected():
    y, slices, champion, challenger = _models(noise_champion=0.3, noise_challenger=2.0)
    decision = decide(y, _scores("2", challenger), _scores("1", champion), {}, slices, POLICY)
    assert not decision.promote
    assert any(r.startswith("primary_metric_improvement") for r in decision.reasons)


def test_tiny_win_inside_the_noise_is_rejected():
    rng, signal, y, slices = _world()
    base = signal + rng.normal(scale=1.0, size=ROWS)
    champion = _probability(base)
    challenger = _probability(base + rng.normal(scale=0.05, size=ROWS))  # almost the same model
    decision = decide(y, _scores("2", challenger), _scores("1", champion), {}, slices, POLICY)
    interval = decision.checks[0].numbers["interval"]
    assert interval["low"] < 0 < interval["high"]
    assert not decision.promote and "does not exceed" in decision.reasons[0]


def test_overall_win_with_one_slice_regressing_is_rejected():
    rng, signal, y, slices = _world()
    jfk = (slices["origin"] == "JFK").to_numpy()
    champion = _probability(signal + rng.normal(scale=1.5, size=ROWS))
    noise = np.where(jfk, 2.5, 0.1)  # much better at EWR and LGA, worse at JFK
    challenger = _probability(signal + rng.normal(size=ROWS) * noise)
    decision = decide(y, _scores("2", challenger), _scores("1", champion), {}, slices, POLICY)
    slice_check = next(c for c in decision.checks if c.name == "slices:origin")
    assert decision.checks[0].passed, "it does win overall"
    assert not slice_check.passed and set(slice_check.numbers["regressions"]) == {"JFK"}
    assert not decision.promote


def test_a_challenger_worse_only_on_the_island_airports_is_not_promoted():
    """Inclusion: params.yaml judges the island airports missing from `airports` (each too
    small alone) together as one slice, so a model may not trade them away."""
    policy = dataclasses.replace(POLICY, slices=repository_params().promotion.slices)
    assert "dest_region" in {rule.column for rule in policy.slices}
    rng, signal, y, by_origin = _world(seed=7)
    position = np.arange(ROWS) % 6
    frame = by_origin.assign(
        dest=np.where(position == 0, "SJU", np.where(position == 1, "BQN", "ORD")),
        carrier=np.where(position % 2 == 0, "B6", "UA"),
        dep_hour=8,
    )
    slices = judged_slice_columns(frame, policy)
    islands = frame["dest"].isin(["SJU", "BQN"]).to_numpy()
    champion = _probability(signal + rng.normal(scale=1.5, size=ROWS))
    challenger = _probability(signal + rng.normal(size=ROWS) * np.where(islands, 3.0, 0.1))
    decision = decide(y, _scores("2", challenger), _scores("1", champion), {}, slices, policy)
    check = next(c for c in decision.checks if c.name == "slices:dest_region")
    assert decision.checks[0].passed, "it does win overall"
    assert not check.passed and set(check.numbers["regressions"]) == {"islands"}
    assert not decision.promote


def test_worse_calibration_is_rejected():
    y, slices, champion, challenger = _models(noise_champion=1.0, noise_challenger=0.5)
    overconfident = np.clip(challenger * 1.6, 0, 1)  # same ranking, worse probabilities
    decision = decide(y, _scores("2", overconfident), _scores("1", champion), {}, slices, POLICY)
    assert not next(c for c in decision.checks if c.name == "calibration").passed


def test_slower_than_the_budget_is_rejected():
    y, slices, champion, challenger = _models(noise_champion=2.0, noise_challenger=0.3)
    decision = decide(
        y,
        _scores("2", challenger, speed=5.0),
        _scores("1", champion, speed=1.0),
        {},
        slices,
        POLICY,
    )
    assert not decision.promote and "inference_speed" in decision.reasons[0]


@pytest.mark.parametrize("unmeasured", ["challenger", "champion"])
def test_an_unmeasured_inference_speed_is_rejected_not_waved_through(unmeasured):
    y, slices, champion, challenger = _models(noise_champion=2.0, noise_challenger=0.3)
    speeds = {"challenger": 1.0, "champion": 1.0, unmeasured: None}
    decision = decide(
        y,
        ModelScores("challenger", "2", challenger, speeds["challenger"]),
        ModelScores("champion", "1", champion, speeds["champion"]),
        {},
        slices,
        POLICY,
    )
    check = next(c for c in decision.checks if c.name == "inference_speed")
    assert not check.passed and f"not measured for the {unmeasured}" in check.detail
    assert not decision.promote
    measured = decide(y, _scores("2", challenger), _scores("1", champion), {}, slices, POLICY)
    assert next(c for c in measured.checks if c.name == "inference_speed").passed


def test_no_champion_needs_the_floor_and_both_baselines():
    y, slices, _, challenger = _models(noise_champion=1.0, noise_challenger=0.5)
    base_rate = np.full(ROWS, y.mean())
    good = decide(y, _scores("1", challenger), None, {"base_rate": base_rate}, slices, POLICY)
    assert good.promote and good.champion_version is None
    useless = decide(
        y, _scores("1", np.full(ROWS, 0.9)), None, {"base_rate": base_rate}, slices, POLICY
    )
    assert not useless.promote
    assert {r.split(":")[0] for r in useless.reasons} >= {"absolute_floor", "beats_baseline"}


def test_a_first_model_below_the_floor_on_one_sized_slice_is_not_promoted():
    """Good overall, but no better than chance for JFK's flights: a first model may not serve
    a sized slice that badly."""
    rng, signal, y, slices = _world(seed=4)
    probability = _probability(signal + rng.normal(scale=0.5, size=ROWS))
    jfk = (slices["origin"] == "JFK").to_numpy()
    probability[jfk] = rng.uniform(size=int(jfk.sum()))  # unrelated to the outcome
    base_rate = np.full(ROWS, y.mean())
    policy = dataclasses.replace(POLICY, slice_floor=0.55)
    decision = decide(y, _scores("1", probability), None, {"base_rate": base_rate}, slices, policy)
    assert not decision.promote
    (reason,) = [r for r in decision.reasons if r.startswith("slice_floor")]
    assert "JFK" in reason and "EWR" not in reason and "LGA" not in reason, decision.reasons
    fine = decide(
        y,
        _scores("1", _probability(signal + rng.normal(scale=0.5, size=ROWS))),
        None,
        {"base_rate": base_rate},
        slices,
        policy,
    )
    assert fine.promote, fine.reasons


def test_a_challenger_that_loses_to_logistic_regression_is_not_promoted_even_beating_the_champion():
    """Every decision, not only the first: a simpler model significantly better on the holdout
    stops the promotion, and the record says the simpler model wins."""
    rng, signal, y, slices = _world(seed=5)
    champion = _probability(signal + rng.normal(scale=2.0, size=ROWS))
    challenger = _probability(signal + rng.normal(scale=1.0, size=ROWS))
    logistic = _probability(signal + rng.normal(scale=0.3, size=ROWS))
    base_rate = np.full(ROWS, y.mean())
    baselines = {"logistic_regression": logistic, "base_rate": base_rate}
    decision = decide(
        y, _scores("2", challenger), _scores("1", champion), baselines, slices, POLICY
    )
    assert not decision.promote
    reasons = [r for r in decision.reasons if r.startswith("simpler_model")]
    assert reasons and all("logistic_regression" in r for r in reasons)
    assert "the simpler model (logistic_regression) is better" in reasons[0]
    passed = {c.name for c in decision.checks if c.passed}
    assert {"primary_metric_improvement", "simpler_model:base_rate:roc_auc"} <= passed


def test_a_tie_with_the_simpler_model_passes_not_worse_and_fails_beat():
    rng, signal, y, slices = _world(seed=6)
    champion = _probability(signal + rng.normal(scale=2.0, size=ROWS))
    challenger = _probability(signal + rng.normal(scale=0.5, size=ROWS))
    twin = challenger + rng.normal(scale=1e-4, size=ROWS)  # the same ranking and losses
    baselines = {"logistic_regression": np.clip(twin, 1e-6, 1 - 1e-6)}
    lenient = decide(y, _scores("2", challenger), _scores("1", champion), baselines, slices, POLICY)
    assert lenient.promote, lenient.reasons
    strict_policy = dataclasses.replace(
        POLICY, simpler_models=dataclasses.replace(POLICY.simpler_models, rule="beat")
    )
    strict = decide(
        y, _scores("2", challenger), _scores("1", champion), baselines, slices, strict_policy
    )
    assert not strict.promote
    assert all("no significant difference" in r for r in strict.reasons)


def test_delong_agrees_with_a_paired_bootstrap():
    y, _, champion, challenger = _models(noise_champion=1.0, noise_challenger=0.7)
    delong = delong_auc_difference(y, challenger, champion, 0.95)
    bootstrap = paired_bootstrap_difference("roc_auc", y, challenger, champion, 300, 0.95, 1)
    assert delong.estimate == pytest.approx(bootstrap.estimate, abs=1e-9)
    assert delong.low == pytest.approx(bootstrap.low, abs=0.01)
    assert delong.high == pytest.approx(bootstrap.high, abs=0.01)


def test_loss_metrics_use_a_paired_bootstrap():
    y, slices, champion, challenger = _models(noise_champion=2.0, noise_challenger=0.3)
    policy = dataclasses.replace(POLICY, primary_metric="log_loss")
    decision = decide(y, _scores("2", challenger), _scores("1", champion), {}, slices, policy)
    assert decision.checks[0].numbers["interval"]["method"] == "paired_bootstrap"
    assert decision.checks[0].passed


def test_the_decision_record_lists_the_weakest_and_the_small_slices():
    from pipelines.promotion.record import render_markdown

    nan = float("nan")
    record = {
        "registered_model": "m",
        "decision": {
            "promote": False,
            "summary": "REJECT",
            "challenger_version": "2",
            "champion_version": "1",
            "checks": [],
        },
        "challenger_run_id": "r2",
        "champion_run_id": "r1",
        "holdout": {"start": "2013-03-01", "end": "2013-03-07", "rows": 900},
        "data_version": {"md5": "x", "git_rev": "y"},
        "code_version": "z",
        "metrics": {},
        "metrics_order": ["roc_auc"],
        "slices": {
            "challenger": [
                {
                    "column": "dest",
                    "value": "ORD",
                    "rows": 800,
                    "delay_rate": 0.2,
                    "small": False,
                    "roc_auc": 0.61,
                },
                {
                    "column": "dest",
                    "value": "SJU",
                    "rows": 30,
                    "delay_rate": 0.3,
                    "small": True,
                    "roc_auc": nan,
                },
            ],
            "champion": [
                {
                    "column": "dest",
                    "value": "ORD",
                    "rows": 800,
                    "delay_rate": 0.2,
                    "small": False,
                    "roc_auc": 0.64,
                },
            ],
        },
    }
    page = render_markdown(record)
    assert "| dest=ORD | 800 | 0.20 | 0.610 | 0.640 |" in page
    assert "| dest=SJU | 30 | 0.30 | — | — |" in page


@pytest.mark.parametrize(
    ("tags", "passed"),
    [
        ({"code.source_dirty": "false", "params.git_dirty": "false", "code.git_rev": "a"}, True),
        ({"code.source_dirty": "true", "params.git_dirty": "false"}, False),
        ({"code.source_dirty": "false", "params.git_dirty": "true"}, False),  # dvc exp run -S
        ({"code.git_dirty": "true"}, True),  # a landed dvc.lock: not the code that fits
        ({}, True),  # fitted outside train_and_log: no provenance to judge
    ],
)
def test_a_model_trained_from_an_uncommitted_tree_is_not_promoted(tags, passed):
    from pipelines.promotion.rules import Decision, committed_tree_check, with_check

    check = committed_tree_check(tags)
    assert check.passed is passed
    clean = Decision(True, "2", "1", ())
    decided = with_check(clean, check)
    assert decided.promote is passed and decided.checks == (check,)
    if not passed:
        assert "uncommitted changes" in decided.summary and "--force" in decided.summary
    assert not with_check(Decision(False, "2", "1", ()), check).promote  # never makes a yes
