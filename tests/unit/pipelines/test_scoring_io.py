"""Shards as row ranges, streaming reads of a range, and the all-or-nothing parquet sink."""

from __future__ import annotations

import gc
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from pipelines.storage import iter_parquet_rows, parquet_sink, read_parquet_rows, row_ranges


def test_shards_cover_every_row_once_and_evenly():
    assert row_ranges(10, 4) == [(0, 3), (3, 7), (7, 10)]
    assert row_ranges(8, 4) == [(0, 4), (4, 8)]
    assert row_ranges(5, 10) == [(0, 5)]
    assert row_ranges(0, 10) == [(0, 0)]  # an empty day still publishes (an empty file)


@pytest.mark.parametrize(("start", "stop"), [(0, 50), (5, 23), (7, 14), (49, 50), (20, 20)])
def test_a_row_range_streams_in_batches_across_row_groups(tmp_path: Path, start, stop):
    frame = pd.DataFrame({"flight_id": [f"f{i:03d}" for i in range(50)], "x": range(50)})
    path = tmp_path / "day.parquet"
    frame.to_parquet(path, index=False, row_group_size=7)
    batches = list(iter_parquet_rows(str(path), start, stop, batch_rows=4))
    assert all(len(batch) <= 4 for batch in batches)
    read = pd.concat(batches, ignore_index=True) if batches else frame.iloc[0:0]
    expected = frame.iloc[start:stop].reset_index(drop=True)
    pd.testing.assert_frame_equal(read, expected)
    pd.testing.assert_frame_equal(read_parquet_rows(str(path), start, stop), expected)


SCHEMA = pa.schema([("flight_id", pa.string()), ("p", pa.float64())])


def _rows(flight_ids: list[str], scores: list[float]) -> pa.Table:
    return pa.table({"flight_id": flight_ids, "p": scores}, schema=SCHEMA)


def test_the_sink_publishes_all_rows_at_once(tmp_path: Path):
    target = tmp_path / "date=2013-01-01" / "part-0.parquet"
    with parquet_sink(str(target), SCHEMA) as sink:
        sink.write_table(_rows(["a", "b"], [0.1, 0.2]))
        assert not target.exists(), "nothing is visible before the block ends"
        sink.write_table(_rows(["c"], [0.3]))
    assert pd.read_parquet(target)["flight_id"].tolist() == ["a", "b", "c"]
    assert [p.name for p in target.parent.iterdir()] == ["part-0.parquet"]


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path: Path):
    target = tmp_path / "part-0.parquet"
    pd.DataFrame({"flight_id": ["old"], "p": [0.5]}).to_parquet(target, index=False)
    before = target.read_bytes()
    with pytest.raises(RuntimeError, match="model failed"):
        with parquet_sink(str(target), SCHEMA) as sink:
            sink.write_table(_rows(["new"], [0.9]))
            raise RuntimeError("model failed")
    gc.collect()  # an unclosed Arrow writer would now fail to close on a closed file
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["part-0.parquet"]
