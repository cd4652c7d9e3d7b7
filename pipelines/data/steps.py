"""The data steps as the CLI, `dvc.yaml` and the DAGs call them: snapshot, pull, and the
snapshot of a training window (the fixed one of dvc.lock, or a moving one built from the
validated partitions and pushed with DVC)."""

from __future__ import annotations

from pathlib import Path

from pipelines.config import Params
from pipelines.data import snapshot
from pipelines.data.versioning import DataVersion, DataVersionError, pull_snapshot
from pipelines.training_window import TrainingWindow


def build_snapshot(params: Params, out_dir: Path | None = None) -> snapshot.SnapshotManifest:
    tables = snapshot.collect_snapshot(
        params.landing_root, params.data.snapshot_start, params.data.snapshot_end
    )
    return snapshot.write_snapshot(
        tables, out_dir or params.snapshot_dir, params.data.snapshot_start, params.data.snapshot_end
    )


def pull_data(params: Params, remote: str | None = None) -> DataVersion:
    return pull_snapshot(params.workspace, params.data.snapshot_dir, remote=remote)


def prepare_window(params: Params, window: TrainingWindow) -> DataVersion:
    """The data version a run trains on: `dvc pull` of dvc.lock's snapshot for the fixed window;
    for a moving one, its snapshot built from the validated days, `dvc add`ed and pushed."""
    from pipelines.data import windows

    if window.as_of is None:
        return pull_data(params)
    return windows.publish_window_snapshot(params, window)


def materialise(params: Params, version: DataVersion) -> Path:
    """The snapshot of `version` on this worker (pulled from the DVC remote, never trusted from a
    previous task's disk); returns its folder."""
    from pipelines.data import windows

    if version.path == params.data.snapshot_dir:
        pull_data(params, remote=version.remote or None)
        return params.snapshot_dir
    folder = params.workspace / version.path
    if folder.exists() and any(folder.iterdir()):
        found = windows.directory_md5(folder)
        if found.removesuffix(".dir") != version.md5.removesuffix(".dir"):
            raise DataVersionError(
                f"{folder} holds md5 {found}, not the run's {version.md5}: move it away and "
                f"re-run (the task then pulls {version.md5} from the DVC remote)"
            )
        return folder
    return windows.pull_window_snapshot(
        params.workspace, version.md5, folder, remote=version.remote or None
    )
