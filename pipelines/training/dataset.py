"""The training dataset: the snapshot gated table by table, then features and labels, gated
again (the `features` stage of dvc.yaml; it reads no training code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from features.build import attach_labels, build_features
from pipelines.config import Params
from pipelines.data import snapshot
from pipelines.data.versioning import DataVersion
from pipelines.gate import quarantine
from pipelines.storage import write_parquet


def validate_snapshot(
    params: Params, data_version: DataVersion, snapshot_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Every snapshot table through its Great Expectations contract; raises `DataGateError`."""
    folder = snapshot_dir or params.snapshot_dir
    tables = snapshot.read_snapshot(folder)
    batch = f"snapshot-{data_version.md5.split('.')[0][:12]}"
    span = snapshot.manifest_span(folder)
    return [report.summary() for report in quarantine.gate_snapshot(params, tables, batch, span)]


def make_feature_table(params: Params, snapshot_dir: Path, out_uri: str) -> str:
    """Features plus labels of the snapshot, gated by the feature contract, written to `out_uri`."""
    tables = snapshot.read_snapshot(snapshot_dir)
    features = build_features(tables["flights"], tables["weather"], params.features)
    labelled = attach_labels(features, tables["outcomes"], params.features)
    quarantine.gate_features(params, labelled, batch=f"features-{snapshot_dir.name}", labelled=True)
    return write_parquet(labelled, out_uri)
