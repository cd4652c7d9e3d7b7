"""Where a day's predictions, shadow scores and staged shards live (under `scoring.output_root`)."""

from __future__ import annotations

import re
from datetime import date

from pipelines.config import Params
from pipelines.storage import join_uri


def _output_root(params: Params, folder: str) -> str:
    return join_uri(params.workspace_path(params.scoring.output_root), folder)


#: Names a published day's parts in row order; the day is published when it is written.
MANIFEST_NAME = "_published.json"


def day_uri(params: Params, day: date, folder: str = "predictions") -> str:
    """A day's folder: its parts (the shards, moved in whole) and the manifest naming them."""
    return join_uri(_output_root(params, folder), f"date={day.isoformat()}")


def manifest_uri(params: Params, day: date, folder: str = "predictions") -> str:
    """Exists once the day is published (what the monitoring DAG waits for)."""
    return join_uri(day_uri(params, day, folder), MANIFEST_NAME)


def staging_uri(params: Params, day: date, folder: str = "predictions") -> str:
    """Where a day's shards wait to be published: `_` keeps them out of dataset readers."""
    return join_uri(_output_root(params, folder), "_staging", f"date={day.isoformat()}")


def schedule_counts_uri(params: Params, day: date) -> str:
    return join_uri(staging_uri(params, day), "schedule_counts.parquet")


def safe_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)
