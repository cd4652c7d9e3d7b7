"""DVC really pushes and pulls the snapshot: to the default local remote and to S3 (moto)."""

from __future__ import annotations

import pytest

from pipelines.data.versioning import DataVersionError, pull_snapshot
from tests.integration.conftest import Workspace, make_bucket

pytestmark = pytest.mark.integration


def test_pull_restores_the_locked_version_from_the_local_remote(workspace: Workspace):
    workspace.forget_local_data()
    version = pull_snapshot(workspace.path, "data/snapshot")
    assert version.md5 == workspace.locked_snapshot_md5()
    assert version.git_rev == workspace.head() and not version.git_dirty
    assert version.remote == "local"
    assert (workspace.path / "data" / "snapshot" / "flights.parquet").exists()


def test_push_and_pull_through_s3(workspace: Workspace, s3_endpoint: str):
    make_bucket(s3_endpoint, "mlops-dvc")
    workspace.run("dvc", "remote", "modify", "--local", "s3", "endpointurl", s3_endpoint)
    workspace.run("dvc", "push", "-r", "s3", "data/snapshot")
    workspace.forget_local_data()
    version = pull_snapshot(workspace.path, "data/snapshot", remote="s3")
    assert version.md5 == workspace.locked_snapshot_md5() and version.remote == "s3"
    import boto3

    keys = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket="mlops-dvc")[
        "Contents"
    ]
    assert len(keys) >= 8  # the .dir manifest and the seven snapshot files


def test_pull_from_a_remote_without_the_data_names_the_version(workspace: Workspace, tmp_path):
    workspace.run("dvc", "remote", "add", "--local", "--force", "empty", str(tmp_path / "empty"))
    workspace.forget_local_data()
    with pytest.raises(DataVersionError, match=workspace.locked_snapshot_md5().split(".")[0]):
        pull_snapshot(workspace.path, "data/snapshot", remote="empty")
    pull_snapshot(workspace.path, "data/snapshot")  # leave the workspace whole for other tests
