"""Monitoring in MLflow: one run per model version (experiment `<experiment>-monitoring`),
each night's figures as metrics with the date as step, the reports as artifacts, and the
run linked from the model version (tag `monitoring.run_id`).

Metrics carry the date's midnight as timestamp: re-logging the same night's figures is
deduplicated by MLflow instead of doubling the history."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pipelines import registry
from pipelines.config import Params
from pipelines.monitoring import history
from pipelines.storage import list_files, read_text

LEVELS = {"ok": 0.0, "watch": 1.0, "act": 2.0}


def monitoring_run_id(params: Params, version: str, model_run_id: str) -> str:
    client = registry.client(params.mlflow)
    name = f"{params.mlflow.experiment}-monitoring"
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    found = client.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.model_version = '{version}' "
            f"and tags.model_name = '{params.mlflow.registered_model}'"
        ),
        max_results=1,
    )
    if found:
        return str(found[0].info.run_id)
    run = client.create_run(
        experiment_id,
        run_name=f"monitoring-v{version}",
        tags={
            "model_version": version,
            "model_name": params.mlflow.registered_model,
            "model_run_id": model_run_id,
        },
    )
    client.set_model_version_tag(
        params.mlflow.registered_model, version, "monitoring.run_id", run.info.run_id
    )
    return str(run.info.run_id)


#: The numbers of a night's history row logged as MLflow metrics (step: the date).
METRIC_FIELDS = (
    "rows",
    "drift_share",
    "prediction_drift_score",
    "est_roc_auc",
    "est_brier",
    "est_delay_rate",
    "est_window_roc_auc",
    "window_roc_auc",
    "window_low",
    "window_high",
)


def summary_metrics(summary: dict[str, Any]) -> dict[str, float]:
    row = history.night_row(summary)
    values = {name: row[name] for name in METRIC_FIELDS if row[name] is not None}
    return {**{k: float(v) for k, v in values.items()}, "verdict_level": LEVELS[row["verdict"]]}


def log_night(
    params: Params, run_id: str, day: date, summary: dict[str, Any], reports_dir: str
) -> None:
    """The night's figures (step = the date as YYYYMMDD) and its HTML under `date=D/`."""

    client = registry.client(params.mlflow)
    client.log_batch(run_id, metrics=_night_metrics(day, summary_metrics(summary)))
    with tempfile.TemporaryDirectory() as scratch:
        for uri in list_files(reports_dir, "*.html"):
            (Path(scratch) / uri.rsplit("/", 1)[1]).write_text(read_text(uri))
        client.log_artifacts(run_id, scratch, f"date={day.isoformat()}")


def log_night_cost(params: Params, run_id: str, day: date, metrics: dict[str, float]) -> None:
    """What the night's monitoring cost, on its run at the night's step."""
    registry.client(params.mlflow).log_batch(run_id, metrics=_night_metrics(day, metrics))


def _night_metrics(day: date, values: dict[str, float]) -> list[Any]:
    """Metrics of night D: step the date as YYYYMMDD, stamped at its midnight (UTC)."""
    from mlflow.entities import Metric

    step = int(day.strftime("%Y%m%d"))
    stamp = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    return [Metric(k, v, stamp, step) for k, v in values.items()]


def run_url(params: Params, run_id: str) -> str:
    return registry.run_url(params.mlflow, run_id)
