"""`mlops` commands of the gate: validate landed batches, replay, suites, the quarantine."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipelines.cli_options import ContractOption, DayOption, ParamsOption, load, parse_date

if TYPE_CHECKING:
    from pipelines.config import Params
    from pipelines.gate.report import GateReport

commands = typer.Typer()
gate_app = typer.Typer(help="The Great Expectations data gate.", no_args_is_help=True)
commands.add_typer(gate_app, name="gate")
quarantine_app = typer.Typer(help="Inspect and release quarantined data.", no_args_is_help=True)
commands.add_typer(quarantine_app, name="quarantine")


@gate_app.command("batch")
def gate_batch(
    contract: ContractOption,
    day: DayOption,
    params_path: ParamsOption = None,
) -> None:
    """Validate one landed batch (once per content); a rejected one is copied to quarantine.

    Example: mlops gate batch --contract outcomes --date 2013-02-09"""
    from pipelines.gate.quarantine import gate_landed_batch

    _echo_gate(gate_landed_batch, params_path, contract, day, held="", done="")


@gate_app.command("replay")
def gate_replay(
    start: Annotated[str, typer.Option(help="First date.")],
    end: Annotated[str, typer.Option(help="Last date (inclusive).")],
    contract: Annotated[
        list[str] | None, typer.Option("--contract", help="Contracts (default: both).")
    ] = None,
    params_path: ParamsOption = None,
) -> None:
    """Dry-run the gate over landed days (nothing is written): how many would pass or be held.

    Example: mlops gate replay --start 2013-01-01 --end 2013-12-31"""
    from pipelines.data import landing
    from pipelines.gate.quarantine import LANDED_CONTRACTS, gate_landed_batch
    from pipelines.progress import track

    params = load(params_path)
    held = []
    checked = 0
    days = landing.days(parse_date(start), parse_date(end))
    for day in track(days, "gate replay", len(days)):
        for name in contract or LANDED_CONTRACTS:
            report = gate_landed_batch(params, name, day, dry_run=True)
            checked += 1
            if report.status != "passed":
                held.append(report)
                typer.echo(report.message())
    typer.echo(f"{checked} batches validated, {checked - len(held)} passed, {len(held)} not clean")
    if held:
        raise typer.Exit(1)


@gate_app.command("suites")
def gate_suites(params_path: ParamsOption = None) -> None:
    """Print every contract's expectations (the reviewed suites) as JSON.

    Example: mlops gate suites > suites.json"""
    from pipelines.gate import contracts

    params = load(params_path)
    names = ["scheduled_flights", "outcomes", "feature_table", "labelled_feature_table"]
    names += [f"reference_{t}" for t in ("airlines", "airports", "planes", "weather")]
    described = {
        name: contracts.describe(contracts.contract_for(name, params.gate, params.features))
        for name in names
    }
    typer.echo(json.dumps(described, indent=2, default=str))


@quarantine_app.command("list")
def quarantine_list(params_path: ParamsOption = None) -> None:
    """What is held, why, and where.

    Example: mlops quarantine list"""
    from pipelines.gate.quarantine import list_quarantine

    entries = list_quarantine(load(params_path))
    if not entries:
        typer.echo("quarantine is empty")
    for entry in entries:
        typer.echo(
            f"{entry.contract:18} {entry.batch:16} {entry.kind:5} {entry.rows:>7} rows  "
            f"{', '.join(entry.reasons)}\n    {entry.path}"
        )


@quarantine_app.command("release")
def quarantine_release(
    contract: ContractOption,
    day: DayOption,
    params_path: ParamsOption = None,
) -> None:
    """Publish a fixed batch (or fixed rows) to the validated partition, after re-validating it.

    Example: mlops quarantine release --contract scheduled_flights --date 2013-01-12"""
    from pipelines.gate.quarantine import release

    _echo_gate(
        release,
        params_path,
        contract,
        day,
        held="still not clean; it stays in quarantine:\n",
        done="released:\n",
    )


def _echo_gate(
    action: Callable[[Params, str, date], GateReport],
    params_path: Path | None,
    contract: str,
    day: str,
    held: str,
    done: str,
) -> None:
    """Run a gate action on one batch; a held batch prints its failures and exits 1."""
    from pipelines.gate.report import DataGateError

    try:
        report = action(load(params_path), contract, parse_date(day))
    except DataGateError as error:
        typer.echo(f"{held}{error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"{done}{report.message()}")
