"""Bad inputs: each is rejected with a message naming the failed expectation, and nothing is
lost (the batch is in quarantine beside its validation result; other days are untouched)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.config import Params
from pipelines.data import landing
from pipelines.data.landing import validated_uri
from pipelines.gate.quarantine import (
    gate_landed_batch,
    list_quarantine,
    quarantine_dir,
    result_uri,
)
from pipelines.gate.report import DataGateError
from tests.data.conftest import TARGET_DAY

Corruption = Callable[[pd.DataFrame], pd.DataFrame]


def _fingerprint(params: Params) -> dict[str, str]:
    root = Path(params.landing_root)
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
        if f"date={TARGET_DAY}" not in str(p)
    }


def _landed_uri(params: Params, dataset: str = "flights") -> str:
    return landing.partition_uri(params.landing_root, dataset, TARGET_DAY)


def _reject_and_check(params: Params, contract: str, expected: list[str]) -> DataGateError:
    others = _fingerprint(params)
    original = Path(
        _landed_uri(params, "flights" if contract == "scheduled_flights" else "outcomes")
    )
    original_bytes = original.read_bytes()
    with pytest.raises(DataGateError) as caught:
        gate_landed_batch(params, contract, TARGET_DAY)
    message = str(caught.value)
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert "Data Docs" in message or "batch_is_readable_parquet" in message
    held = Path(quarantine_dir(params, contract, f"date={TARGET_DAY}"))
    assert (held / "part-0.parquet").read_bytes() == original_bytes, "the batch is kept intact"
    stored = json.loads((held / "validation.json").read_text())
    assert stored["status"] == "rejected" and stored["failures"]
    assert original.read_bytes() == original_bytes, "the landing zone is never touched"
    dataset = "flights" if contract == "scheduled_flights" else "outcomes"
    assert not Path(validated_uri(params, dataset, TARGET_DAY)).exists(), "nothing published"
    assert _fingerprint(params) == others, "other days must be untouched"
    assert [e.batch for e in list_quarantine(params)] == [f"date={TARGET_DAY}"]
    return caught.value


def _corrupt(params: Params, change: Corruption, dataset: str = "flights") -> None:
    uri = _landed_uri(params, dataset)
    change(pd.read_parquet(uri)).to_parquet(uri, index=False)


def _share(frame: pd.DataFrame, share: float) -> pd.Index:
    return frame.index[: max(1, int(len(frame) * share))]


BAD_SCHEDULED_BATCHES: dict[str, tuple[Corruption, list[str]]] = {
    "missing column": (
        lambda f: f.drop(columns="distance"),
        ["expect_table_columns_to_match_set", "'missing': ['distance']"],
    ),
    "renamed column": (
        lambda f: f.rename(columns={"dest": "destination"}),
        ["'unexpected': ['destination']", "on 'dest': observed the column is missing"],
    ),
    "a field nobody agreed to (privacy: a personal field cannot slip in)": (
        lambda f: f.assign(passenger_name="A. Traveller"),
        ["expect_table_columns_to_match_set", "'unexpected': ['passenger_name']"],
    ),
    "numeric column as strings": (
        lambda f: f.assign(distance=f["distance"].astype(str)),
        ["expect_column_values_to_be_in_type_list on 'distance'"],
    ),
    "key column all null": (
        lambda f: f.assign(flight_id=None),
        ["expect_column_values_to_not_be_null on 'flight_id'"],
    ),
    "null spike in one column": (
        lambda f: f.assign(dest=f["dest"].where(f.index % 10 == 0)),
        ["expect_column_values_to_not_be_null on 'dest'"],
    ),
    "flight ids dated another day than the partition": (
        lambda f: f.assign(flight_id=f["flight_id"].str.replace("2013-", "2012-", n=1)),
        ["expect_column_values_to_match_regex on 'flight_id'"],
    ),
    "every row duplicated": (
        lambda f: pd.concat([f, f], ignore_index=True),
        ["expect_column_values_to_be_unique on 'flight_id'", "unexpected rows (100.00%)"],
    ),
    "negative and absurd distances": (
        lambda f: f.assign(distance=np.where(f.index % 2 == 0, -5, 99_999)),
        ["expect_column_values_to_be_between on 'distance'"],
    ),
    "unknown carriers above the budget": (
        lambda f: f.assign(carrier=np.where(f.index % 10 == 0, "ZZ", f["carrier"])),
        ["expect_column_values_to_be_in_set on 'carrier'", "ZZ"],
    ),
    "unknown airports above the budget": (
        lambda f: f.assign(dest=np.where(f.index % 5 == 0, "XXX", f["dest"])),
        ["expect_column_values_to_be_in_set on 'dest'", "XXX"],
    ),
    "a flight whose destination is its origin": (
        lambda f: f.assign(dest=np.where(f.index == 3, f["origin"], f["dest"])),
        ["expect_column_pair_values_to_differ on 'origin,dest'"],
    ),
    "distances in kilometres (a unit change)": (
        lambda f: f.assign(distance=(f["distance"] * 1.609).round()),
        ["expect_route_distance_to_match_reference on 'origin,dest,distance'"],
    ),
    "empty batch": (
        lambda f: f.iloc[0:0],
        ["expect_table_row_count_to_be_between: observed 0"],
    ),
    "dates of another day": (
        lambda f: f.assign(flight_date="2013-01-05"),
        ["expect_column_values_to_be_in_set on 'flight_date'", "2013-01-05"],
    ),
    "out-of-range scheduled times": (
        lambda f: f.assign(sched_dep_time=np.where(f.index % 4 == 0, 2500, f["sched_dep_time"])),
        ["expect_column_values_to_be_between on 'sched_dep_time'"],
    ),
    "a batch 10 times larger than usual": (
        lambda f: pd.concat([f] * 10, ignore_index=True).assign(
            flight_id=lambda g: g["flight_id"] + "_" + g.index.astype(str)
        ),
        ["expect_table_row_count_to_be_between: observed"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_SCHEDULED_BATCHES), ids=list(BAD_SCHEDULED_BATCHES))
def test_bad_scheduled_batch_is_rejected_and_kept(landed: Params, case: str):
    change, expected = BAD_SCHEDULED_BATCHES[case]
    _corrupt(landed, change)
    _reject_and_check(landed, "scheduled_flights", expected)


def test_corrupt_parquet_is_rejected_and_kept(landed: Params):
    path = Path(_landed_uri(landed))
    path.write_bytes(b"PAR1" + bytes(range(256)) * 20 + b"PAR1")
    _reject_and_check(landed, "scheduled_flights", ["batch_is_readable_parquet"])


def test_truncated_parquet_is_rejected_and_kept(landed: Params):
    path = Path(_landed_uri(landed))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _reject_and_check(landed, "scheduled_flights", ["batch_is_readable_parquet"])


def test_csv_where_parquet_was_expected_is_rejected_and_kept(landed: Params):
    path = Path(_landed_uri(landed))
    pd.read_parquet(path).to_csv(path, index=False)
    _reject_and_check(landed, "scheduled_flights", ["batch_is_readable_parquet"])


def test_bad_outcomes_batch_is_rejected_and_kept(landed: Params):
    _corrupt(landed, lambda f: f.assign(arr_delay=f["arr_delay"].astype(str)), dataset="outcomes")
    _reject_and_check(
        landed, "outcomes", ["expect_column_values_to_be_in_type_list on 'arr_delay'"]
    )


def test_a_held_batch_stays_held_on_rerun(landed: Params):
    _corrupt(landed, lambda f: f.drop(columns="distance"))
    with pytest.raises(DataGateError):
        gate_landed_batch(landed, "scheduled_flights", TARGET_DAY)
    verdict = Path(result_uri(landed, "scheduled_flights", f"date={TARGET_DAY}"))
    held = Path(quarantine_dir(landed, "scheduled_flights", f"date={TARGET_DAY}"))
    stored, copy = verdict.read_bytes(), (held / "part-0.parquet").read_bytes()
    with pytest.raises(DataGateError, match="missing"):  # re-run: same verdict, nothing moves
        gate_landed_batch(landed, "scheduled_flights", TARGET_DAY)
    assert len(list_quarantine(landed)) == 1
    assert verdict.read_bytes() == stored and (held / "part-0.parquet").read_bytes() == copy
