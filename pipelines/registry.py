"""The one way this code talks to the MLflow tracking server and model registry.

* `client(params)` is the only client factory; it also points MLflow's fluent API (runs,
  `models:/` URIs) at the same server, so no other module sets a tracking URI.
* `alias_version` tells "the alias is not set" (the only case that means "no champion") from
  "the registry cannot answer" (`RegistryUnavailable`, which fails the task naming the server).
* `ModelVersionRef` is the one typed reference to a model version: registration returns it,
  promotion decides on it, scoring pins it and writes it on every row.
* `register_run` is idempotent: registering the same MLflow run again returns its version.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any

from pipelines.config import MlflowParams

CHAMPION, CHALLENGER = "champion", "challenger"
#: MLflow's error code for an alias, version or model that does not exist.
NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"
INVALID_PARAMETER = "INVALID_PARAMETER_VALUE"


#: The only types outside skops' defaults a model of ours may hold (skops refuses any other,
#: whatever the model's own MLmodel file lists): what the two families, calibrated either way,
#: serialize to. A new family that needs more is added here after review, never at load time.
TRUSTED_MODEL_TYPES: tuple[str, ...] = (
    "functools.partial",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
)


class ModelUnavailable(RuntimeError):
    """A model version cannot be resolved or loaded: nothing is written."""


class UntrustedModel(ModelUnavailable):
    """A model artifact that is not skops, or holds a type outside `TRUSTED_MODEL_TYPES`."""


class RegistryUnavailable(ModelUnavailable):
    """The registry did not answer (down, 5xx, timeout): nothing may be assumed about it."""


@dataclass(frozen=True)
class ModelVersionRef:
    """A registered version, resolved once: what a prediction row says about its model."""

    name: str
    alias: str | None
    version: str
    run_id: str
    data_version: str
    decision_threshold: float | None = None  # chosen at training on the calibration days

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelVersionRef:
        return cls(**{key: raw[key] for key in cls.__dataclass_fields__ if key in raw})

    @classmethod
    def of(cls, model_version: Any, alias: str | None) -> ModelVersionRef:
        """From an MLflow `ModelVersion` (its data version is its `data.dvc_md5` tag, its
        threshold its `model.decision_threshold` tag: absent on versions from before it)."""
        threshold = model_version.tags.get("model.decision_threshold")
        return cls(
            name=str(model_version.name),
            alias=alias,
            version=str(model_version.version),
            run_id=str(model_version.run_id),
            data_version=str(model_version.tags.get("data.dvc_md5", "unknown")),
            decision_threshold=float(threshold) if threshold else None,
        )


def client(params: MlflowParams) -> Any:
    """An `MlflowClient` for the configured server (and the fluent API pointed at it)."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(params.tracking_uri)
    return MlflowClient(tracking_uri=params.tracking_uri, registry_uri=params.tracking_uri)


def _is_not_found(error: Exception) -> bool:
    """The registry answered "no such alias / version / model" (a 4xx it chose to send).

    MLflow 3 says so with `RESOURCE_DOES_NOT_EXIST`, or, for an alias that is not set, with
    `INVALID_PARAMETER_VALUE: Registered model alias … not found`. Anything else (connection
    refused, a 5xx, a timeout) is an outage, never "not there"."""
    code = getattr(error, "error_code", None)
    if code == NOT_FOUND:
        return True
    return code == INVALID_PARAMETER and "not found" in str(error).lower()


def _unavailable(what: str, error: Exception, tracking_uri: str) -> RegistryUnavailable:
    return RegistryUnavailable(
        f"the MLflow registry at {tracking_uri} did not answer {what}: {error} "
        "(nothing was changed; retry when the registry is back)"
    )


def _version_by_alias(mlflow_client: Any, name: str, alias: str) -> Any | None:
    """The one alias read: the `ModelVersion` behind `name@alias`, None only if the alias (or
    the model) does not exist; anything else is `RegistryUnavailable`."""
    try:
        return mlflow_client.get_model_version_by_alias(name, alias)
    except Exception as error:
        if _is_not_found(error):
            return None
        raise _unavailable(f"{name}@{alias}", error, str(mlflow_client.tracking_uri)) from error


def alias_version(mlflow_client: Any, name: str, alias: str) -> str | None:
    """The version `alias` points at; None only if the alias (or model) does not exist."""
    model_version = _version_by_alias(mlflow_client, name, alias)
    return None if model_version is None else str(model_version.version)


def version_ref(mlflow_client: Any, name: str, version: str, alias: str | None) -> ModelVersionRef:
    return ModelVersionRef.of(mlflow_client.get_model_version(name, version), alias)


def resolve_alias(params: MlflowParams, alias: str = CHAMPION) -> ModelVersionRef | None:
    """Pin `alias` to a version now; None if the alias is not set."""
    model_version = _version_by_alias(client(params), params.registered_model, alias)
    return None if model_version is None else ModelVersionRef.of(model_version, alias)


