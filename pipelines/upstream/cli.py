"""`mlops` commands of the upstream stage: deliver days from the (simulated) upstream system."""

from __future__ import annotations

from typing import Annotated

import typer

from pipelines.cli_options import ParamsOption, load, parse_date

commands = typer.Typer()


@commands.command()
def land(
    day: Annotated[str | None, typer.Option("--date", help="Deliver one day (YYYY-MM-DD).")] = None,
    start: Annotated[str | None, typer.Option(help="First delivery date of a range.")] = None,
    end: Annotated[
        str | None, typer.Option(help="Last delivery date of a range (inclusive).")
    ] = None,
    params_path: ParamsOption = None,
) -> None:
    """Deliver days from the upstream system into the landing zone.

    A delivery on day D brings the flights scheduled for D and the outcomes (labels) of D-1.
    Re-landing a day rewrites identical files.

    Example: mlops land --start 2013-01-01 --end 2014-01-01
    """
    from pipelines.data import landing
    from pipelines.upstream import delivery

    if day and (start or end):
        raise typer.BadParameter("give either --date or --start/--end")
    if day:
        first = last = parse_date(day)
    elif start and end:
        first, last = parse_date(start), parse_date(end)
    else:
        raise typer.BadParameter("give --date D, or --start S --end E")
    params = load(params_path)
    deliveries = delivery.land_days(params.landing_root, landing.days(first, last))
    flights = sum(d.flights_rows or 0 for d in deliveries)
    outcomes = sum(d.outcomes_rows or 0 for d in deliveries)
    typer.echo(
        f"landed {len(deliveries)} deliveries ({first}..{last}) under {params.landing_root}: "
        f"{flights} scheduled flights, {outcomes} outcomes"
    )
