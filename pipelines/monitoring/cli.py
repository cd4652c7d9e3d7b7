"""`mlops` commands of monitoring: monitor a day, build a missing reference, measure the alarms."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from pipelines.cli_options import ParamsOption, load, parse_date

commands = typer.Typer()


@commands.command()
def monitor(
    day: Annotated[str, typer.Option("--date", help="The scored day to monitor (YYYY-MM-DD).")],
    mlflow: Annotated[bool, typer.Option(help="Log the night to MLflow.")] = True,
    params_path: ParamsOption = None,
) -> None:
    """Drift, estimate, delayed-label performance and the verdict for one scored day (the
    monitoring DAG's work). Prints the summary; the page is `reports/monitoring/date=D/`."""
    from pipelines.monitoring.nightly import monitor_day

    summary = monitor_day(load(params_path), parse_date(day), log_to_mlflow=mlflow)
    typer.echo(json.dumps(summary["verdict"], indent=2))


@commands.command("monitoring-reference")
def monitoring_reference(
    model_version: Annotated[str, typer.Option(help="The registered version without a reference.")],
    params_path: ParamsOption = None,
) -> None:
    """Build and store the monitoring reference of a version trained before monitoring existed
    (from its run's training window, landed again)."""
    from pipelines.monitoring.reference import rebuild_reference

    reference = rebuild_reference(load(params_path), model_version)
    typer.echo(json.dumps({"window": reference.window, "false_alarms": reference.false_alarms}, indent=2))
