"""`mlops retraining-guard`: the guard's decision for a night, as the monitoring DAG takes it."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from pipelines.cli_options import ParamsOption, load, parse_date

commands = typer.Typer()


@commands.command("retraining-guard")
def retraining_guard(
    day: Annotated[str, typer.Option("--date", help="The monitored night (YYYY-MM-DD).")],
    training_active: Annotated[
        bool, typer.Option(help="Say a training run is queued or running.")
    ] = False,
    params_path: ParamsOption = None,
) -> None:
    """Print whether night D would request a retraining, and every rule that refuses; emits
    nothing and records nothing (the DAG's `request_retraining` does both).

    Example: mlops retraining-guard --date 2013-07-20"""
    from pipelines.retraining.guard import decide_retraining
    from pipelines.retraining.request import guard_inputs

    params = load(params_path)
    inputs = guard_inputs(params, parse_date(day), training_active=training_active)
    decision = decide_retraining(inputs, params.retraining.guard)
    typer.echo(json.dumps(decision.as_dict(), indent=2))
