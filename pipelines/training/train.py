"""Training: a temporal split and a self-contained scikit-learn Pipeline.

Preprocessing lives inside the Pipeline so the MLflow artifact needs nothing else to score.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from features.build import CATEGORICAL_FEATURES, model_inputs, numeric_features
from features.params import FeatureParams
from pipelines.config import TrainParams


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    holdout: pd.DataFrame
    train_dates: tuple[str, str]
    holdout_dates: tuple[str, str]


def temporal_split(labelled: pd.DataFrame, holdout_start: date) -> Split:
    """Train on days before `holdout_start`, hold out the rest; unlabelled rows are dropped."""
    usable = labelled.loc[labelled["label"].notna()]
    is_holdout = usable["flight_date"] >= holdout_start.isoformat()
    train, holdout = usable.loc[~is_holdout], usable.loc[is_holdout]
    if train.empty or holdout.empty:
        raise ValueError(
            f"temporal split at {holdout_start} leaves {len(train)} training and {len(holdout)} "
            "holdout rows; move train.holdout_start inside the snapshot window"
        )
    if train["label"].nunique() < 2:
        raise ValueError("the training window holds a single class; widen the snapshot window")
    return Split(
        train=train,
        holdout=holdout,
        train_dates=(train["flight_date"].min(), train["flight_date"].max()),
        holdout_dates=(holdout["flight_date"].min(), holdout["flight_date"].max()),
    )


def _gradient_boosting(hyperparameters: dict, numeric: list[str], seed: int) -> Pipeline:
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
    )
    preprocess = ColumnTransformer(
        [("categorical", encoder, list(CATEGORICAL_FEATURES)), ("numeric", "passthrough", numeric)],
        verbose_feature_names_out=False,
    )
    is_categorical = [True] * len(CATEGORICAL_FEATURES) + [False] * len(numeric)
    classifier = HistGradientBoostingClassifier(
        categorical_features=is_categorical, random_state=seed, **hyperparameters
    )
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def _logistic_regression(hyperparameters: dict, numeric: list[str], seed: int) -> Pipeline:
    preprocess = ColumnTransformer(
        [
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", min_frequency=50),
                list(CATEGORICAL_FEATURES),
            ),
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                numeric,
            ),
        ],
        verbose_feature_names_out=False,
    )
    classifier = LogisticRegression(random_state=seed, **hyperparameters)
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def build_model(model: str, hyperparameters: dict, features: FeatureParams, seed: int) -> Pipeline:
    numeric = list(numeric_features(features))
    if model == "hist_gradient_boosting":
        return _gradient_boosting(hyperparameters, numeric, seed)
    if model == "logistic_regression":
        return _logistic_regression(hyperparameters, numeric, seed)
    raise ValueError(f"unknown model family {model!r}")


def fit_model(train: pd.DataFrame, params: TrainParams, features: FeatureParams) -> Pipeline:
    model = build_model(params.model, params.hyperparameters, features, params.seed)
    return model.fit(model_inputs(train, features), train["label"].astype(int))


def fit_logistic_baseline(
    train: pd.DataFrame, params: TrainParams, features: FeatureParams
) -> Pipeline:
    """The logistic-regression baseline every model is reported against."""
    model = build_model("logistic_regression", params.logistic_regression, features, params.seed)
    return model.fit(model_inputs(train, features), train["label"].astype(int))


def predict_late_probability(
    model: Pipeline, frame: pd.DataFrame, features: FeatureParams
) -> np.ndarray:
    return model.predict_proba(model_inputs(frame, features))[:, 1]
