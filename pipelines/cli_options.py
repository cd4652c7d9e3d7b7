"""What every `mlops` command shares: the params option, date parsing, loading params."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pipelines.config import Params

ContractOption = Annotated[str, typer.Option("--contract", help="scheduled_flights or outcomes.")]
DayOption = Annotated[str, typer.Option("--date", help="The partition date (YYYY-MM-DD).")]
RemoteOption = Annotated[str | None, typer.Option(help="DVC remote (default: the configured one).")]
ParamsOption = Annotated[
    Path | None, typer.Option("--params", help="params.yaml to use (default: the workspace's).")
]


def load(path: Path | None) -> Params:
    from pipelines.config import load_params

    return load_params(path)


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from error
