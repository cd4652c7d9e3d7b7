"""The chunked gate (large batches, validated range by range of rows in worker processes)
reaches the same verdict as the in-memory gate, on every bad input and on the controls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.config import Params
from pipelines.data import landing
from pipelines.gate.quarantine import gate_landed_batch, list_quarantine
from pipelines.gate.report import QUARANTINED_ROWS, REJECTED, DataGateError, GateReport
from tests.data.conftest import TARGET_DAY, workspace_params
from tests.data.test_gate_bad_inputs import BAD_SCHEDULED_BATCHES, Corruption

ROW_GROUP = 200  # the landed day has 690 rows: four row groups, four chunks, five key buckets


def _chunked(params: Params) -> Params:
    return workspace_params(
        Path(params.workspace), stream_above_rows=0, chunk_rows=ROW_GROUP, key_bucket_rows=150
    )


def _flights_path(params: Params) -> Path:
    return Path(landing.partition_uri(params.landing_root, "flights", TARGET_DAY))


def _rewrite(params: Params, change: Corruption) -> pd.DataFrame:
    path = _flights_path(params)
    changed = change(pd.read_parquet(path))
    changed.to_parquet(path, index=False, row_group_size=ROW_GROUP)
    return changed


def _verdict(report: GateReport) -> tuple[str, set[tuple[str, str | None]]]:
    return report.status, {(f.expectation, f.column) for f in report.failures}


def _share_in_first_rows(frame: pd.DataFrame, column: str, value: object, rows: int) -> pd.Series:
    """`value` in the first `rows` rows only: all in the first chunk, none in the others."""
    return frame[column].where(frame.index >= rows, value)


CONTROLS: dict[str, tuple[Corruption, str]] = {
    "untouched day": (lambda f: f, "passed"),
    # 0.5% unknown carriers overall, all of them in the first chunk (2% of it): the budget
    # (1%) is judged on the batch, so it passes, as it does in memory.
    "unknown carriers under the budget, bunched in one chunk": (
        lambda f: f.assign(carrier=_share_in_first_rows(f, "carrier", "ZZ", len(f) // 200)),
        "passed",
    ),
    # The same bunching above the budget: 5% of the batch.
    "unknown carriers above the budget, bunched in one chunk": (
        lambda f: f.assign(carrier=_share_in_first_rows(f, "carrier", "ZZ", len(f) // 20)),
        REJECTED,
    ),
    # 29% missing destinations, all in the first chunk: far above the row budget, rejected
    # whole, as in memory. (Null-share ceilings merged over chunks: tests/unit, outcomes.)
    "null destinations bunched in one chunk": (
        lambda f: f.assign(dest=_share_in_first_rows(f, "dest", None, ROW_GROUP)),
        REJECTED,
    ),
    # The same duplicate key in the first and the last chunk: uniqueness is judged whole.
    "a key duplicated across chunks, many times": (
        lambda f: f.assign(
            flight_id=np.where(f.index % 50 == 0, f["flight_id"].iloc[0], f["flight_id"])
        ),
        REJECTED,
    ),
}


@pytest.mark.parametrize(
    "case",
    [*BAD_SCHEDULED_BATCHES, *CONTROLS],
    ids=[*BAD_SCHEDULED_BATCHES, *CONTROLS],
)
def test_chunked_gate_agrees_with_the_in_memory_gate(landed: Params, case: str):
    change = BAD_SCHEDULED_BATCHES[case][0] if case in BAD_SCHEDULED_BATCHES else CONTROLS[case][0]
    frame = _rewrite(landed, change)
    in_memory = gate_landed_batch(landed, "scheduled_flights", TARGET_DAY, dry_run=True)
    chunked = gate_landed_batch(_chunked(landed), "scheduled_flights", TARGET_DAY, dry_run=True)
    assert _verdict(chunked) == _verdict(in_memory)
    assert chunked.rows == len(frame)
    if case in CONTROLS:
        assert chunked.status == CONTROLS[case][1]
    else:
        assert chunked.status == REJECTED


def test_chunked_gate_holds_a_bad_batch_and_names_the_failure(landed: Params):
    change, expected = BAD_SCHEDULED_BATCHES["negative and absurd distances"]
    _rewrite(landed, change)
    with pytest.raises(DataGateError) as caught:
        gate_landed_batch(_chunked(landed), "scheduled_flights", TARGET_DAY)
    message = str(caught.value)
    assert all(fragment in message for fragment in expected)
    assert "Data Docs:" in message
    assert _flights_path(landed).exists(), "the landing zone is never touched"
    assert [e.kind for e in list_quarantine(landed)] == ["batch"]


def test_a_key_duplicated_across_chunks_is_quarantined_row_by_row(landed: Params):
    original = pd.read_parquet(_flights_path(landed))
    _rewrite(landed, lambda f: pd.concat([f, f.iloc[[3]]], ignore_index=True))  # first + last
    report = gate_landed_batch(_chunked(landed), "scheduled_flights", TARGET_DAY)
    assert report.status == QUARANTINED_ROWS and report.quarantined_rows == 2
    clean = pd.read_parquet(str(report.validated_path))
    held = pd.read_parquet(Path(str(report.quarantine_path)))
    assert clean["flight_id"].is_unique and len(clean) + len(held) == len(original) + 1
    assert set(held["flight_id"]) == {original.iloc[3]["flight_id"]}


def test_a_corrupt_row_group_is_unreadable_not_a_crash(landed: Params):
    path = _flights_path(landed)
    _rewrite(landed, lambda f: f)
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 2000] = bytes(2000)  # zero a stretch of pages, keep the footer
    path.write_bytes(bytes(data))
    report = gate_landed_batch(_chunked(landed), "scheduled_flights", TARGET_DAY, dry_run=True)
    assert report.status == REJECTED
    assert [f.expectation for f in report.failures] == ["batch_is_readable_parquet"]
    observed = str(report.failures[0].observed)
    assert observed.startswith("UnreadableBatch: rows "), f"read by a chunk worker: {observed}"
