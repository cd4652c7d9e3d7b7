"""All shards or none: a day is published in one atomic step; `published_day` summarises it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from pipelines.config import Params
from pipelines.registry import ModelVersionRef
from pipelines.scoring.paths import predictions_uri, staging_uri
from pipelines.scoring.rows import DICTIONARY_COLUMNS, PREDICTION_SCHEMA, content_digest
from pipelines.scoring.shadow import AgreementSums, shadow_of
from pipelines.scoring.shards import ShardResult
from pipelines.storage import (
    exists,
    parquet_sink,
    read_parquet,
    remove_stale_temporaries,
    remove_tree,
    write_text,
)


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


def _publish(params: Params, shard_uris: list[str], target: str) -> int:
    """Concatenate the shards into `target` in one atomic publish; returns the rows."""
    remove_stale_temporaries(target.rsplit("/", 1)[0])
    with parquet_sink(target, PREDICTION_SCHEMA, DICTIONARY_COLUMNS) as sink:
        for uri in shard_uris:
            sink.write_file(uri, params.scoring.batch_rows)
    return sink.rows


def publish_day(
    params: Params,
    day: date,
    shards: list[ShardResult],
    champion: ModelVersionRef,
    challenger: ModelVersionRef | None = None,
    gate_status: str = "gated upstream",
) -> ScoringResult:
    """Publish the shards as the day's predictions (and shadow), then clear the staging."""
    ordered = sorted(shards, key=lambda s: s.index)
    target = predictions_uri(params, day)
    rows = _publish(params, [s.predictions_uri for s in ordered], target)
    shadow = shadow_of(champion, challenger)
    shadow_target = agreement = None
    if shadow is not None:
        shadow_target = predictions_uri(params, day, "shadow")
        _publish(params, [str(s.shadow_uri) for s in ordered], shadow_target)
        sums = AgreementSums()
        for shard in ordered:
            sums = sums.plus(AgreementSums(**shard.agreement))
        agreement = sums.summary()
        write_text(
            json.dumps(
                {"champion": champion.as_dict(), "challenger": shadow.as_dict(), **agreement},
                indent=2,
            ),
            shadow_target.rsplit("/", 1)[0] + "/agreement.json",
        )
    for folder in ("predictions", "shadow"):
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


def published_day(params: Params, day: date, folder: str = "predictions") -> PublishedDay | None:
    """The day's published file in brief, or None if the day has not been published."""
    uri = predictions_uri(params, day, folder)
    if not exists(uri):
        return None
    predictions = read_parquet(uri)
    return PublishedDay(
        day=day.isoformat(),
        rows=len(predictions),
        model_versions=tuple(sorted(predictions["model_version"].unique())),
        content_sha256=content_digest(predictions),
        scoring_run_ids=tuple(sorted(predictions["scoring_run_id"].unique())),
    )
