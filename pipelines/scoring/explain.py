"""Why one flight got its score: `mlops explain --date D --flight ID`.

* The published predictions of D say what the flight was given and by which version; the
  flight's features are rebuilt from the validated store with the code batch scoring uses
  (`shards.day_features`), and that version is loaded from the registry. The rebuilt
  probability is compared with the published one and the answer says whether they match.
* Each feature's contribution comes from shap's permutation explainer (model-agnostic: the
  models are calibrated scikit-learn pipelines), on the probability scale, against a seeded
  background sample of the same day's flights (`explain.background_rows`). The contributions
  add up, with the base value (the background's mean probability), to the flight's probability.
* shap masks arrays of numbers, so the categorical inputs go in as codes and are decoded back
  to their strings before the model sees them: the model is called on the frame it was fit on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from features.build import model_inputs
from pipelines.config import ExplainParams, Params
from pipelines.registry import ModelUnavailable, ModelVersionRef, client, load_model, version_ref
from pipelines.scoring.paths import manifest_uri
from pipelines.scoring.publish import read_published
from pipelines.scoring.rows import decision_threshold
from pipelines.scoring.shards import day_features, sampled, validated_flights_uri
from pipelines.storage import exists, parquet_row_count

#: What the contributions and the base value are measured in.
SCALE = "probability"
#: The rebuilt probability must be the published one: same code, same store, same model.
MATCH_TOLERANCE = 1e-9
PUBLISHED_READ = ["flight_id", "late_probability", "predicted_late", "model_version"]


class ExplainError(LookupError):
    """What is asked for is not there (a day not published, a flight not scored on it)."""


@dataclass(frozen=True)
class PublishedScore:
    """What the night's published predictions say about one flight."""

    day: str
    flight_id: str
    late_probability: float
    predicted_late: bool
    model_version: str


def published_score(predictions: pd.DataFrame, day: date, flight_id: str) -> PublishedScore:
    """The flight's published row; `ExplainError` naming the day if it was not scored."""
    found = predictions.loc[predictions["flight_id"] == flight_id]
    if found.empty:
        raise ExplainError(
            f"flight {flight_id!r} is not in the published predictions of {day} "
            f"({len(predictions)} flights scored that night)"
        )
    row = found.iloc[0]
    return PublishedScore(
        day.isoformat(),
        flight_id,
        float(row["late_probability"]),
        bool(row["predicted_late"]),
        str(row["model_version"]),
    )


@dataclass(frozen=True)
class Contribution:
    feature: str
    value: Any  # the flight's value of the feature, as the model saw it
    contribution: float  # on the probability scale


