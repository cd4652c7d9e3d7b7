"""The feature table: the same code for training and scoring, and no post-departure column."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from features.build import (
    FLIGHT_INPUT_COLUMNS,
    FORBIDDEN_COLUMNS,
    attach_labels,
    build_features,
    feature_columns,
    model_inputs,
)
from pipelines.data import landing
from pipelines.upstream import delivery, sources
from tests import factories
from tests.factories import repository_params

PARAMS = repository_params().features


def test_feature_columns_hold_no_outcome():
    assert not set(feature_columns(PARAMS)) & set(FORBIDDEN_COLUMNS)
    assert not set(feature_columns(PARAMS)) & set(landing.OUTCOME_COLUMNS) - {
        "flight_id",
        "flight_date",
    }


def test_scheduled_contract_holds_no_outcome():
    assert not set(landing.SCHEDULED_COLUMNS) & set(FORBIDDEN_COLUMNS)


def test_outcome_columns_are_refused():
    flights = factories.scheduled_flights().assign(arr_delay=1.0)
    with pytest.raises(ValueError, match="arr_delay"):
        build_features(flights, factories.weather(), PARAMS)


def test_tiny_batch_features():
    flights = factories.scheduled_flights()
    table = build_features(flights, factories.weather(), PARAMS)
    assert table["flight_id"].tolist() == flights["flight_id"].tolist()
    assert not [c for c in table.columns if c.startswith("plane_")]  # tail numbers: no (leak)
    assert table.loc[0, "wx_temp"] == 30.0
    assert (table["wx_observed_at"] <= table["cutoff_at"]).all()
    inputs = model_inputs(table, PARAMS)
    assert list(inputs.columns) == list(feature_columns(PARAMS))
    assert all(
        inputs[c].dtype == "float64"
        for c in inputs.columns
        if c not in ("carrier", "origin", "dest")
    )


def test_the_declared_input_columns_are_all_the_features_need():
    """Scoring reads only `FLIGHT_INPUT_COLUMNS` from a landed file: the same features."""
    flights = factories.scheduled_flights()
    assert set(FLIGHT_INPUT_COLUMNS) < set(flights.columns) <= set(landing.SCHEDULED_COLUMNS)
    whole = build_features(flights, factories.weather(), PARAMS)
    narrow = build_features(flights.loc[:, list(FLIGHT_INPUT_COLUMNS)], factories.weather(), PARAMS)
    pd.testing.assert_frame_equal(narrow, whole)
    for column in FLIGHT_INPUT_COLUMNS:  # and each of them is needed
        with pytest.raises(KeyError):
            build_features(flights.drop(columns=column), factories.weather(), PARAMS)


def test_labels_join_by_key_and_keep_unobserved_missing():
    flights = factories.scheduled_flights()
    table = build_features(flights, factories.weather(), PARAMS)
    labelled = attach_labels(table, factories.outcomes(flights, [30.0, 0.0, None]), PARAMS)
    assert labelled["label"].tolist()[:2] == [1.0, 0.0]
    assert pd.isna(labelled["label"].iloc[2])


def test_a_day_scored_alone_equals_the_same_day_in_training():
    """No train/serve skew: nightly scoring builds one day; training builds many at once."""
    flights = sources.source_flights()
    window = [date(2013, 3, 9), date(2013, 3, 10), date(2013, 3, 11)]  # across the DST change
    batches = [delivery.scheduled_flights(flights, day) for day in window]
    weather = sources.source_reference_table("weather")
    together = build_features(pd.concat(batches, ignore_index=True), weather, PARAMS)
    alone = build_features(batches[1], weather, PARAMS)
    expected = together.loc[together["flight_date"] == "2013-03-10"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, expected)


def test_a_new_feature_group_is_built_gated_modelled_and_reported(monkeypatch):
    """Adding a feature is one builder and one `FeatureGroup` entry: the table, the model's
    inputs, the feature-table contract, the drift columns and the group report follow."""
    import numpy as np

    from features import build
    from pipelines.gate import contracts
    from pipelines.training import feature_groups, train

    def weekend(inputs: build.BuildInputs, columns: build.Columns) -> build.Columns:
        return {"is_weekend": (columns["day_of_week"] >= 5).astype("float64")}

    added = build.FeatureGroup("weekend", weekend, lambda params: ("is_weekend",))
    monkeypatch.setattr(build, "FEATURE_GROUPS", (*build.FEATURE_GROUPS, added))

    flights = factories.scheduled_flights(rows=40)
    table = build_features(flights, factories.weather(), PARAMS)
    assert table["is_weekend"].dtype == "float64" and (table["is_weekend"] == 0).all()  # Thursday
    assert feature_columns(PARAMS)[-1] == "is_weekend"
    assert "is_weekend" in model_inputs(table, PARAMS).columns
    contract = contracts.feature_table(PARAMS)
    assert any("is_weekend" in str(e) for e in contract.expectations)
    assert feature_groups.group_columns(PARAMS)["weekend"] == ("is_weekend",)
    labelled = table.assign(label=np.arange(len(table)) % 2)
    model = train.build_model("logistic_regression", {"max_iter": 200}, PARAMS, 0)
    model.fit(model_inputs(labelled, PARAMS), labelled["label"])
    assert "is_weekend" in model.feature_names_in_
