"""The landing zone on S3 (moto): the same code path as a local folder, identical content."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from pipelines.data import landing, snapshot
from pipelines.upstream import delivery
from tests.integration.conftest import make_bucket

pytestmark = pytest.mark.integration


def test_land_and_snapshot_from_s3_match_a_local_landing(
    s3_endpoint: str, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    make_bucket(s3_endpoint, "landing")
    days = [date(2013, 6, 1), date(2013, 6, 2), date(2013, 6, 3)]
    delivery.land_days("s3://landing/prod", days)
    delivery.land_days(str(tmp_path), days)
    assert landing.partition_exists("s3://landing/prod", "flights", date(2013, 6, 3))
    remote = snapshot.collect_snapshot("s3://landing/prod", date(2013, 6, 1), date(2013, 6, 2))
    local = snapshot.collect_snapshot(str(tmp_path), date(2013, 6, 1), date(2013, 6, 2))
    for table in snapshot.SNAPSHOT_TABLES:
        pd.testing.assert_frame_equal(remote[table], local[table])


def test_files_move_and_copy_between_s3_and_a_local_folder(
    s3_endpoint: str, tmp_path: Path, monkeypatch
):
    """An s3:// landing root with a local quarantine (a mixed deployment): each end
    through its own filesystem."""
    from pipelines.storage import content_sha256, copy, exists, move, write_text

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    make_bucket(s3_endpoint, "crossing")
    remote = write_text("a landed batch\n", "s3://crossing/landing/part-0.parquet")
    local = str(tmp_path / "quarantine" / "part-0.parquet")
    copy(remote, local)
    assert exists(remote) and content_sha256(local) == content_sha256(remote)
    move(local, "s3://crossing/released/part-0.parquet")
    assert not exists(local) and exists("s3://crossing/released/part-0.parquet")
    move("s3://crossing/released/part-0.parquet", local)
    assert exists(local) and not exists("s3://crossing/released/part-0.parquet")
    assert Path(local).read_text() == "a landed batch\n"
    assert not list(Path(local).parent.glob(".tmp-*"))


def test_a_gate_on_an_s3_landing_root_quarantines_into_a_local_folder(
    s3_endpoint: str, tmp_path: Path, monkeypatch
):
    """The landed batch stays in the bucket untouched; the copy is held locally."""
    import dataclasses

    from pipelines.config import REPO_ROOT, load_params
    from pipelines.gate.quarantine import gate_landed_batch
    from pipelines.gate.report import DataGateError

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    make_bucket(s3_endpoint, "gated")
    day = date(2013, 6, 2)
    delivery.land_days("s3://gated/landing", [day])
    uri = landing.partition_uri("s3://gated/landing", "flights", day)
    frame = pd.read_parquet(uri, storage_options={"client_kwargs": {"endpoint_url": s3_endpoint}})
    bad = frame.assign(origin="BOS").to_parquet(index=False)
    from pipelines.storage import filesystem

    fs, path = filesystem(uri)
    fs.pipe_file(path, bad)
    params = load_params(REPO_ROOT / "params.yaml")
    params = dataclasses.replace(
        params,
        workspace=tmp_path,
        data=dataclasses.replace(params.data, landing_root="s3://gated/landing"),
    )
    with pytest.raises(DataGateError, match="origin"):
        gate_landed_batch(params, "scheduled_flights", day)
    held = tmp_path / "data" / "quarantine" / "scheduled_flights" / f"date={day}"
    assert (held / "part-0.parquet").read_bytes() == bad
    assert fs.cat_file(path) == bad, "the landing zone is never touched"
