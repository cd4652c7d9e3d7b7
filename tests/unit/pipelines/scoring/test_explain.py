"""`mlops explain` on a toy model fit in the test: the contributions add up to the probability,
the feature the model depends on comes first, and what is missing is named."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.build import CATEGORICAL_FEATURES, build_features, day_schedule_counts, model_inputs
from pipelines.registry import ModelVersionRef
from pipelines.scoring.explain import (
    Attribution,
    ExplainError,
    Explanation,
    PublishedScore,
    explain_flight,
    feature_contributions,
    published_score,
    read_published_score,
    render_table,
)
from tests.factories import repository_params, scheduled_flights, weather

DAY = date(2013, 1, 10)
PINNED = ModelVersionRef("flight-delay", None, "3", "run-3", "md5-3", 0.4)


def _day_features(rows: int = 80) -> pd.DataFrame:
    """A day of flights whose distances spread out (the one input the toy label reads)."""
    flights = scheduled_flights(rows, DAY.isoformat())
    flights["flight_id"] = [f"{DAY}_F{i}" for i in range(rows)]
    flights["distance"] = np.linspace(100.0, 2500.0, rows)
    flights["sched_dep_time"] = [600 + (i % 12) * 100 for i in range(rows)]
    flights["sched_arr_time"] = flights["sched_dep_time"] + 200
    params = repository_params()
    return build_features(flights, weather(), params.features, day_schedule_counts(flights))


def _toy_model(features: pd.DataFrame):  # type: ignore[no-untyped-def]
    """Late when the flight is long: the model depends on `distance` and on nothing else."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    inputs = model_inputs(features, repository_params().features)
    labels = (inputs["distance"] > 1300.0).astype(int)
    numeric = [c for c in inputs.columns if c not in CATEGORICAL_FEATURES]
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    imputer = SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True)
    preprocess = ColumnTransformer(
        [("categorical", encoder, list(CATEGORICAL_FEATURES)), ("numeric", imputer, numeric)]
    )
    classifier = HistGradientBoostingClassifier(max_iter=30, min_samples_leaf=5, random_state=0)
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)]).fit(inputs, labels)


@pytest.fixture(scope="module")
def day() -> tuple[pd.DataFrame, object]:
    features = _day_features()
    return features, _toy_model(features)


def _published(features: pd.DataFrame, model, row: int) -> PublishedScore:  # type: ignore[no-untyped-def]
    inputs = model_inputs(features, repository_params().features)
    probability = float(model.predict_proba(inputs.iloc[[row]])[:, 1][0])
    return PublishedScore(
        DAY.isoformat(), features["flight_id"].iloc[row], probability, probability >= 0.4, "3"
    )


def test_contributions_add_up_to_the_probability_and_the_distance_leads(day):
    features, model = day
    params = repository_params()
    published = _published(features, model, 70)  # a long flight: late
    explained = explain_flight(published, features, model, PINNED, 0.4, params)
    attribution = explained.attribution
    total = attribution.base_value + sum(c.contribution for c in attribution.contributions)
    assert total == pytest.approx(explained.probability, abs=1e-9)
    assert attribution.output == pytest.approx(explained.probability, abs=1e-9)
    assert attribution.contributions[0].feature == "distance"
    assert attribution.contributions[0].contribution > 0.3
    assert all(abs(c.contribution) < 1e-9 for c in attribution.contributions[1:])
    assert explained.matches_published and explained.decision
    assert explained.background_rows == min(params.explain.background_rows, len(features) - 1)
    assert explained.features["distance"] == pytest.approx(features["distance"].iloc[70])
    as_json = json.loads(json.dumps(explained.as_dict()))
    assert as_json["scale"] == "probability" and as_json["matches_published"] is True
    assert as_json["contributions"][0]["feature"] == "distance"
    assert as_json["model"]["version"] == "3" and as_json["threshold"] == 0.4


