"""Models load only as skops, with our own list of trusted types: a pickled model, or one that
holds a type outside `registry.TRUSTED_MODEL_TYPES`, is refused (whatever its MLmodel lists),
and training refuses to log such a model in the first place."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer


def _square(values: np.ndarray) -> np.ndarray:  # a function skops has no reason to trust
    return values * values


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    return features, (features[:, 0] + rng.normal(size=200) > 0).astype(int)


def _calibrated():  # type: ignore[no-untyped-def]
    from pipelines.training.calibration import calibrate

    features, labels = _data()
    model = Pipeline([("classifier", LogisticRegression())]).fit(features, labels)
    return calibrate(model, features, labels, "sigmoid")


def test_a_calibrated_model_of_ours_round_trips(tmp_path):
    import mlflow
    from pipelines.registry import load_skops_model
    from pipelines.training.tracking import trusted_types

    model = _calibrated()
    mlflow.sklearn.save_model(
        model,
        tmp_path / "m",
        serialization_format="skops",
        skops_trusted_types=trusted_types(model),
    )
    loaded = load_skops_model(str(tmp_path / "m"), "m")
    features, _ = _data()
    assert np.array_equal(loaded.predict_proba(features), model.predict_proba(features))


def test_a_pickled_model_is_refused(tmp_path):
    import mlflow
    from pipelines.registry import UntrustedModel, load_skops_model

    mlflow.sklearn.save_model(_calibrated(), tmp_path / "m", serialization_format="pickle")
    with pytest.raises(UntrustedModel, match="'pickle'"):
        load_skops_model(str(tmp_path / "m"), "m")


def test_a_type_outside_the_list_is_refused_even_when_the_artifact_trusts_it(tmp_path):
    import skops.io

    import mlflow
    from pipelines.registry import UntrustedModel, load_skops_model
    from pipelines.training.tracking import trusted_types

    features, labels = _data()
    model = Pipeline(
        [("square", FunctionTransformer(_square)), ("classifier", LogisticRegression())]
    ).fit(np.abs(features), labels)
    with pytest.raises(ValueError, match="_square"):
        trusted_types(model)  # training refuses to log it
    own_list = list(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
    mlflow.sklearn.save_model(
        model, tmp_path / "m", serialization_format="skops", skops_trusted_types=own_list
    )
    with pytest.raises(UntrustedModel, match="TRUSTED_MODEL_TYPES"):
        load_skops_model(str(tmp_path / "m"), "m")
