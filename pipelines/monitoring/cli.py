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
    monitoring DAG's work). Prints the summary; the page is `reports/monitoring/date=D/`.

    Example: mlops monitor --date 2013-06-03"""
    from pipelines.monitoring.nightly import monitor_day

    summary = monitor_day(load(params_path), parse_date(day), log_to_mlflow=mlflow)
    typer.echo(json.dumps(summary["verdict"], indent=2))


@commands.command("monitoring-reference")
def monitoring_reference(
    run_file: Annotated[
        str | None, typer.Option(help="A run.json `mlops train` wrote: that run's reference.")
    ] = None,
    features: Annotated[
        str | None, typer.Option(help="With --run-file: the feature table the run trained on.")
    ] = None,
    model_version: Annotated[
        str | None,
        typer.Option(help="Or a registered version without a reference (its window re-landed)."),
    ] = None,
    out: Annotated[str | None, typer.Option(help="Also write its summary JSON here.")] = None,
    params_path: ParamsOption = None,
) -> None:
    """Build and store a model run's monitoring reference: the step after `mlops train` (the
    `reference` stage of dvc.yaml), or for a version trained before monitoring existed.

    Example: mlops monitoring-reference --run-file reports/train/run.json
    --features data/features/features.parquet --out reports/reference/summary.json"""
    from pathlib import Path

    from pipelines.monitoring import rebuild

    params = load(params_path)
    if run_file and features:
        run_id = json.loads(Path(run_file).read_text())["run_id"]
        reference = rebuild.reference_from_features(params, run_id, features)
    elif model_version and not (run_file or features):
        reference = rebuild.rebuild_reference(params, model_version)
    else:
        raise typer.BadParameter("give --run-file with --features, or --model-version alone")
    summary = {"window": reference.window, "false_alarms": reference.false_alarms}
    text = json.dumps(summary, indent=2, sort_keys=True)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    typer.echo(text)


@commands.command("monitoring-backtest")
def monitoring_backtest(
    train_start: Annotated[str, typer.Option(help="First training day.")] = "2013-01-01",
    holdout_start: Annotated[str, typer.Option(help="First holdout day.")] = "2013-09-01",
    window_end: Annotated[str, typer.Option(help="Last holdout day.")] = "2013-09-30",
    monitor_end: Annotated[str, typer.Option(help="Last monitored day.")] = "2013-12-30",
    early_days: Annotated[int, typer.Option(help="'The first weeks' after the window.")] = 28,
    inject_every: Annotated[int, typer.Option(help="Inject faults on every n-th day.")] = 3,
    out: Annotated[str | None, typer.Option(help="Also write the JSON here.")] = None,
    params_path: ParamsOption = None,
) -> None:
    """False-alarm and detection rates of the drift verdict, and the error of the performance
    estimate, measured on 2013 with no server (the README's monitoring table).

    Example: mlops monitoring-backtest --out benchmarks/results/monitoring_backtest.json"""
    import tempfile
    from pathlib import Path

    from pipelines.monitoring.backtest import BacktestWindow, backtest_from_source

    window = BacktestWindow(
        parse_date(train_start),
        parse_date(holdout_start),
        parse_date(window_end),
        parse_date(monitor_end),
        early_days,
        inject_every,
    )
    with tempfile.TemporaryDirectory() as scratch:
        result = backtest_from_source(load(params_path), scratch, window)
    text = json.dumps(result, indent=2, default=str)
    if out:
        Path(out).write_text(text + "\n")
    typer.echo(text)


@commands.command("judge-challenger")
def judge_challenger(
    day: Annotated[str, typer.Option("--date", help="The night (YYYY-MM-DD): labels before it.")],
    dry_run: Annotated[bool, typer.Option(help="Decide and log, move no alias.")] = False,
    params_path: ParamsOption = None,
) -> None:
    """The challenger's shadow nights judged with the promotion rules; promote, retire or wait
    (what the monitoring DAG's `judge_challenger` task runs every night).

    Example: mlops judge-challenger --date 2013-07-20"""
    from datetime import date

    from pipelines.monitoring import shadow_period

    params = load(params_path)
    verdict = shadow_period.judge_challenger(params, date.fromisoformat(day))
    if verdict is None:
        typer.echo("no challenger in shadow")
        return
    if dry_run:
        typer.echo(f"(dry run) {verdict.summary}")
        return
    outcome = shadow_period.apply_shadow_verdict(params, verdict)
    typer.echo(f"{outcome.action}: {verdict.summary}")


@commands.command()
def cost(
    month: Annotated[str, typer.Option(help="The month of the loop's days (YYYY-MM).")],
    as_json: Annotated[bool, typer.Option("--json", help="The month as JSON.")] = False,
    params_path: ParamsOption = None,
) -> None:
    """What a month of the loop cost, per stage: CPU-seconds, wall time, peak memory and bytes
    written, from the cost ledger every training, scoring and monitoring run records; priced
    with `cost.cpu_hour_usd` and `cost.storage_gb_month_usd` of params.yaml.

    Example: mlops cost --month 2013-06"""
    from pipelines.monitoring.cost_report import month_cost, render
    from pipelines.run_cost import read_ledger

    params = load(params_path)
    try:
        summary = month_cost(read_ledger(params), month, params.cost)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--month") from error
    if not any(stage.records for stage in summary.stages):
        ledger = params.workspace_path(params.cost.ledger_dir)
        typer.echo(f"no run of {month} in the cost ledger ({ledger})", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(summary.as_dict(), indent=2) if as_json else render(summary))
