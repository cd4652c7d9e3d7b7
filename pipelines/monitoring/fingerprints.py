"""What the night ran on, fingerprinted, and what changed since the night before.

Two things change under a model without anyone retraining it: the upstream's files (a column
added, renamed or retyped in the day's flights, outcomes or a reference table) and the Python
packages the pipeline runs on (a new scikit-learn, pandas or Evidently from a rebuilt image).
Every monitored night records both in its history row; when either differs from the previous
monitored night, the verdict says `watch` with what changed (`upstream_changed`,
`packages_changed`), the page lists it and the alert goes out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from typing import Any

from pipelines.data import landing
from pipelines.storage import exists, filesystem


@dataclass(frozen=True)
class Fingerprint:
    packages: dict[str, str]  # distribution name -> version, as installed
    schemas: dict[str, dict[str, str]]  # upstream file -> column -> Arrow type

    def as_json(self) -> str:
        return json.dumps({"packages": self.packages, "schemas": self.schemas}, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> Fingerprint:
        raw = json.loads(text)
        return Fingerprint(raw["packages"], raw["schemas"])


def installed_packages() -> dict[str, str]:
    """Every installed distribution and its version (what `uv.lock` resolved, as running)."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name.lower().replace("_", "-")] = dist.version
    return dict(sorted(found.items()))


def parquet_schema(uri: str) -> dict[str, str]:
    """Column -> Arrow type of a Parquet file (its footer only)."""
    import pyarrow.parquet as pq

    fs, path = filesystem(uri)
    with fs.open(path, "rb") as handle:
        schema = pq.read_schema(handle)
    return {field.name: str(field.type) for field in schema}


def upstream_schemas(landing_root: str, day: date) -> dict[str, dict[str, str]]:
    """The schemas of what the upstream delivered for D: the day's flights and outcomes (those
    present) and every reference table."""
    uris = {
        "flights": landing.partition_uri(landing_root, "flights", day),
        "outcomes": landing.partition_uri(landing_root, "outcomes", day),
        **{table: landing.reference_uri(landing_root, table) for table in landing.REFERENCE_TABLES},
    }
    return {name: parquet_schema(uri) for name, uri in uris.items() if exists(uri)}


def night_fingerprint(landing_root: str, day: date) -> Fingerprint:
    return Fingerprint(installed_packages(), upstream_schemas(landing_root, day))


def package_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """`name old -> new`, `name added`, `name removed` (pure)."""
    changes = [
        f"{name} {before[name]} -> {after[name]}"
        for name in sorted(before.keys() & after.keys())
        if before[name] != after[name]
    ]
    changes += [f"{name} {after[name]} added" for name in sorted(after.keys() - before.keys())]
    changes += [f"{name} removed" for name in sorted(before.keys() - after.keys())]
    return changes


def schema_changes(
    before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]
) -> list[str]:
    """Per upstream file present on both nights: columns added, removed or retyped (pure; a
    file missing one night is the gate's business, not a schema change)."""
    changes = []
    for name in sorted(before.keys() & after.keys()):
        old, new = before[name], after[name]
        changes += [f"{name}.{c} added ({new[c]})" for c in sorted(new.keys() - old.keys())]
        changes += [f"{name}.{c} removed" for c in sorted(old.keys() - new.keys())]
        changes += [
            f"{name}.{c} {old[c]} -> {new[c]}"
            for c in sorted(old.keys() & new.keys())
            if old[c] != new[c]
        ]
    return changes


def changes_since(previous: Fingerprint | None, current: Fingerprint) -> dict[str, Any]:
    """What differs from the previous monitored night (nothing on the first night)."""
    if previous is None:
        return {"packages": [], "upstream": []}
    return {
        "packages": package_changes(previous.packages, current.packages),
        "upstream": schema_changes(previous.schemas, current.schemas),
    }
