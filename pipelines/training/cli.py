"""`mlops` commands of training: the feature table, fit and log, the holdout report, register."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_options import ParamsOption, load

commands = typer.Typer()
models_app = typer.Typer(help="Inspect the MLflow model registry.", no_args_is_help=True)
commands.add_typer(models_app, name="models")


@commands.command()
def features(
    out: Annotated[Path, typer.Option(help="Where to write the feature table.")] = Path(
        "data/features/features.parquet"
    ),
    params_path: ParamsOption = None,
) -> None:
    """Build features and labels from the snapshot (the `features` stage of dvc.yaml).

    Example: mlops features --out data/features/features.parquet"""
    from pipelines.training import dataset

    params = load(params_path)
    written = dataset.make_feature_table(params, params.snapshot_dir, str(out))
    typer.echo(f"features written to {written}")


@commands.command("train")
def train_command(
    features_path: Annotated[
        Path, typer.Option("--features", help="Feature table from `mlops features`.")
    ] = Path("data/features/features.parquet"),
    reports: Annotated[Path, typer.Option(help="Folder for metrics.json and plots.")] = Path(
        "reports/train"
    ),
    run_name: Annotated[str, typer.Option(help="MLflow run name.")] = "cli-train",
    params_path: ParamsOption = None,
) -> None:
    """Train the model and the baselines on the temporal split; log everything to MLflow.

    Example: mlops train --features data/features/features.parquet --reports reports/train
    --run-name manual-train"""
    from pipelines.data.versioning import DataVersion, default_remote, git_revision, locked_md5
    from pipelines.training import steps as training_steps

    params = load(params_path)
    git = git_revision(params.workspace)
    version = DataVersion(
        path=params.data.snapshot_dir,
        md5=locked_md5(params.workspace, params.data.snapshot_dir),
        git_rev=git.git_rev,
        git_dirty=git.git_dirty,
        remote=default_remote(params.workspace),
    )
    result = training_steps.train_and_log(params, str(features_path), version, reports, run_name)
    typer.echo(json.dumps({"run_id": result.run_id, **result.metrics}, indent=2))


@commands.command()
def register(
    run_id: Annotated[str, typer.Option(help="MLflow run whose model to register.")],
    params_path: ParamsOption = None,
) -> None:
    """Register a run's model as a new version of the registered model.

    Example: mlops register --run-id <run_id from reports/train/run.json>"""
    from pipelines.training import steps as training_steps

    registered = training_steps.register(load(params_path), run_id)
    typer.echo(f"registered {registered.uri} from run {registered.run_id}")


@models_app.command("latest")
def models_latest(params_path: ParamsOption = None) -> None:
    """Show the newest registered version with its run's metrics and lineage tags.

    Example: mlops models latest"""
    from pipelines.training.tracking import describe_latest_version

    typer.echo(json.dumps(describe_latest_version(load(params_path).mlflow), indent=2))
