"""Where a day's predictions, shadow scores and staged shards live (under `scoring.output_root`)."""

from __future__ import annotations

import re
from datetime import date

from pipelines.config import Params
from pipelines.storage import join_uri


def _output_root(params: Params, folder: str) -> str:
    return join_uri(params.workspace_path(params.scoring.output_root), folder)


def predictions_uri(params: Params, day: date, folder: str = "predictions") -> str:
    return join_uri(_output_root(params, folder), f"date={day.isoformat()}", "part-0.parquet")


def staging_uri(params: Params, day: date, folder: str = "predictions") -> str:
    """Where a day's shards wait to be published: `_` keeps them out of dataset readers."""
    return join_uri(_output_root(params, folder), "_staging", f"date={day.isoformat()}")


def schedule_counts_uri(params: Params, day: date) -> str:
    return join_uri(staging_uri(params, day), "schedule_counts.parquet")


def safe_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id)
