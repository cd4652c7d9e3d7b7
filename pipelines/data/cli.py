"""`mlops` commands of the data stage: build and version the training snapshot and the
snapshots of moving training windows (`mlops land` is the upstream stage's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_options import ParamsOption, RemoteOption, load, parse_date

commands = typer.Typer()
data_app = typer.Typer(
    help="Version the training snapshot with DVC (push / pull).", no_args_is_help=True
)
commands.add_typer(data_app, name="data")


@commands.command()
def snapshot(params_path: ParamsOption = None) -> None:
    """Build the training snapshot from landed days (the `snapshot` stage of dvc.yaml).

    Example: mlops snapshot --params params.yaml"""
    from pipelines.data import steps as data_steps

    params = load(params_path)
    manifest = data_steps.build_snapshot(params)
    typer.echo(
        f"snapshot {manifest.start}..{manifest.end} in {params.snapshot_dir}: {manifest.rows}"
    )


@data_app.command("publish")
def data_publish(
    remote: RemoteOption = None,
    params_path: ParamsOption = None,
) -> None:
    """`dvc repro snapshot` then `dvc push`: version the snapshot and store it in the remote.

    Example: mlops data publish --remote local"""
    from pipelines.data.versioning import publish_snapshot

    params = load(params_path)
    md5 = publish_snapshot(params.workspace, remote=remote)
    typer.echo(f"snapshot {params.data.snapshot_dir} versioned as md5 {md5} and pushed")


@data_app.command("pull")
def data_pull(
    remote: RemoteOption = None,
    params_path: ParamsOption = None,
) -> None:
    """`dvc pull` the snapshot recorded in dvc.lock and check it matches.

    Example: mlops data pull --remote local"""
    from pipelines.data import steps as data_steps

    version = data_steps.pull_data(load(params_path), remote=remote)
    typer.echo(json.dumps(version.as_dict(), indent=2))


@data_app.command("window")
def data_window(
    as_of: Annotated[
        str, typer.Option("--as-of", help="Day T of the retraining run (YYYY-MM-DD).")
    ],
    remote: RemoteOption = None,
    params_path: ParamsOption = None,
) -> None:
    """Snapshot the validated days of the moving window ending before T, `dvc add` and push it.

    Prints its data version: the md5 is what a model trained on it carries (`data.dvc_md5`).

    Example: mlops data window --as-of 2013-07-01"""
    from pipelines.data.windows import publish_window_snapshot
    from pipelines.training_window import moving_window

    params = load(params_path)
    window = moving_window(parse_date(as_of), params.retraining)
    version = publish_window_snapshot(params, window, remote=remote)
    typer.echo(json.dumps({**version.as_dict(), "window": window.as_dict()}, indent=2))


@data_app.command("pull-snapshot")
def data_pull_snapshot(
    md5: Annotated[
        str, typer.Option("--md5", help="DVC md5 of the snapshot (a run's `data.dvc_md5` tag).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder to create (must be new or empty).")],
    remote: RemoteOption = None,
    params_path: ParamsOption = None,
) -> None:
    """Bring back a published snapshot by its md5 alone: which data did a model train on?

    Example: mlops data pull-snapshot --md5 <data.dvc_md5> --out /tmp/model-12-data"""
    from pipelines.data.windows import pull_window_snapshot

    params = load(params_path)
    folder = pull_window_snapshot(params.workspace, md5, out, remote=remote)
    typer.echo(f"snapshot md5 {md5} pulled into {folder}")
