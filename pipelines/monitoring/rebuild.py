"""A model run's monitoring reference, built from what the run logged (the edge around
`reference.reference_of`).

The training DAG's `build_reference` task and `mlops monitoring-reference --run-id` (the `dvc.yaml`
stage after `train`) build it from the run's feature table; `--model-version` rebuilds it for a
version logged before monitoring existed, its window landed again from the landing zone. Either
way the model is the one the registry serves (loaded from the run), with the run's own
permutation importance and holdout figures, and the reference is logged to the run once."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from pipelines.config import Params
from pipelines.monitoring.reference import MonitoringReference, log_reference, reference_of
from pipelines.training_window import TrainingWindow


def window_of_run(run: Any) -> TrainingWindow:
    """The training window a run's split tags record."""
    tags = run.data.tags
    return TrainingWindow(
        train_start=date.fromisoformat(tags["split.train_start"]),
        holdout_start=date.fromisoformat(tags["split.holdout_start"]),
        end=date.fromisoformat(tags["split.holdout_end"]),
    )


def reference_for_run(params: Params, run_id: str, labelled: pd.DataFrame) -> MonitoringReference:
    """Build the reference of the run's model on `labelled` (every scheduled flight of its
    window's days, labelled where known) and log it to the run."""
    import mlflow
    from pipelines import registry

    client = registry.client(params.mlflow)
    run = client.get_run(run_id)
    importance = mlflow.artifacts.load_dict(f"runs:/{run_id}/feature_importance.json")
    model = registry.load_run_model(params.mlflow, run_id)
    reference = reference_of(
        labelled, window_of_run(run), model, importance, dict(run.data.metrics), params
    )
    log_reference(params.mlflow, run_id, reference)
    return reference


def reference_from_features(params: Params, run_id: str, features_uri: str) -> MonitoringReference:
    """The reference of a run trained on the feature table at `features_uri`."""
    from pipelines.storage import read_parquet

    return reference_for_run(params, run_id, read_parquet(features_uri))


def rebuild_reference(params: Params, version: str) -> MonitoringReference:
    """The reference of a registered `version`, its window landed again and featurised."""
    from features.build import attach_labels, build_features
    from pipelines import registry
    from pipelines.data.snapshot import collect_snapshot

    client = registry.client(params.mlflow)
    ref = registry.version_ref(client, params.mlflow.registered_model, version, None)
    window = window_of_run(client.get_run(ref.run_id))
    tables = collect_snapshot(params.landing_root, window.train_start, window.end)
    features = build_features(tables["flights"], tables["weather"], params.features)
    labelled = attach_labels(features, tables["outcomes"], params.features)
    return reference_for_run(params, ref.run_id, labelled)
