"""Time-aware folds and the search over model families on them (small synthetic data)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from features.build import CATEGORICAL_FEATURES, numeric_features
from pipelines.training import search
from pipelines.training.folds import monthly_folds
from tests.factories import repository_params

PARAMS = repository_params()


def _days(first: str, last: str, per_day: int = 3) -> pd.Series:
    days = pd.date_range(first, last, freq="D").strftime("%Y-%m-%d")
    return pd.Series(np.repeat(days, per_day))


def test_a_fold_never_validates_on_a_day_before_or_on_one_it_trains_on():
    dates = _days("2013-01-01", "2013-04-20").sample(frac=1, random_state=0)  # any row order
    folds = monthly_folds(dates, count=3, min_train_days=28)
    assert [f.validate_days for f in folds] == [
        ("2013-02-01", "2013-02-28"),
        ("2013-03-01", "2013-03-31"),
        ("2013-04-01", "2013-04-20"),
    ]
    values = dates.to_numpy()
    for fold in folds:
        assert values[fold.train_index].max() < values[fold.validate_index].min()
        assert set(fold.train_index).isdisjoint(fold.validate_index)
        assert fold.train_days[0] == "2013-01-01"  # expanding: from the first day on
    assert len(folds[0].train_index) < len(folds[1].train_index) < len(folds[2].train_index)


def test_only_the_newest_folds_with_enough_training_days_are_kept():
    dates = _days("2013-01-15", "2013-04-10")
    folds = monthly_folds(dates, count=2, min_train_days=28)
    assert [f.validate_days[0] for f in folds] == ["2013-03-01", "2013-04-01"]
    assert monthly_folds(dates, count=5, min_train_days=28)[0].validate_days[0] == "2013-03-01"
    assert monthly_folds(_days("2013-01-01", "2013-01-25"), 2, 28) == []


def _frame(nonlinear: bool, rows_per_day: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = _days("2013-01-01", "2013-03-31", rows_per_day)
    frame = pd.DataFrame({"flight_id": [f"f{i}" for i in range(len(dates))], "flight_date": dates})
    for column in CATEGORICAL_FEATURES:
        frame[column] = rng.choice(["a", "b", "c"], size=len(frame))
    for column in numeric_features(PARAMS.features):
        frame[column] = rng.normal(size=len(frame))
    x, z = frame["dep_hour"], frame["distance"]
    signal = (x * z > 0).astype(float) * 2 if nonlinear else x + z
    frame["label"] = (signal + rng.normal(scale=0.7, size=len(frame)) > signal.mean()).astype(float)
    return frame


def _params(candidates: int = 4) -> object:
    search_params = dataclasses.replace(
        PARAMS.train.search,
        enabled=True,
        folds=2,
        min_train_days=28,
        candidates=candidates,
        space={
            "hist_gradient_boosting": {"max_leaf_nodes": [3, 7], "learning_rate": [0.1, 0.2]},
            "logistic_regression": {"C": [0.1, 1.0]},
        },
    )
    train = dataclasses.replace(
        PARAMS.train,
        hist_gradient_boosting={"max_iter": 40, "min_samples_leaf": 20, "early_stopping": False},
        search=search_params,
    )
    return dataclasses.replace(PARAMS, train=train)


@pytest.mark.parametrize(
    ("nonlinear", "winner"), [(True, "hist_gradient_boosting"), (False, "logistic_regression")]
)
def test_the_family_that_wins_on_the_folds_is_chosen(nonlinear: bool, winner: str):
    params = _params()
    result = search.tune(_frame(nonlinear), params)
    assert result is not None and result.family == winner, result.summary()
    assert set(result.family_scores) == {"hist_gradient_boosting", "logistic_regression"}
    assert len(result.folds) == 2
    chosen = result.train_params(params.train)
    assert chosen.model == winner and dict(getattr(chosen, winner)) == result.hyperparameters
    # Successive halving: the first round tries more configurations than the last.
    hgb = [t for t in result.trials if t.family == "hist_gradient_boosting"]
    rounds = sorted({t.iteration for t in hgb})
    assert len([t for t in hgb if t.iteration == rounds[0]]) == 4
    if len(rounds) > 1:
        assert len([t for t in hgb if t.iteration == rounds[-1]]) < 4
        assert max(t.rows for t in hgb) > min(t.rows for t in hgb)
    assert all(len(t.fold_scores) == 2 for t in result.trials)


def test_search_off_or_too_few_days_keeps_the_configured_model():
    params = _params()
    off = dataclasses.replace(
        params,
        train=dataclasses.replace(
            params.train, search=dataclasses.replace(params.train.search, enabled=False)
        ),
    )
    assert search.tune(_frame(False), off) is None
    short = _frame(False)
    assert search.tune(short.loc[short["flight_date"] < "2013-01-20"], params) is None


def test_the_best_of_the_last_round_wins_in_the_metrics_orientation():
    trials = [
        search.Trial("f", 0, 10, {"a": 1}, (0.9,), 0.9),  # first round only: not eligible
        search.Trial("f", 1, 30, {"a": 2}, (0.6,), 0.6),
        search.Trial("f", 1, 30, {"a": 3}, (0.7,), 0.7),
    ]
    assert search.best_trial(trials, "roc_auc").hyperparameters == {"a": 3}
    assert search.best_trial(trials, "log_loss").hyperparameters == {"a": 2}
    best = {"x": trials[1], "y": trials[2]}
    assert search.choose_family(best, "roc_auc") == "y"
    assert search.choose_family(best, "log_loss") == "x"
