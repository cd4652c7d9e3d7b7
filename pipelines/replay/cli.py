"""`mlops simulate`: the year replay and its report (what `make simulate` runs)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_options import ParamsOption, load, parse_date

commands = typer.Typer()


@commands.command()
def simulate(
    start: Annotated[
        str | None, typer.Option(help="First day (default: simulation.start).")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Last day (default: simulation.end).")] = None,
    first_model_days: Annotated[
        int | None, typer.Option(help="Days the first model trains on (default from params).")
    ] = None,
    report_from: Annotated[
        str | None, typer.Option(help="Measure the policies from this day on.")
    ] = None,
    bootstrap_samples: Annotated[int | None, typer.Option(help="Paired bootstrap draws.")] = None,
    out: Annotated[str | None, typer.Option(help="Report folder (default: output_dir).")] = None,
    benchmark_out: Annotated[
        str | None, typer.Option(help="Also write the timing and the headline figures here.")
    ] = None,
    workspace: Annotated[
        str | None, typer.Option(help="Scratch folder for landing/validated (default: temp).")
    ] = None,
    policies: Annotated[
        str | None,
        typer.Option(help="Comma-separated policies (default: simulation.policies)."),
    ] = None,
    benefit_every_days: Annotated[
        int | None,
        typer.Option(help="Measure the benefit every N nights (default from params)."),
    ] = None,
    params_path: ParamsOption = None,
) -> None:
    """Replay the year day by day: land, gate, score, label, monitor, retrain and decide, under
    each policy of `simulation.policies`; measure the benefit a retraining would have had, how
    well each signal predicts it, the pages per month and the cost–quality frontier.

    Example: mlops simulate --end 2013-05-31 --policies frozen,every_14d,guarded"""
    import tempfile

    from pipelines.replay.deliveries import ReplayPlan
    from pipelines.replay.loop import run_replay
    from pipelines.replay.report import summarise, write_report, write_tradeoff

    params = load(params_path)
    if benefit_every_days is not None:
        params = dataclasses.replace(
            params,
            simulation=dataclasses.replace(
                params.simulation, benefit_every_days=benefit_every_days
            ),
        )
    settings = params.simulation
    plan = ReplayPlan(
        start=parse_date(start) if start else settings.start,
        end=parse_date(end) if end else settings.end,
        first_model_days=first_model_days or settings.first_model_days,
        policies=tuple(policies.split(",")) if policies else settings.policies,
    )
    since = report_from or settings.report_from.isoformat()
    with tempfile.TemporaryDirectory(prefix="replay-") as scratch:
        result = run_replay(
            params,
            plan,
            Path(workspace or scratch),
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    summary, daily, monthly, nights = summarise(
        result,
        since,
        bootstrap_samples or settings.bootstrap_samples,
        settings.seed,
        params,
    )
    out_dir = Path(params.workspace_path(out or settings.output_dir))
    page = write_report(out_dir, summary, daily, monthly, nights, result)
    write_tradeoff(nights, result.benefits, summary, params, out_dir / "act_tradeoff.png")
    if benchmark_out:
        Path(benchmark_out).write_text(json.dumps(summary, indent=2, default=str))
    typer.echo(
        json.dumps({k: summary[k] for k in ("comparisons", "retrainings", "timing")}, indent=2)
    )
    typer.echo(f"timeline: {page}")


@commands.command("simulation-tables")
def simulation_tables(
    summary: Annotated[
        str, typer.Option(help="A run's summary.json.")
    ] = "reports/simulation/summary.json",
    figure: Annotated[
        str | None,
        typer.Option(help="Also draw the act precision/recall trade-off here (a .png)."),
    ] = None,
) -> None:
    """Print the README's tables (frontier, intervals, signal quality, the estimate's error,
    the act trigger sets, the page budget, the thresholds and the guard chosen before the cut)
    from a `make simulate` run; all but the frontier and the intervals are recomputed from the
    `nights.csv` and `benefit.csv` beside the summary, under params.yaml.

    Example: mlops simulation-tables --summary reports/simulation/selection/summary.json"""
    import pandas as pd

    from pipelines.replay.report import chosen_before_cut, markdown_tables, write_tradeoff
    from pipelines.replay.signal_quality import (
        act_trigger_summary,
        estimate_error,
        page_budget_of,
        pages_per_month,
    )

    params = load(None)
    run = json.loads(Path(summary).read_text())
    folder = Path(summary).parent
    if (folder / "nights.csv").exists() and (folder / "benefit.csv").exists():
        nights = pd.read_csv(folder / "nights.csv")
        benefits = pd.read_csv(folder / "benefit.csv")
        run["act_trigger_sets"] = act_trigger_summary(
            nights,
            benefits,
            params.simulation.choose_before.isoformat(),
            params.monitoring.verdict.act_triggers,
        )
        run["estimate_error"] = estimate_error(nights, str(run["report_from"]))
        # pages under the committed alert budget, whatever `page_clear_nights` the run had
        pages = pages_per_month(
            nights, params.monitoring.page_clear_nights, str(run["report_from"])
        )
        run["frontier"] = [{**row, **pages.get(row["policy"], {})} for row in run["frontier"]]
        run["page_budget"] = page_budget_of(nights, params, str(run["report_from"]))
        run.update(chosen_before_cut(nights, benefits, params, str(run["report_from"])))
        if figure:
            write_tradeoff(nights, benefits, run, params, Path(figure))
    typer.echo(markdown_tables(run))


@commands.command("simulation-starts")
def simulation_starts(
    summaries: Annotated[list[str], typer.Argument(help="The summary.json of each run.")],
) -> None:
    """Print the guards' comparisons of several runs side by side, one per replay start date
    (what `make simulate-starts` writes and prints).

    Example: mlops simulation-starts reports/simulation/starts/start=*/summary.json"""
    from pipelines.replay.report import start_dates_table

    typer.echo(start_dates_table([json.loads(Path(s).read_text()) for s in summaries]))
