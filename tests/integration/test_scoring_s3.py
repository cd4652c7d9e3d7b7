"""A day published on S3 (moto): the shards moved server-side whole, the manifest written last,
the parts of the run before removed, the same rows as the same shards published locally."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.registry import ModelVersionRef
from pipelines.scoring.rows import content_digest, prediction_rows
from tests.factories import repository_params, stage_shards
from tests.integration.conftest import make_bucket

pytestmark = pytest.mark.integration

PINNED = ModelVersionRef("flight-delay", "champion", "7", "run-7", "md5-7")
DAY = date(2013, 6, 2)


def _rows(run_id: str) -> pd.DataFrame:
    features = pd.DataFrame(
        {"flight_id": [f"f{i}" for i in range(7)], "flight_date": [DAY.isoformat()] * 7}
    )
    probability = np.linspace(0.05, 0.95, 7)
    return prediction_rows(features, probability, PINNED, 0.4, "code-1", run_id).to_pandas()


def test_a_day_published_on_s3_is_its_moved_shards_named_by_the_manifest(
    s3_endpoint: str, tmp_path: Path, monkeypatch
):
    from pipelines.scoring.paths import day_uri, staging_uri
    from pipelines.scoring.publish import publish_day, published_day, published_manifest
    from pipelines.storage import content_sha256, exists, list_files

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    make_bucket(s3_endpoint, "scored")
    base = repository_params()
    on_s3 = dataclasses.replace(
        base,
        workspace=tmp_path,
        scoring=dataclasses.replace(base.scoring, output_root="s3://scored/out"),
    )
    local = dataclasses.replace(base, workspace=tmp_path)

    night = _rows("night")
    shards = stage_shards(on_s3, DAY, night, "night", [3, 5])
    staged = [content_sha256(s.predictions_uri) for s in shards]
    publish_day(on_s3, DAY, shards, PINNED)
    parts = list_files(day_uri(on_s3, DAY), "*.parquet")
    assert [content_sha256(uri) for uri in parts] == staged  # copied server-side, whole
    assert not exists(staging_uri(on_s3, DAY) + "/night-shard-00000.parquet")
    publish_day(local, DAY, stage_shards(local, DAY, night, "night", [3, 5]), PINNED)
    assert published_day(on_s3, DAY) == published_day(local, DAY)
    assert published_day(on_s3, DAY).content_sha256 == content_digest(night)

    again = stage_shards(on_s3, DAY, _rows("rerun"), "rerun", [4])
    publish_day(on_s3, DAY, again, PINNED)
    assert published_manifest(on_s3, DAY).parts == (
        "rerun-shard-00000.parquet",
        "rerun-shard-00001.parquet",
    )
    assert [uri.rsplit("/", 1)[1] for uri in list_files(day_uri(on_s3, DAY), "*.parquet")] == [
        "rerun-shard-00000.parquet",
        "rerun-shard-00001.parquet",
    ]
    assert published_day(on_s3, DAY).content_sha256 == content_digest(night)
