from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from pipelines.data import landing, snapshot
from pipelines.upstream import delivery


def test_snapshot_needs_every_day_of_the_window(tmp_path: Path):
    delivery.land_days(str(tmp_path / "landing"), [date(2013, 1, 1), date(2013, 1, 2)])
    with pytest.raises(snapshot.MissingLandedData, match="outcomes/date=2013-01-02"):
        snapshot.collect_snapshot(str(tmp_path / "landing"), date(2013, 1, 1), date(2013, 1, 2))


def test_snapshot_is_deterministic(tmp_path: Path):
    root = str(tmp_path / "landing")
    delivery.land_days(str(root), landing.days(date(2013, 1, 1), date(2013, 1, 3)))
    digests = []
    for name in ("a", "b"):
        tables = snapshot.collect_snapshot(root, date(2013, 1, 1), date(2013, 1, 2))
        manifest = snapshot.write_snapshot(
            tables, tmp_path / name, date(2013, 1, 1), date(2013, 1, 2)
        )
        digests.append(
            {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in (tmp_path / name).iterdir()}
        )
    assert digests[0] == digests[1]
    assert manifest.rows["flights"] == manifest.rows["outcomes"] == 842 + 943
    loaded = snapshot.read_snapshot(tmp_path / "a")
    assert set(loaded) == set(snapshot.SNAPSHOT_TABLES)
