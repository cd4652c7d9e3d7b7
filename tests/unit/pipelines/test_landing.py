from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from pipelines.data import landing
from pipelines.upstream import delivery, sources


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def test_delivery_brings_the_day_s_flights_and_yesterday_s_outcomes(tmp_path: Path):
    deliveries = delivery.land_days(str(tmp_path), [date(2013, 1, 2)])
    assert deliveries[0].flights_rows == 943
    assert deliveries[0].outcomes_rows == 842  # 2013-01-01, delivered a day later
    flights = landing.read_partition(str(tmp_path), "flights", date(2013, 1, 2))
    assert list(flights.columns) == list(landing.SCHEDULED_COLUMNS)
    assert flights["flight_id"].is_unique
    assert set(flights["flight_date"]) == {"2013-01-02"}
    assert not landing.partition_exists(str(tmp_path), "outcomes", date(2013, 1, 2))
    assert landing.read_reference(str(tmp_path), "planes").shape[0] == 3322


def test_landing_twice_is_byte_identical_and_leaves_no_temporary_file(tmp_path: Path):
    delivery.land_days(str(tmp_path), [date(2013, 5, 1), date(2013, 5, 2)])
    first = _digest(tmp_path)
    delivery.land_days(str(tmp_path), [date(2013, 5, 2), date(2013, 5, 1)])
    assert _digest(tmp_path) == first
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def test_delivery_after_the_last_day_brings_only_outcomes(tmp_path: Path):
    delivered = delivery.land_day(str(tmp_path), date(2014, 1, 1), sources.source_flights())
    assert delivered.flights_rows is None and delivered.outcomes_rows == 776


def test_nothing_to_deliver_is_an_error(tmp_path: Path):
    with pytest.raises(ValueError, match="no data to deliver"):
        delivery.land_day(str(tmp_path), date(2015, 6, 1), sources.source_flights())


def test_flight_key_is_unique_over_the_year():
    flights = sources.source_flights()
    assert delivery.flight_id(
        flights.assign(flight_date=flights["flight_date"].astype(str))
    ).is_unique
