"""`mlops` commands of online serving: run the service, make an API key."""

from __future__ import annotations

import os
from datetime import date
from typing import Annotated

import typer

from pipelines.cli_options import ParamsOption, load

commands = typer.Typer()


@commands.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (serving.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (serving.port).")] = None,
    today: Annotated[
        str | None, typer.Option(help="The day the fallback's base rates end (default: today).")
    ] = None,
    params_path: ParamsOption = None,
) -> None:
    """Serve the registry's champion over HTTP (POST /v1/predictions).

    Example: MLOPS_SERVING_API_KEYS=caller:<sha256>,admin:<sha256> mlops serve --port 8100"""
    import uvicorn

    from pipelines.registry import CHALLENGER, CHAMPION
    from pipelines.serving.app import create_app
    from pipelines.serving.champion import ChampionHolder
    from pipelines.serving.keys import ApiKeys
    from pipelines.serving.served_log import ServedLog
    from pipelines.serving.state import serving_inputs

    params = load(params_path)
    keys = ApiKeys.from_env(os.environ)
    inputs = serving_inputs(params, date.fromisoformat(today) if today else date.today())
    cost = params.train.calibration.missed_delay_cost
    holder = ChampionHolder(params.mlflow, cost, CHAMPION)
    canary = (
        ChampionHolder(params.mlflow, cost, CHALLENGER, unless_same_as=holder)
        if params.serving.canary_share > 0
        else None
    )
    served_log = ServedLog(params.workspace_path(params.serving.served_log_dir))
    app = create_app(params, keys, inputs, holder, served_log=served_log, challenger=canary)
    uvicorn.run(app, host=host or params.serving.host, port=port or params.serving.port)


@commands.command("serve-key")
def serve_key(
    role: Annotated[str, typer.Option(help="caller or admin.")] = "caller",
) -> None:
    """Make an API key: the key (give it to the caller, once) and the entry to add to
    MLOPS_SERVING_API_KEYS (only its hash is configured).

    Example: mlops serve-key --role admin"""
    from pipelines.serving.keys import ROLES, hash_key, new_key

    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}")
    key = new_key()
    typer.echo(f"key: {key}")
    typer.echo(f"MLOPS_SERVING_API_KEYS entry: {role}:{hash_key(key)}")
