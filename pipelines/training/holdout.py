"""Holdout figures with no server: the README's table (`mlops holdout`)."""

from __future__ import annotations

from datetime import timedelta

from features.build import attach_labels, build_features
from pipelines.config import Params
from pipelines.data import landing, snapshot
from pipelines.training import train
from pipelines.training.steps import fit_and_score
from pipelines.upstream import delivery


def holdout_figures(params: Params, landing_root: str) -> dict[str, float]:
    """Land the snapshot window from the upstream source into `landing_root`, then features,
    split, fit and score exactly as training does, with no server: the README's holdout table."""
    start, end = params.data.snapshot_start, params.data.snapshot_end
    delivery.land_days(landing_root, landing.days(start, end + timedelta(days=1)))
    tables = snapshot.collect_snapshot(landing_root, start, end)
    features = build_features(tables["flights"], tables["weather"], params.features)
    labelled = attach_labels(features, tables["outcomes"], params.features)
    split = train.temporal_split(labelled, params.train.holdout_start)
    return fit_and_score(split, params).metrics
