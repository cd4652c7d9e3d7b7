"""A reference for a version logged before monitoring existed (`mlops monitoring-reference`).

Its run's training window is landed again from the landing zone, featurised and scored
exactly as at training, with the run's own permutation importance and holdout figures, and
logged to its run once; from then on the nightly job finds it like any other."""

from __future__ import annotations

from pipelines.config import Params
from pipelines.monitoring.reference import (
    MonitoringReference,
    build_reference,
    log_reference,
    scheduled_split,
)


def rebuild_reference(params: Params, version: str) -> MonitoringReference:
    """Build, log and return the reference of `version` (see the module docstring)."""
    from datetime import date

    from features.build import attach_labels, build_features
    from pipelines import registry
    from pipelines.data.snapshot import collect_snapshot

    client = registry.client(params.mlflow)
    ref = registry.version_ref(client, params.mlflow.registered_model, version, None)
    run = client.get_run(ref.run_id)
    tags = run.data.tags
    start, holdout_start, end = (
        date.fromisoformat(tags[key])
        for key in ("split.train_start", "split.holdout_start", "split.holdout_end")
    )
    tables = collect_snapshot(params.landing_root, start, end)
    features = build_features(tables["flights"], tables["weather"], params.features)
    window = attach_labels(features, tables["outcomes"], params.features)
    import mlflow

    importance = mlflow.artifacts.load_dict(f"runs:/{ref.run_id}/feature_importance.json")
    model = registry.load_model(params.mlflow, ref)
    reference = build_reference(
        *scheduled_split(window, holdout_start), model, importance, dict(run.data.metrics), params
    )
    log_reference(params.mlflow, ref.run_id, reference)
    return reference
