"""The training snapshot: landed days of a date window gathered into one DVC-tracked folder.

The snapshot is what DVC versions; its md5 (in `dvc.lock`) is the data version every model
carries. Building it twice from the same landed days gives byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from pipelines.data import landing
from pipelines.data.landing import REFERENCE_TABLES

SNAPSHOT_TABLES = ("flights", "outcomes", *REFERENCE_TABLES)


@dataclass(frozen=True)
class SnapshotManifest:
    start: str
    end: str
    days: int
    rows: dict[str, int]


class MissingLandedData(RuntimeError):
    """Raised when days of the snapshot window have not landed yet."""


def missing_days(landing_root: str, window: list[date]) -> list[str]:
    missing = []
    for day in window:
        for dataset in ("flights", "outcomes"):
            if not landing.partition_exists(landing_root, dataset, day):
                missing.append(f"{dataset}/date={day.isoformat()}")
    return missing


def collect_snapshot(landing_root: str, start: date, end: date) -> dict[str, pd.DataFrame]:
    """Read the window's landed flights and outcomes and the reference tables."""
    window = landing.days(start, end)
    missing = missing_days(landing_root, window)
    if missing:
        raise MissingLandedData(
            f"{len(missing)} partitions of the snapshot window {start}..{end} have not landed "
            f"under {landing_root}: {shown(missing)}. Land them with `mlops land --start {start} "
            f"--end {end + timedelta(days=1)}` "
            "(outcomes of a day arrive with the next day's delivery)."
        )
    return snapshot_tables(
        lambda dataset, day: landing.read_partition(landing_root, dataset, day),
        window,
        landing_root,
    )


def snapshot_tables(
    read: Callable[[str, date], pd.DataFrame], days: list[date], landing_root: str
) -> dict[str, pd.DataFrame]:
    """Flights and outcomes of `days` (each read by `read(dataset, day)`) in flight-key order,
    and the reference tables: the shape every snapshot has, landed or validated."""
    tables = {
        dataset: pd.concat([read(dataset, day) for day in days], ignore_index=True).sort_values(
            landing.FLIGHT_KEY, ignore_index=True
        )
        for dataset in ("flights", "outcomes")
    }
    for table in REFERENCE_TABLES:
        tables[table] = landing.read_reference(landing_root, table)
    return tables


def shown(missing: list[str]) -> str:
    """The first missing partitions, for a message."""
    return ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")


def write_snapshot(
    tables: dict[str, pd.DataFrame], out_dir: Path, start: date, end: date
) -> SnapshotManifest:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(out_dir / f"{name}.parquet", index=False)
    manifest = SnapshotManifest(
        start=start.isoformat(),
        end=end.isoformat(),
        days=len(landing.days(start, end)),
        rows={name: len(frame) for name, frame in tables.items()},
    )
    (out_dir / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True))
    return manifest


def read_snapshot(snapshot_dir: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(snapshot_dir / f"{name}.parquet") for name in SNAPSHOT_TABLES}


def manifest_span(snapshot_dir: Path) -> tuple[date, date]:
    """The first and last day a snapshot covers, from its manifest (what the gate checks the
    flights' dates against)."""
    manifest = json.loads((snapshot_dir / "manifest.json").read_text())
    return date.fromisoformat(manifest["start"]), date.fromisoformat(manifest["end"])
