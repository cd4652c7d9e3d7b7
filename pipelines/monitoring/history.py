"""The monitoring history: one row per date, replaced (never duplicated) when a date re-runs."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from pipelines.storage import exists, join_uri, read_parquet, write_parquet

HISTORY_FILE = "history.parquet"


def history_uri(reports_root: str) -> str:
    return join_uri(reports_root, HISTORY_FILE)


def read_history(reports_root: str) -> pd.DataFrame:
    uri = history_uri(reports_root)
    return read_parquet(uri) if exists(uri) else pd.DataFrame({"date": pd.Series(dtype=str)})


def upsert(history: pd.DataFrame, row: dict[str, Any]) -> pd.DataFrame:
    """`history` with the row for `row["date"]` replaced by `row` (pure)."""
    kept = history[history["date"] != row["date"]]
    return (
        pd.concat([kept, pd.DataFrame([row])], ignore_index=True)
        .sort_values("date")
        .reset_index(drop=True)
    )


def update(history: pd.DataFrame, day: str, fields: dict[str, Any]) -> pd.DataFrame:
    """`history` with `fields` set on the row of `day` (a row that does not exist is made)."""
    existing = history[history["date"] == day]
    row = existing.iloc[0].to_dict() if len(existing) else {"date": day}
    row.update(fields)
    return upsert(history, row)


#: What a later night brings to D's row (its labels), and what D's retraining guard wrote
#: after its monitoring: a re-run of D keeps them.
LABEL_FIELDS = ("labels", "unmatched_outcomes", "unlabelled_predictions", "unobserved_arrivals")
GUARD_FIELDS = ("retraining", "retraining_reasons")


def upsert_night(history: pd.DataFrame, row: dict[str, Any]) -> pd.DataFrame:
    """`upsert` of a monitored night's row, keeping the labels a later night brought to it."""
    existing = history[history["date"] == row["date"]]
    if len(existing):
        brought = {
            key: value
            for key, value in existing.iloc[0].to_dict().items()
            if (key in LABEL_FIELDS or key in GUARD_FIELDS or key.startswith("actual_"))
            and pd.notna(value)
        }
        row = {**row, **brought}
    return upsert(history, row)


def write_history(history: pd.DataFrame, reports_root: str) -> str:
    return write_parquet(history, history_uri(reports_root))


def night_row(summary: dict[str, Any]) -> dict[str, Any]:
    """A night's summary flattened into its history row (its MLflow metrics are the numbers
    of this row)."""
    window = summary["performance"]["window"] or {}
    return {
        "date": summary["date"],
        "model_version": summary["model"]["version"],
        "model_run_id": summary["model"]["run_id"],
        "model_data_version": summary["model"]["data_version"],
        "rows": summary["rows"],
        "fingerprint": summary.get("fingerprint"),  # packages and upstream schemas
        "drift_share": summary["drift"]["share"],
        "drifted_columns": json.dumps(summary["drift"]["drifted"]),
        "top_columns": json.dumps(
            [{k: r[k] for k in ("column", "score", "threshold")} for r in summary["drift"]["top"]]
        ),
        "prediction_drift_score": summary["drift"]["prediction_drift_score"],
        "est_roc_auc": summary["estimate"]["day"].get("roc_auc"),
        "est_brier": summary["estimate"]["day"].get("brier"),
        "est_delay_rate": summary["estimate"]["day"].get("delay_rate"),
        "est_window_roc_auc": summary["estimate"]["window"].get("roc_auc"),
        "window_roc_auc": window.get("roc_auc"),
        "window_low": window.get("low"),
        "window_high": window.get("high"),
        "window_days": window.get("days"),
        "labels": "pending",
        "verdict": summary["verdict"]["level"],
        "triggers": json.dumps(summary["verdict"]["triggers"]),
        "reasons": json.dumps(summary["verdict"]["reasons"]),
    }
