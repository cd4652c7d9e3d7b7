"""The data steps as the CLI, `dvc.yaml` and the DAGs call them: snapshot, pull."""

from __future__ import annotations

from pathlib import Path

from pipelines.config import Params
from pipelines.data import snapshot
from pipelines.data.versioning import DataVersion, pull_snapshot


def build_snapshot(params: Params, out_dir: Path | None = None) -> snapshot.SnapshotManifest:
    tables = snapshot.collect_snapshot(
        params.landing_root, params.data.snapshot_start, params.data.snapshot_end
    )
    return snapshot.write_snapshot(
        tables, out_dir or params.snapshot_dir, params.data.snapshot_start, params.data.snapshot_end
    )


def pull_data(params: Params, remote: str | None = None) -> DataVersion:
    return pull_snapshot(params.workspace, params.data.snapshot_dir, remote=remote)
