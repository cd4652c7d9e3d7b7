"""`mlops` commands of scoring: score a day, and list what was published."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from pipelines.cli_options import ParamsOption, load, parse_date

commands = typer.Typer()


@commands.command()
def score(
    day: Annotated[str, typer.Option("--date", help="The day to score (YYYY-MM-DD).")],
    run_id: Annotated[str, typer.Option(help="Scoring run id written on every row.")] = "cli",
    params_path: ParamsOption = None,
) -> None:
    """Score one validated day with the champion (and the challenger in shadow): same code as
    the batch_scoring DAG. Re-running a date replaces it with identical rows.

    Example: mlops score --date 2013-06-03 --run-id rescore-after-rollback"""
    from pipelines.promotion.aliases import CHALLENGER
    from pipelines.registry import resolve_alias
    from pipelines.scoring.day import score_day

    params = load(params_path)
    champion = resolve_alias(params.mlflow)
    if champion is None:
        typer.echo(
            f"no champion for {params.mlflow.registered_model}: promote a model first", err=True
        )
        raise typer.Exit(1)
    result = score_day(
        params, parse_date(day), champion, run_id, resolve_alias(params.mlflow, CHALLENGER)
    )
    typer.echo(json.dumps(result.__dict__, indent=2, default=str))


@commands.command()
def predictions(
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Day after the last (YYYY-MM-DD).")],
    shadow: Annotated[bool, typer.Option(help="The shadow challenger's days instead.")] = False,
    params_path: ParamsOption = None,
) -> None:
    """One tab-separated line per day: rows, model versions, a sha256 of the scored content
    (every column but the scoring run id), the scoring run ids. Keep the first four columns
    before a re-run or backfill and compare after: a re-scored day keeps its digest.

    Example: mlops predictions --start 2013-06-01 --end 2013-07-01"""
    from datetime import timedelta

    from pipelines.scoring.publish import published_day

    params = load(params_path)
    day, stop = parse_date(start), parse_date(end)
    while day < stop:
        brief = published_day(params, day, "shadow" if shadow else "predictions")
        if brief is None:
            typer.echo(f"{day.isoformat()}\tnot published")
        else:
            versions, runs = ",".join(brief.model_versions), ",".join(brief.scoring_run_ids)
            typer.echo(f"{brief.day}\t{brief.rows}\t{versions}\t{brief.content_sha256}\t{runs}")
        day += timedelta(days=1)
