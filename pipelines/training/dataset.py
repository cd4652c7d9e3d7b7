"""The training dataset: the snapshot gated table by table, then features and labels, gated
again (the `features` stage of dvc.yaml; it reads no training code)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from features.build import BuildInputs, attach_labels, build_features_timed
from pipelines.config import Params
from pipelines.data import snapshot
from pipelines.data.versioning import DataVersion
from pipelines.gate import snapshot_gate
from pipelines.storage import write_parquet, write_text
from pipelines.training.feature_groups import build_seconds_uri, per_million_rows


def validate_snapshot(
    params: Params, data_version: DataVersion, snapshot_dir: Path | None = None
) -> list[dict[str, Any]]:
    """Every snapshot table through its Great Expectations contract; raises `DataGateError`."""
    folder = snapshot_dir or params.snapshot_dir
    tables = snapshot.read_snapshot(folder)
    batch = f"snapshot-{data_version.md5.split('.')[0][:12]}"
    span = snapshot.manifest_span(folder)
    return [report.summary() for report in snapshot_gate.gate_snapshot(params, tables, batch, span)]


def make_feature_table(params: Params, snapshot_dir: Path, out_uri: str) -> str:
    """Features plus labels of the snapshot, gated by the feature contract, written to `out_uri`
    (and beside it, `build_seconds_uri(out_uri)`: what each feature group took to build)."""
    tables = snapshot.read_snapshot(snapshot_dir)
    features, seconds = build_features_timed(
        BuildInputs(tables["flights"], tables["weather"], params.features)
    )
    labelled = attach_labels(features, tables["outcomes"], params.features)
    snapshot_gate.gate_features(
        params, labelled, batch=f"features-{snapshot_dir.name}", labelled=True
    )
    per_million = per_million_rows(seconds, len(features))
    write_text(json.dumps(per_million, indent=2), build_seconds_uri(out_uri))
    return write_parquet(labelled, out_uri)