@dataclass(frozen=True)
class Attribution:
    """base_value + sum(contributions) == output (the probability explained)."""

    base_value: float
    output: float
    contributions: tuple[Contribution, ...]  # largest effect first


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar (NaN as None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _categorical(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]


def feature_contributions(
    model: Any, flight: pd.DataFrame, background: pd.DataFrame, max_evals: int, seed: int
) -> Attribution:
    """Each input's contribution to `model`'s late probability for the one-row `flight`
    (shap's permutation explainer, `background` as the masker's data)."""
    import shap

    columns = list(flight.columns)
    both = pd.concat([flight, background], ignore_index=True)
    categories = {
        c: np.array(sorted(both[c].astype(str).unique()), dtype=object) for c in _categorical(both)
    }

    def encoded(frame: pd.DataFrame) -> np.ndarray:
        out = frame.copy()
        for column, values in categories.items():
            out[column] = np.searchsorted(values, frame[column].astype(str).to_numpy())
        return out.to_numpy(dtype=float)

    def probability(values: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(values, columns=columns)
        for column, known in categories.items():
            frame[column] = known[values[:, columns.index(column)].astype(int)]
        frame = frame.astype({c: flight[c].dtype for c in columns if c not in categories})
        return np.asarray(model.predict_proba(frame)[:, 1], dtype=float)

    masker = shap.maskers.Independent(encoded(background), max_samples=len(background))
    explainer = shap.PermutationExplainer(probability, masker, seed=seed)
    explained = explainer(
        encoded(flight), max_evals=max(max_evals, 2 * len(columns) + 1), silent=True
    )
    values = np.asarray(explained.values[0], dtype=float)
    base = float(np.asarray(explained.base_values).reshape(-1)[0])
    order = np.argsort(-np.abs(values), kind="stable")
    contributions = tuple(
        Contribution(columns[i], _plain(flight.iloc[0, i]), float(values[i])) for i in order
    )
    return Attribution(base, base + float(values.sum()), contributions)


def background_sample(inputs: pd.DataFrame, flight_row: int, rows: int, seed: int) -> pd.DataFrame:
    """`rows` of the day's other flights, seeded (the flight itself if it flew alone)."""
    others = inputs.drop(index=inputs.index[flight_row])
    if others.empty:
        return inputs.iloc[[flight_row]]
    return others.sample(n=min(rows, len(others)), random_state=seed)


@dataclass(frozen=True)
class Explanation:
    """One flight's score, rebuilt and explained."""

    published: PublishedScore
    model: ModelVersionRef
    threshold: float
    probability: float  # rebuilt now, with the version that scored it
    features: dict[str, Any]  # the model's inputs for the flight
    attribution: Attribution
    background_rows: int

    @property
    def decision(self) -> bool:
        return self.probability >= self.threshold

    @property
    def matches_published(self) -> bool:
        return abs(self.probability - self.published.late_probability) <= MATCH_TOLERANCE

    def as_dict(self) -> dict[str, Any]:
        return {
            "date": self.published.day,
            "flight_id": self.published.flight_id,
            "model": self.model.as_dict(),
            "threshold": self.threshold,
            "published": {
                "late_probability": self.published.late_probability,
                "predicted_late": self.published.predicted_late,
                "model_version": self.published.model_version,
            },
            "rebuilt": {"late_probability": self.probability, "predicted_late": self.decision},
            "matches_published": self.matches_published,
            "features": self.features,
            "scale": SCALE,
            "base_value": self.attribution.base_value,
            "explained_output": self.attribution.output,
            "background_rows": self.background_rows,
            "contributions": [asdict(c) for c in self.attribution.contributions],
        }


def explain_flight(
    published: PublishedScore,
    features: pd.DataFrame,
    model: Any,
    pinned: ModelVersionRef,
    threshold: float,
    params: Params,
) -> Explanation:
    """Rebuild and explain the published flight from the day's `features` (the flight's row
    and the flights the background is drawn from)."""
    ids = features["flight_id"].to_numpy()
    rows = np.flatnonzero(ids == published.flight_id)
    if len(rows) == 0:
        raise ExplainError(
            f"flight {published.flight_id!r} was scored on {published.day} but is not in the "
            f"validated store's flights of that day any more: its features cannot be rebuilt"
        )
    inputs = model_inputs(features, params.features).reset_index(drop=True)
    flight = inputs.iloc[[int(rows[0])]]
    settings: ExplainParams = params.explain
    background = background_sample(inputs, int(rows[0]), settings.background_rows, settings.seed)
    probability = float(model.predict_proba(flight)[:, 1][0])
    attribution = feature_contributions(
        model, flight, background, settings.max_evals, settings.seed
    )
    return Explanation(
        published,
        pinned,
        threshold,
        probability,
        {c: _plain(flight.iloc[0][c]) for c in flight.columns},
        attribution,
        len(background),
    )


# The edges: the published day, the validated store, the registry.


def read_published_score(params: Params, day: date, flight_id: str) -> PublishedScore:
    predictions = read_published(params, day, columns=PUBLISHED_READ)
    if predictions is None:
        raise ExplainError(
            f"no published predictions for {day} (no {manifest_uri(params, day)}): "
            f"score that day first (mlops score --date {day})"
        )
    return published_score(predictions, day, flight_id)


def rebuilt_features(params: Params, day: date, flight_id: str) -> pd.DataFrame:
    """The flight's and a seeded share of the day's flights' features (enough for the
    background), rebuilt with the scoring code from the validated store."""
    uri = validated_flights_uri(params, day)
    if not exists(uri):
        raise ExplainError(
            f"no validated flights for {day} at {uri}: its features cannot be rebuilt"
        )
    share = min(1.0, 4 * params.explain.background_rows / max(1, parquet_row_count(uri)))

    def keep(ids: pd.Series) -> np.ndarray:
        return (ids.to_numpy() == flight_id) | sampled(ids, share)

    return day_features(params, day, keep)


def scoring_version(params: Params, version: str) -> ModelVersionRef:
    """The registered version that scored the day (its threshold is its tag)."""
    name = params.mlflow.registered_model
    try:
        return version_ref(client(params.mlflow), name, version, None)
    except Exception as error:
        raise ModelUnavailable(
            f"cannot read version {version} of {name} from the registry at "
            f"{params.mlflow.tracking_uri}: {error}"
        ) from error


def explain_published(params: Params, day: date, flight_id: str) -> Explanation:
    """`mlops explain`: the published flight, rebuilt with the version that scored it."""
    published = read_published_score(params, day, flight_id)
    pinned = scoring_version(params, published.model_version)
    model = load_model(params.mlflow, pinned)
    threshold = decision_threshold(pinned, params.train.calibration.missed_delay_cost)
    features = rebuilt_features(params, day, flight_id)
    return explain_flight(published, features, model, pinned, threshold, params)


def _shown(value: Any) -> str:
    if value is None:
        return "missing"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def render_table(explanation: Explanation, rows: int | None = None) -> str:
    """The explanation as on-call reads it in a terminal: the score, then the features by
    the size of their contribution (all of them unless `rows`)."""
    published, attribution = explanation.published, explanation.attribution
    late = "late" if explanation.decision else "on time"
    if explanation.matches_published:
        check = "matches the published probability"
    else:
        check = (
            f"DOES NOT MATCH the published {published.late_probability:.6f} (published "
            f"decision: {'late' if published.predicted_late else 'on time'}): the store, the "
            f"feature code or the model changed since the night was scored"
        )
    lines = [
        f"flight {published.flight_id}, scored on {published.day}",
        f"model {explanation.model.name} version {explanation.model.version} "
        f"(run {explanation.model.run_id}), threshold {explanation.threshold:.4f}",
        f"late probability {explanation.probability:.6f}: predicted {late} (rebuilt now; {check})",
        f"contributions on the {SCALE} scale: base value {attribution.base_value:.4f} (mean over "
        f"{explanation.background_rows} of the day's flights) + contributions = "
        f"{attribution.output:.4f}",
        "",
    ]
    shown = attribution.contributions[:rows] if rows else attribution.contributions
    width = max([len("feature"), *(len(c.feature) for c in shown)])
    lines.append(f"{'feature':<{width}}  {'value':>14}  {'contribution':>12}")
    for item in shown:
        lines.append(
            f"{item.feature:<{width}}  {_shown(item.value):>14}  {item.contribution:>+12.4f}"
        )
    return "\n".join(lines)
