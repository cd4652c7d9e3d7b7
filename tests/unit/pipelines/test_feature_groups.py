"""Every feature group's contribution and cost are reported; one that neither helps nor has a
written reason to stay is named."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.build import FEATURE_GROUPS, feature_columns
from pipelines.training import feature_groups
from tests.factories import repository_params


def test_every_model_input_belongs_to_exactly_one_group():
    params = repository_params().features
    grouped = [c for columns in feature_groups.group_columns(params).values() for c in columns]
    assert sorted(grouped) == sorted(feature_columns(params))
    assert len(grouped) == len(set(grouped))
    assert feature_groups.ungrouped_features(params) == []
    assert [g.name for g in FEATURE_GROUPS] == list(feature_groups.group_columns(params))


def test_each_group_builds_exactly_its_columns():
    """The columns a group declares are the ones its builder makes (so its cost is its own)."""
    from features.build import BuildInputs, build_group_columns

    params = repository_params().features
    flights = pd.DataFrame(
        {
            "flight_id": ["a", "b"],
            "flight_date": ["2013-01-02", "2013-01-02"],
            "sched_dep_time": [600, 1830],
            "sched_arr_time": [900, 2130],
            "carrier": ["UA", "B6"],
            "origin": ["EWR", "JFK"],
            "dest": ["ORD", "BOS"],
            "distance": [719.0, 187.0],
        }
    )
    weather = pd.DataFrame(
        {"origin": ["EWR", "JFK"], "time_hour": pd.to_datetime(["2013-01-01 12:00"] * 2, utc=True)}
        | {column: [1.0, 2.0] for column in params.weather_columns}
    )
    built, seconds = build_group_columns(BuildInputs(flights, weather, params))
    assert set(seconds) == {g.name for g in FEATURE_GROUPS}
    declared = feature_groups.group_columns(params)
    model_inputs = set(feature_columns(params))
    for group in FEATURE_GROUPS:
        made = {c for c in group.build(BuildInputs(flights, weather, params), built)}
        assert made & model_inputs == set(declared[group.name]), group.name


def _data(rows: int = 4000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"signal": rng.normal(size=rows), "partner": rng.normal(size=rows)}
        | {"noise": rng.normal(size=rows)}
    )
    y = (frame["signal"] + frame["partner"] + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    return frame, y.to_numpy()


def _predict(frame: pd.DataFrame) -> np.ndarray:
    """A 'model' that uses signal and partner and ignores noise."""
    return 1 / (1 + np.exp(-(frame["signal"] + frame["partner"]).to_numpy()))


def test_a_useful_group_helps_and_a_useless_one_is_unjustified_unless_a_reason_is_written():
    inputs, y = _data()
    groups = {"useful": ("signal", "partner"), "useless": ("noise",)}
    contribution = feature_groups.grouped_permutation_drop(
        _predict, inputs, y, groups, repeats=8, sample_rows=10_000, seed=1
    )
    useful = contribution.set_index("group").loc["useful"]
    assert useful["low"] > 0.1 and useful["low"] <= useful["roc_auc_drop"] <= useful["high"]
    useless = contribution.set_index("group").loc["useless"]
    assert useless["roc_auc_drop"] == 0.0  # the model never reads it
    cost = {"useful": 0.5, "useless": 2.0}
    report = feature_groups.group_report(contribution, cost, {"useful": "", "useless": ""}, 5.0)
    assert feature_groups.unjustified_groups(report) == ["useless"]
    assert report.set_index("group").loc["useless", "build_seconds_per_million_rows"] == 2.0
    kept = feature_groups.group_report(
        contribution, cost, {"useless": "needed by on-call pages"}, 5.0
    )
    assert feature_groups.unjustified_groups(kept) == []


def test_a_group_that_helps_but_costs_more_than_its_budget_must_say_why_it_stays():
    inputs, y = _data()
    contribution = feature_groups.grouped_permutation_drop(
        _predict, inputs, y, {"useful": ("signal", "partner")}, repeats=4, sample_rows=5000, seed=1
    )
    dear = feature_groups.group_report(contribution, {"useful": 9.0}, {}, 5.0)
    assert feature_groups.over_budget_groups(dear) == ["useful"]
    assert feature_groups.unjustified_groups(dear) == ["useful"]
    explained = feature_groups.group_report(
        contribution, {"useful": 9.0}, {"useful": "the best signal we have"}, 5.0
    )
    assert feature_groups.unjustified_groups(explained) == []
    unmeasured = feature_groups.group_report(contribution, {}, {}, 5.0)
    assert feature_groups.over_budget_groups(unmeasured) == []


def test_a_group_is_shuffled_together_so_its_joint_signal_counts():
    """Two columns that only help together: shuffling the group shows it; one alone would not
    show all of it."""
    inputs, y = _data(seed=3)
    together = feature_groups.grouped_permutation_drop(
        _predict, inputs, y, {"pair": ("signal", "partner")}, repeats=5, sample_rows=10_000, seed=2
    )
    alone = feature_groups.grouped_permutation_drop(
        _predict, inputs, y, {"one": ("signal",)}, repeats=5, sample_rows=10_000, seed=2
    )
    assert together["roc_auc_drop"].iloc[0] > alone["roc_auc_drop"].iloc[0]
