"""Nightly batch scoring of one day with one pinned model.

* The run resolves `models:/<name>@champion` to a concrete version once, at its start, and
  uses only that version; the version is written on every output row.
* The landed batch passes the same Great Expectations gate as training; a rejected batch
  raises before anything is written, so existing predictions stay as they were.
* Features come from `features.build` (the training code, unchanged).
* Prediction streams over record batches, so memory does not grow with the batch.
* The day is published atomically (one file, written elsewhere, then renamed): a reader
  never sees half a day, and re-running a date replaces it with identical rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.build import build_features, model_inputs
from pipelines import landing
from pipelines.config import Params
from pipelines.quarantine import gate_landed_batch
from pipelines.registry import CHAMPION
from pipelines.storage import join_uri, write_parquet, write_text
from pipelines.versioning import git_revision

PREDICTION_COLUMNS = (
    "flight_id",
    "flight_date",
    "late_probability",
    "predicted_late",
    "model_version",
    "model_run_id",
    "model_data_version",
    "feature_code_version",
    "scoring_run_id",
)


@dataclass(frozen=True)
class PinnedModel:
    """A registry alias resolved once: everything a prediction row must say about its model."""

    name: str
    alias: str
    version: str
    run_id: str
    data_version: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class ModelUnavailable(RuntimeError):
    """The registry or the model's artifacts cannot be reached: nothing is written."""


def resolve_alias(params: Params, alias: str = CHAMPION) -> PinnedModel | None:
    """Resolve `alias` to a version now; None if the alias is not set."""
    from mlflow.exceptions import MlflowException

    from mlflow import MlflowClient
    from pipelines.tracking import use_tracking_server

    uri = use_tracking_server(params.mlflow)
    client = MlflowClient()
    name = params.mlflow.registered_model
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if "not found" in str(error).lower() or "RESOURCE_DOES_NOT_EXIST" in str(error):
            return None
        raise ModelUnavailable(f"cannot resolve {name}@{alias} at {uri}: {error}") from error
    except Exception as error:  # connection refused, timeouts
        raise ModelUnavailable(f"cannot reach the MLflow registry at {uri}: {error}") from error
    return PinnedModel(
        name=name,
        alias=alias,
        version=str(version.version),
        run_id=str(version.run_id),
        data_version=str(version.tags.get("data.dvc_md5", "unknown")),
    )


def load_pinned(pinned: PinnedModel) -> Any:
    import mlflow

    try:
        return mlflow.sklearn.load_model(pinned.uri)
    except Exception as error:
        raise ModelUnavailable(
            f"cannot load {pinned.uri} ({pinned.alias}, run {pinned.run_id}): {error}"
        ) from error


def predict_in_batches(model: Any, inputs: pd.DataFrame, batch_rows: int) -> np.ndarray:
    """`predict_proba` over slices of `batch_rows`: peak memory is one slice's, not the day's."""
    parts = [
        model.predict_proba(inputs.iloc[start : start + batch_rows])[:, 1]
        for start in range(0, len(inputs), batch_rows)
    ]
    return np.concatenate(parts) if parts else np.empty(0)


def prediction_rows(
    features: pd.DataFrame,
    probability: np.ndarray,
    pinned: PinnedModel,
    threshold: float,
    feature_code_version: str,
    scoring_run_id: str,
) -> pd.DataFrame:
    rows = pd.DataFrame(
        {
            "flight_id": features["flight_id"].to_numpy(),
            "flight_date": features["flight_date"].to_numpy(),
            "late_probability": probability.astype("float64"),
            "predicted_late": probability >= threshold,
        }
    )
    rows["model_version"] = pinned.version
    rows["model_run_id"] = pinned.run_id
    rows["model_data_version"] = pinned.data_version
    rows["feature_code_version"] = feature_code_version
    rows["scoring_run_id"] = scoring_run_id
    return rows.sort_values("flight_id", ignore_index=True).loc[:, list(PREDICTION_COLUMNS)]


def predictions_uri(params: Params, day: date, folder: str = "predictions") -> str:
    root = params.workspace_path(params.scoring.output_root)
    return join_uri(root, folder, f"date={day.isoformat()}", "part-0.parquet")


def day_features(params: Params, day: date) -> pd.DataFrame:
    flights = landing.read_partition(params.landing_root, "flights", day)
    weather = landing.read_reference(params.landing_root, "weather")
    planes = landing.read_reference(params.landing_root, "planes")
    return build_features(flights, weather, planes, params.features)


@dataclass(frozen=True)
class ScoringResult:
    day: str
    rows: int
    predictions_uri: str
    model: dict[str, str]
    shadow_uri: str | None
    shadow_agreement: dict[str, float] | None
    gate_status: str


def score_day(
    params: Params,
    day: date,
    champion: PinnedModel,
    scoring_run_id: str,
    challenger: PinnedModel | None = None,
    validate: bool = True,
) -> ScoringResult:
    """Gate, build features, score with the pinned champion (and shadow challenger), publish.

    `validate=False` when the caller ran the gate as its own step (the DAG's `gate_flights`)."""
    gate_status = (
        gate_landed_batch(params, "scheduled_flights", day).status if validate else "gated upstream"
    )
    features = day_features(params, day)
    code = git_revision(Path(__file__).resolve().parents[1]).git_rev
    model = load_pinned(champion)
    inputs = model_inputs(features, params.features)
    probability = predict_in_batches(model, inputs, params.scoring.batch_rows)
    rows = prediction_rows(
        features, probability, champion, params.scoring.threshold, code, scoring_run_id
    )
    target = write_parquet(rows, predictions_uri(params, day))
    shadow_uri = agreement = None
    if challenger is not None and challenger.version != champion.version:
        shadow_probability = predict_in_batches(
            load_pinned(challenger), inputs, params.scoring.batch_rows
        )
        shadow_rows = prediction_rows(
            features,
            shadow_probability,
            challenger,
            params.scoring.threshold,
            code,
            scoring_run_id,
        )
        shadow_uri = write_parquet(shadow_rows, predictions_uri(params, day, "shadow"))
        agreement = shadow_agreement(rows, shadow_rows)
        write_text(
            json.dumps(
                {"champion": champion.as_dict(), "challenger": challenger.as_dict(), **agreement},
                indent=2,
            ),
            shadow_uri.rsplit("/", 1)[0] + "/agreement.json",
        )
    return ScoringResult(
        day=day.isoformat(),
        rows=len(rows),
        predictions_uri=target,
        model=champion.as_dict(),
        shadow_uri=shadow_uri,
        shadow_agreement=agreement,
        gate_status=gate_status,
    )


def shadow_agreement(champion: pd.DataFrame, challenger: pd.DataFrame) -> dict[str, float]:
    """How far the shadow model's answers are from the champion's on the same flights."""
    if champion.empty:
        return {"rows": 0.0}
    return {
        "rows": float(len(champion)),
        "decision_agreement": float(
            (
                champion["predicted_late"].to_numpy() == challenger["predicted_late"].to_numpy()
            ).mean()
        ),
        "probability_correlation": float(
            np.corrcoef(champion["late_probability"], challenger["late_probability"])[0, 1]
        )
        if len(champion) > 1
        else 1.0,
        "mean_absolute_difference": float(
            np.abs(
                champion["late_probability"].to_numpy() - challenger["late_probability"].to_numpy()
            ).mean()
        ),
    }