@functools.lru_cache(maxsize=4)
def load_model(params: MlflowParams, ref: ModelVersionRef) -> Any:
    """The scikit-learn model of a version from the configured registry (cached: a version's
    artifacts never change)."""
    client(params)  # `models:/` URIs resolve against the configured server
    return _load_logged_model(ref.uri, f"{ref.uri} ({ref.alias or 'no alias'}, run {ref.run_id})")


def load_run_model(params: MlflowParams, run_id: str) -> Any:
    """The model a training run logged (before it is registered), loaded the same way."""
    client(params)
    uri = f"runs:/{run_id}/model"
    return _load_logged_model(uri, uri)


def _load_logged_model(uri: str, described: str) -> Any:
    """Download an MLflow model's folder from the server, then `load_skops_model`."""
    import mlflow

    try:
        folder = mlflow.artifacts.download_artifacts(artifact_uri=uri)
    except Exception as error:
        raise ModelUnavailable(f"cannot load {described}: {error}") from error
    return load_skops_model(folder, uri)


def load_skops_model(folder: str, uri: str) -> Any:
    """An MLflow scikit-learn model folder, loaded with skops and our own list of trusted types
    (MLflow's loader trusts the list the artifact carries; a pickled model is refused)."""
    import os

    import skops.io
    import yaml
    from skops.io.exceptions import UntrustedTypesFoundException

    with open(os.path.join(folder, "MLmodel")) as handle:
        flavor = (yaml.safe_load(handle).get("flavors") or {}).get("sklearn") or {}
    found = flavor.get("serialization_format", "pickle")
    if found != "skops":
        raise UntrustedModel(f"{uri} is serialized as {found!r}: only skops models are loaded")
    try:
        return skops.io.load(
            os.path.join(folder, flavor["pickled_model"]), trusted=list(TRUSTED_MODEL_TYPES)
        )
    except UntrustedTypesFoundException as error:
        raise UntrustedModel(
            f"{uri} holds types outside registry.TRUSTED_MODEL_TYPES: {error}"
        ) from error


def versions_of_run(mlflow_client: Any, name: str, run_id: str) -> list[str]:
    """Versions of `name` registered from `run_id`, oldest first."""
    found = mlflow_client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return sorted((str(v.version) for v in found), key=int)


def run_url(params: MlflowParams, run_id: str) -> str:
    """The run's page in the MLflow UI."""
    experiment_id = client(params).get_run(run_id).info.experiment_id
    return f"{params.tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


#: The heading under which a version's decisions are appended to its card (`record_decision`).
DECISIONS_HEADING = "### Decisions"


def with_decision(description: str, line: str) -> str:
    """The card with one more decision line (once: a retried step does not repeat it)."""
    if f"- {line}" in description.split(DECISIONS_HEADING, 1)[-1].splitlines():
        return description
    if DECISIONS_HEADING not in description:
        description = f"{description}\n\n{DECISIONS_HEADING}"
    return f"{description}\n- {line}"


def record_decision(
    mlflow_client: Any, name: str, version: str, decision: str, reason: str, record: str = ""
) -> None:
    """Tag the version with a decision and its reason, and append it to its model card."""
    mlflow_client.set_model_version_tag(name, version, "decision", decision)
    mlflow_client.set_model_version_tag(name, version, "decision.reason", reason[:5000])
    append_to_card(mlflow_client, name, version, decision, reason, record)


def append_to_card(
    mlflow_client: Any, name: str, version: str, what: str, reason: str, record: str = ""
) -> None:
    """One line under the card's decisions: what happened to the version, and why."""
    described = mlflow_client.get_model_version(name, version).description or ""
    where = f" (record: `{record}`)" if record else ""
    line = f"**{what}**: {' '.join(reason.split())[:1500]}{where}"
    mlflow_client.update_model_version(name, version, description=with_decision(described, line))


def register_run(
    params: MlflowParams, run_id: str, description: str, tags: dict[str, str]
) -> ModelVersionRef:
    """Register the run's model (alias `challenger`); a run already registered keeps its
    version, so a retry after a transient error never makes a second one."""
    import mlflow

    mlflow_client = client(params)
    name = params.registered_model
    existing = versions_of_run(mlflow_client, name, run_id)  # [] if the model is new
    if existing:
        version = existing[0]
    else:
        version = str(mlflow.register_model(f"runs:/{run_id}/model", name, tags=tags).version)
    mlflow_client.update_model_version(name, version, description=description)
    # The newest candidate is the challenger until a decision says otherwise.
    mlflow_client.set_registered_model_alias(name, CHALLENGER, version)
    return version_ref(mlflow_client, name, version, CHALLENGER)
