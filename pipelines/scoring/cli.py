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


@commands.command()
def explain(
    day: Annotated[
        str, typer.Option("--date", help="The night the flight was scored (YYYY-MM-DD).")
    ],
    flight: Annotated[str, typer.Option("--flight", help="The flight id, as in the predictions.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of the table.")] = False,
    params_path: ParamsOption = None,
) -> None:
    """Why a flight got its score: the features it was scored with, its probability and
    decision (threshold, model version), and each feature's contribution to the probability
    (shap, against a background of the day's flights). The features are rebuilt from the
    validated store and the version that scored the night is loaded: the output says whether
    the rebuilt probability matches the published one. Exits 1 when the day, the flight or the
    version is missing, 2 when the rebuilt probability differs from the published one.

    Example: mlops explain --date 2013-06-03 --flight 2013-06-03_UA1545_EWR"""
    from pipelines.registry import ModelUnavailable
    from pipelines.scoring.explain import ExplainError, explain_published, render_table

    params = load(params_path)
    try:
        explanation = explain_published(params, parse_date(day), flight)
    except (ExplainError, ModelUnavailable) as error:
        typer.echo(f"mlops explain: {error}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(explanation.as_dict(), indent=2, default=str))
    else:
        typer.echo(render_table(explanation))
    if not explanation.matches_published:
        raise typer.Exit(2)