def test_the_contributions_are_seeded_and_the_categories_go_back_as_strings(day):
    features, model = day
    inputs = model_inputs(features, repository_params().features)
    background = inputs.iloc[:30]
    first = feature_contributions(model, inputs.iloc[[5]], background, 200, seed=1)
    again = feature_contributions(model, inputs.iloc[[5]], background, 200, seed=1)
    assert first == again
    carrier = next(c for c in first.contributions if c.feature == "carrier")
    assert carrier.value == inputs["carrier"].iloc[5]


def test_a_rebuilt_probability_that_differs_is_said_plainly(day):
    features, model = day
    published = dataclasses.replace(_published(features, model, 10), late_probability=0.99)
    explained = explain_flight(published, features, model, PINNED, 0.4, repository_params())
    assert not explained.matches_published
    table = render_table(explained)
    assert "DOES NOT MATCH the published 0.990000" in table
    assert "probability scale" in table and "distance" in table


def test_an_unknown_flight_is_named():
    predictions = pd.DataFrame(
        {
            "flight_id": ["a", "b"],
            "late_probability": [0.1, 0.8],
            "predicted_late": [False, True],
            "model_version": ["3", "3"],
        }
    )
    assert published_score(predictions, DAY, "b") == PublishedScore(
        DAY.isoformat(), "b", 0.8, True, "3"
    )
    with pytest.raises(
        ExplainError,
        match=r"flight 'zz' is not in the published predictions of 2013-01-10 \(2 flights",
    ):
        published_score(predictions, DAY, "zz")


def test_a_flight_missing_from_the_validated_store_is_named(day):
    features, model = day
    published = dataclasses.replace(_published(features, model, 3), flight_id="gone")
    with pytest.raises(ExplainError, match="not in the validated store"):
        explain_flight(published, features, model, PINNED, 0.4, repository_params())


def _workspace(tmp_path: Path) -> Path:
    from pipelines.config import REPO_ROOT

    (tmp_path / "params.yaml").write_text((REPO_ROOT / "params.yaml").read_text())
    return tmp_path / "params.yaml"


def test_a_day_not_published_is_named(tmp_path: Path):
    from pipelines.config import load_params

    params = load_params(_workspace(tmp_path))
    with pytest.raises(ExplainError, match="no published predictions for 2013-01-10"):
        read_published_score(params, DAY, "x")


def test_the_command_fails_cleanly_naming_the_missing_day(tmp_path: Path):
    from pipelines.cli import app

    result = CliRunner().invoke(
        app,
        ["explain", "--date", "2013-01-10", "--flight", "x", "--params", str(_workspace(tmp_path))],
    )
    assert result.exit_code == 1
    assert "no published predictions for 2013-01-10" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_the_table_shows_the_score_the_threshold_and_the_version():
    explanation = Explanation(
        PublishedScore(DAY.isoformat(), "f1", 0.7, True, "3"),
        PINNED,
        0.4,
        0.7,
        {"distance": 1500.0},
        Attribution(0.3, 0.7, ()),
        10,
    )
    table = render_table(explanation)
    assert "version 3" in table and "threshold 0.4000" in table
    assert "late probability 0.700000: predicted late" in table
    assert "matches the published probability" in table


def test_the_command_says_a_mismatch_and_exits_2(day, monkeypatch: pytest.MonkeyPatch, tmp_path):
    from pipelines.cli import app
    from pipelines.scoring import explain

    features, model = day
    published = dataclasses.replace(_published(features, model, 10), late_probability=0.99)
    explained = explain_flight(published, features, model, PINNED, 0.4, repository_params())
    monkeypatch.setattr(explain, "explain_published", lambda params, day, flight: explained)
    arguments = ["explain", "--date", "2013-01-10", "--flight", published.flight_id]
    arguments += ["--params", str(_workspace(tmp_path))]
    table = CliRunner().invoke(app, arguments)
    assert table.exit_code == 2 and "DOES NOT MATCH the published 0.990000" in table.output
    as_json = CliRunner().invoke(app, [*arguments, "--json"])
    assert as_json.exit_code == 2 and json.loads(as_json.output)["matches_published"] is False
