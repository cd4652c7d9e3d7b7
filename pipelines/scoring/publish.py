"""All shards or none: a day is published in one atomic step; `published_day` summarises it.

The shards are not re-encoded into one file: each is moved into the day's folder whole (a
rename on a local disk, a server-side copy on S3), and the day becomes published when its
manifest (`_published.json`, one small object written in one step) names them in row order.
Readers go through the manifest, so they see the previous run's parts or this run's, never a
mixture; the parts no manifest names any more are removed after it is written. A dataset
reader of the folder (pandas, DuckDB, Spark) skips the manifest, a `_` file, and sees the same
rows except after a publish killed half-way (its moved parts lie beside the named ones until
the date is published again). One publisher per day at a time, as the staging folder already
assumes (`plan_shards` clears it; the DAG has `max_active_runs=1`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pandas as pd

from pipelines.config import Params
from pipelines.registry import ModelVersionRef
from pipelines.run_cost import measured
from pipelines.scoring.paths import MANIFEST_NAME, day_uri, manifest_uri, staging_uri
from pipelines.scoring.rows import content_digest
from pipelines.scoring.shadow import AgreementSums, shadow_of
from pipelines.scoring.shards import SERVED_FEATURES, ShardResult
from pipelines.storage import (
    exists,
    iter_parquet,
    join_uri,
    list_files,
    move,
    parquet_row_count,
    read_parquet,
    read_text,
    remove_file,
    remove_stale_temporaries,
    remove_tree,
    write_text,
)

#: A day published before manifests: one file, read as the day's only part.
LEGACY_PART = "part-0.parquet"


@dataclass(frozen=True)
class ScoringResult:
    day: str
    rows: int
    shards: int
    predictions_uri: str
    model: dict[str, str]
    shadow_uri: str | None
    shadow_agreement: dict[str, float] | None
    gate_status: str


@dataclass(frozen=True)
class Manifest:
    """A published day: its parts (file names in the day's folder) in row order."""

    parts: tuple[str, ...]
    part_rows: tuple[int, ...]

    @property
    def rows(self) -> int:
        return sum(self.part_rows)

    def to_json(self) -> str:
        return json.dumps(
            {
                "rows": self.rows,
                "parts": [
                    {"name": n, "rows": r} for n, r in zip(self.parts, self.part_rows, strict=True)
                ],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw = json.loads(text)
        parts = raw["parts"]
        return cls(
            tuple(str(p["name"]) for p in parts),
            tuple(int(p["rows"]) for p in parts),
        )


def _staged(shard: ShardResult, folder: str) -> tuple[str | None, int]:
    """The shard's staged file for `folder` and its rows (None: the shard has none)."""
    if folder == "predictions":
        return shard.predictions_uri, shard.rows
    if folder == "shadow":
        return shard.shadow_uri, shard.rows
    return shard.served_features_uri, shard.served_features_rows


def _publish(params: Params, day: date, folder: str, shards: list[ShardResult]) -> int:
    """Move the shards into the day's folder, then write the manifest naming them; returns
    the rows. A retried publish finds the shards it already moved in the folder."""
    target = day_uri(params, day, folder)
    remove_stale_temporaries(target)
    names, rows = [], []
    for shard in shards:
        staged, staged_rows = _staged(shard, folder)
        if staged is None:
            continue
        name = staged.rsplit("/", 1)[1]
        if exists(staged) or not exists(join_uri(target, name)):
            move(staged, join_uri(target, name))  # whole: never decoded, never re-encoded
        names.append(name)
        rows.append(staged_rows)
    write_text(Manifest(tuple(names), tuple(rows)).to_json(), join_uri(target, MANIFEST_NAME))
    for uri in list_files(target, "*.parquet"):  # the parts the manifest no longer names
        if uri.rsplit("/", 1)[1] not in names:
            remove_file(uri)
    return sum(rows)


def publish_day(
    params: Params,
    day: date,
    shards: list[ShardResult],
    champion: ModelVersionRef,
    challenger: ModelVersionRef | None = None,
    gate_status: str = "gated upstream",
) -> ScoringResult:
    """Publish the shards as the day's predictions (and shadow), then clear the staging (its
    cost in the ledger as part `publish`: the moves write nothing new but the manifests)."""
    with measured(params, "scoring", day, "publish") as meter:
        result = _publish_day(params, day, shards, champion, challenger, gate_status)
        meter.wrote(result.predictions_uri, result.shadow_uri)
    return result


def _publish_day(
    params: Params,
    day: date,
    shards: list[ShardResult],
    champion: ModelVersionRef,
    challenger: ModelVersionRef | None,
    gate_status: str,
) -> ScoringResult:
    ordered = sorted(shards, key=lambda s: s.index)
    target = manifest_uri(params, day)
    # The sample of served features first: the predictions' manifest says the day is published
    _publish(params, day, SERVED_FEATURES, ordered)
    rows = _publish(params, day, "predictions", ordered)
    shadow = shadow_of(champion, challenger)
    shadow_target = agreement = None
    if shadow is not None:
        shadow_target = manifest_uri(params, day, "shadow")
        _publish(params, day, "shadow", ordered)
        sums = AgreementSums()
        for shard in ordered:
            sums = sums.plus(AgreementSums(**shard.agreement))
        agreement = sums.summary()
        write_text(
            json.dumps(
                {"champion": champion.as_dict(), "challenger": shadow.as_dict(), **agreement},
                indent=2,
            ),
            join_uri(day_uri(params, day, "shadow"), "_agreement.json"),
        )
    for folder in ("predictions", "shadow", SERVED_FEATURES):
        remove_tree(staging_uri(params, day, folder))
    return ScoringResult(
        day=day.isoformat(),
        rows=rows,
        shards=len(ordered),
        predictions_uri=target,
        model=champion.as_dict(),
        shadow_uri=shadow_target,
        shadow_agreement=agreement,
        gate_status=gate_status,
    )


@dataclass(frozen=True)
class PublishedDay:
    """A published day in brief: re-scoring it must leave `content_sha256` as it was."""

    day: str
    rows: int
    model_versions: tuple[str, ...]
    content_sha256: str
    scoring_run_ids: tuple[str, ...]


def published_manifest(params: Params, day: date, folder: str = "predictions") -> Manifest | None:
    """The day's manifest, or None if the day has not been published."""
    uri = manifest_uri(params, day, folder)
    if exists(uri):
        return Manifest.from_json(read_text(uri))
    legacy = join_uri(day_uri(params, day, folder), LEGACY_PART)
    if exists(legacy):
        return Manifest((LEGACY_PART,), (parquet_row_count(legacy),))
    return None


def part_uris(
    params: Params, day: date, manifest: Manifest, folder: str = "predictions"
) -> list[str]:
    """The URIs of a manifest's parts, in row order."""
    return [join_uri(day_uri(params, day, folder), name) for name in manifest.parts]


def published_parts(params: Params, day: date, folder: str = "predictions") -> list[str] | None:
    """The URIs of the day's parts in row order, or None if the day has not been published."""
    manifest = published_manifest(params, day, folder)
    return None if manifest is None else part_uris(params, day, manifest, folder)


def iter_parts(
    parts: list[str], batch_rows: int, columns: list[str] | None = None
) -> Iterator[pd.DataFrame]:
    """Rows of one manifest's parts in order, at most `batch_rows` at a time. A reader holding
    a manifest while the day is re-published may find a part gone (FileNotFoundError): the
    task's retry reads the new manifest."""
    for uri in parts:
        yield from iter_parquet(uri, batch_rows, columns=columns)


def read_published(
    params: Params, day: date, columns: list[str] | None = None, folder: str = "predictions"
) -> pd.DataFrame | None:
    """The day's rows in order (every part), or None if the day has not been published (or
    has no parts: a served-features sample of a day below its stride)."""
    parts = published_parts(params, day, folder)
    if not parts:  # not published, or a sample with no rows
        return None
    frames = [read_parquet(uri, columns=columns) for uri in parts]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def published_day(params: Params, day: date, folder: str = "predictions") -> PublishedDay | None:
    """The day's published rows in brief, or None if the day has not been published."""
    predictions = read_published(params, day, folder=folder)
    if predictions is None:
        return None
    return PublishedDay(
        day=day.isoformat(),
        rows=len(predictions),
        model_versions=tuple(sorted(predictions["model_version"].unique())),
        content_sha256=content_digest(predictions),
        scoring_run_ids=tuple(sorted(predictions["scoring_run_id"].unique())),
    )
