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
    """Build features and labels from the snapshot (the `features` stage of dvc.yaml)."""
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
    """Train the model and the baselines on the temporal split; log everything to MLflow."""
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
def holdout(
    unobserved_arrival: Annotated[
        str | None, typer.Option(help="Override features.unobserved_arrival (exclude|positive).")
    ] = None,
    params_path: ParamsOption = None,
) -> None:
    """Holdout figures of the model and both baselines, from the upstream source, no servers:
    lands the snapshot window into a temporary folder, then features, split, fit, score."""
    import dataclasses
    import tempfile

    from pipelines.training import holdout

    params = load(params_path)
    if unobserved_arrival:
        features = dataclasses.replace(params.features, unobserved_arrival=unobserved_arrival)
        params = dataclasses.replace(params, features=features)
    with tempfile.TemporaryDirectory(prefix="holdout-landing-") as landing_root:
        report = holdout.holdout_figures(params, landing_root)
    typer.echo(json.dumps({k: round(v, 4) for k, v in report.metrics.items()}, indent=2))
    typer.echo(f"model: {report.family} {json.dumps(report.hyperparameters, sort_keys=True)}")
    if report.search:
        folds = "; ".join(
            f"{f['train_days'][0]}..{f['train_days'][1]} -> {f['validate_days'][0]}.."
            f"{f['validate_days'][1]}"
            for f in report.search["folds"]
        )
        scores = {k: round(v, 4) for k, v in report.search["family_scores"].items()}
        typer.echo(f"search ({report.search['metric']} on folds {folds}): {scores}")
        for trial in report.search["trials"]:
            folds_scored = [round(s, 4) for s in trial["fold_scores"]]
            typer.echo(
                f"  {trial['family']} round {trial['iteration']} rows {trial['rows']}: "
                f"{folds_scored} {json.dumps(trial['hyperparameters'], sort_keys=True)}"
            )
    typer.echo("the model minus each simpler model (95% interval; positive = the model is better):")
    typer.echo(report.versus_simpler_models.round(4).to_string(index=False))
    groups = report.feature_groups.drop(columns=["columns"]).round(4)
    typer.echo("feature groups (holdout ROC AUC drop when shuffled together, 95% interval):")
    typer.echo(groups.to_string(index=False))


@commands.command()
def register(
    run_id: Annotated[str, typer.Option(help="MLflow run whose model to register.")],
    params_path: ParamsOption = None,
) -> None:
    """Register a run's model as a new version of the registered model."""
    from pipelines.training import steps as training_steps

    registered = training_steps.register(load(params_path), run_id)
    typer.echo(f"registered {registered.uri} from run {registered.run_id}")


@models_app.command("latest")
def models_latest(params_path: ParamsOption = None) -> None:
    """Show the newest registered version with its run's metrics and lineage tags."""
    from pipelines.training.tracking import describe_latest_version

    typer.echo(json.dumps(describe_latest_version(load(params_path).mlflow), indent=2))
