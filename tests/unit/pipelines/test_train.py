"""Training on small synthetic data: split, model families, determinism, failure paths."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pandas as pd
import pytest

from features.build import CATEGORICAL_FEATURES, numeric_features
from pipelines.training import evaluate, train
from tests.factories import repository_params

FEATURES = repository_params().features
TRAIN = dataclasses.replace(
    repository_params().train,
    holdout_start=date(2013, 1, 20),
    model="hist_gradient_boosting",
    hist_gradient_boosting={"max_iter": 30, "max_leaf_nodes": 7, "learning_rate": 0.1},
    logistic_regression={"C": 1.0, "max_iter": 500},
)


def _labelled(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "flight_id": [f"f{i}" for i in range(rows)],
            "flight_date": pd.date_range("2013-01-01", periods=rows, freq="h").strftime("%Y-%m-%d")[
                :rows
            ],
        }
    )
    for column in CATEGORICAL_FEATURES:
        frame[column] = rng.choice(["a", "b", "c"], size=rows)
    for column in numeric_features(FEATURES):
        frame[column] = rng.normal(size=rows)
    signal = frame["dep_hour"] + (frame["carrier"] == "a") * 1.5
    frame["label"] = (signal + rng.normal(scale=0.5, size=rows) > 0.8).astype(float)
    frame.loc[::50, "label"] = np.nan  # cancelled
    return frame


def test_temporal_split_holds_out_the_later_days_and_drops_unlabelled():
    split = train.temporal_split(_labelled(), TRAIN.holdout_start)
    assert split.train["flight_date"].max() < "2013-01-20" <= split.holdout["flight_date"].min()
    assert split.train["label"].notna().all() and split.holdout["label"].notna().all()


def test_split_outside_the_data_is_an_error():
    with pytest.raises(ValueError, match="holdout_start"):
        train.temporal_split(_labelled(), date(2014, 1, 1))


@pytest.mark.parametrize("family", ["hist_gradient_boosting", "logistic_regression"])
def test_each_family_learns_the_signal_and_handles_unseen_categories(family: str):
    params = dataclasses.replace(TRAIN, model=family)
    split = train.temporal_split(_labelled(), params.holdout_start)
    model = train.fit_model(split.train, params, FEATURES)
    holdout = split.holdout.copy()
    holdout.loc[holdout.index[0], "carrier"] = "never-seen"
    probability = train.predict_late_probability(model, holdout, FEATURES)
    assert np.all((probability >= 0) & (probability <= 1))
    assert (
        evaluate.classification_metrics(holdout["label"].to_numpy(), probability)["roc_auc"] > 0.8
    )


def test_training_is_deterministic():
    split = train.temporal_split(_labelled(), TRAIN.holdout_start)
    first = train.predict_late_probability(
        train.fit_model(split.train, TRAIN, FEATURES), split.holdout, FEATURES
    )
    second = train.predict_late_probability(
        train.fit_model(split.train, TRAIN, FEATURES), split.holdout, FEATURES
    )
    np.testing.assert_array_equal(first, second)


def test_metrics_of_known_predictions():
    y = np.array([0, 0, 1, 1])
    perfect = evaluate.classification_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect["roc_auc"] == 1.0 and perfect["pr_auc"] == 1.0
    assert perfect["brier"] == pytest.approx((0.01 + 0.04 + 0.04 + 0.01) / 4)
    base = evaluate.base_rate_probability(np.array([0, 1, 1, 1]), 3)
    assert base.tolist() == [0.75] * 3


def test_holdout_metrics_by_week_since_the_cutoff():
    """Staleness: week 1 is the cutoff's first 7 days; a week with one class has no ROC AUC."""
    import numpy as np
    import pandas as pd

    from pipelines.training.evaluate import metrics_by_week

    dates = pd.Series(["2013-11-01", "2013-11-03", "2013-11-07", "2013-11-08", "2013-11-15"] * 2)
    y = np.array([1, 0, 1, 0, 1, 0, 1, 0, 1, 1])
    p = np.array([0.9, 0.1, 0.8, 0.3, 0.6, 0.2, 0.7, 0.4, 0.5, 0.5])
    weekly = metrics_by_week(dates, y, p, "2013-11-01").set_index("week")
    assert weekly.index.tolist() == [1, 2, 3]
    assert weekly.loc[1, "rows"] == 6 and weekly.loc[2, "rows"] == 2 and weekly.loc[3, "rows"] == 2
    assert weekly.loc[1, "roc_auc"] == 1.0
    assert weekly.loc[3, "delay_rate"] == 1.0 and pd.isna(weekly.loc[3, "roc_auc"])


def test_every_slice_value_is_reported_and_small_ones_are_flagged_without_an_auc():
    import numpy as np
    import pandas as pd

    from pipelines.training.evaluate import slice_quality, weakest_slices

    rng = np.random.default_rng(0)
    rows = 1200
    holdout = pd.DataFrame(
        {
            "carrier": ["UA", "B6"] * (rows // 2),
            "dest": ["ORD"] * (rows - 130) + ["SJU"] * 90 + ["BQN"] * 40,  # island airports
            "origin": ["EWR", "JFK", "LGA"] * (rows // 3),
            "dep_hour": [6, 12, 15, 19, 23, 2] * (rows // 6),
        }
    )
    y = rng.integers(0, 2, rows)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, rows), 0, 1)
    table = slice_quality(holdout, y, p, min_rows=100).set_index(["column", "value"])
    assert set(table.loc["dest"].index) == {"ORD", "SJU", "BQN"}
    assert bool(table.loc[("dest", "SJU"), "small"]) and np.isnan(
        table.loc[("dest", "SJU"), "roc_auc"]
    )
    assert table.loc[("dest", "ORD"), "roc_auc"] > 0.6
    # each island airport is small alone; together they are judged like any sized slice
    assert table.loc[("dest_region", "islands"), "rows"] == 130
    assert not bool(table.loc[("dest_region", "islands"), "small"])
    assert table.loc[("dest_region", "islands"), "roc_auc"] > 0.6
    assert table.loc[("dest_region", "mainland"), "rows"] == rows - 130
    assert set(table.loc["dep_hour_band"].index) == {"05-09", "10-13", "14-17", "18-21", "22-04"}
    assert table.loc[("dep_hour_band", "22-04"), "rows"] == rows // 3
    assert "ROC AUC" in weakest_slices(table.reset_index())
