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
