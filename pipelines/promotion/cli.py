"""`mlops` commands of promotion: promote (through the checks or forced), roll back, the log,
and the holdout figures against the simpler models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_options import ParamsOption, load

commands = typer.Typer()


@commands.command()
def promote(
    version: Annotated[str, typer.Option(help="Model version to make champion.")],
    reason: Annotated[str, typer.Option(help="Why: goes into the promotion log.")],
    force: Annotated[
        bool, typer.Option(help="Skip the checks (logged as forced). For emergencies.")
    ] = False,
    params_path: ParamsOption = None,
) -> None:
    """Make a version champion through the same checks as the training DAG (or --force).

    Example: mlops promote --version 12 --reason "retrained after the schedule change"
    """
    import dataclasses
    import tempfile

    from pipelines import registry
    from pipelines.data import steps as data_steps
    from pipelines.promotion import aliases, champion
    from pipelines.training import dataset

    params = load(params_path)
    client = registry.client(params.mlflow)
    name = params.mlflow.registered_model
    log = champion.promotion_log(params)
    if force:
        entry = aliases.set_champion(
            client,
            name,
            log,
            version,
            aliases.ANY_CHAMPION,
            reason=f"forced: {reason}",
            kind="forced",
        )
        typer.echo(f"champion v{entry['from_version']} -> v{entry['to_version']} (forced, logged)")
        return
    data_steps.pull_data(params)
    with tempfile.TemporaryDirectory() as scratch:
        features_uri = dataset.make_feature_table(
            params, params.snapshot_dir, f"{scratch}/features.parquet"
        )
        verdict = champion.evaluate_challenger(params, version, features_uri)
        if not verdict.promote:
            typer.echo(f"not promoted: {verdict.summary}", err=True)
            raise typer.Exit(1)
        verdict = dataclasses.replace(verdict, summary=f"{reason} ({verdict.summary})")
        outcome = champion.apply_decision(params, verdict)
    if outcome.action == "challenger":
        typer.echo(
            f"v{version} passed offline and is the challenger now: it serves in shadow until "
            f"{params.promotion.shadow.min_nights} labelled nights judge it "
            "(`mlops judge-challenger`; --force makes it champion at once)"
        )
        return
    typer.echo(f"{outcome.action}: {outcome.verdict.summary}")


@commands.command()
def rollback(
    reason: Annotated[str, typer.Option(help="Why: goes into the promotion log.")] = "rollback",
    params_path: ParamsOption = None,
) -> None:
    """Point `champion` back at the previous champion from the promotion log (one step).

    Example: mlops rollback --reason "v7 over-predicts delays at EWR since 2013-06-02"
    """
    from pipelines import registry
    from pipelines.promotion import aliases, champion

    params = load(params_path)
    entry = aliases.rollback(
        registry.client(params.mlflow),
        params.mlflow.registered_model,
        champion.promotion_log(params),
        reason,
    )
    typer.echo(f"champion v{entry['from_version']} -> v{entry['to_version']} (rollback, logged)")


@commands.command()
def promotions(params_path: ParamsOption = None) -> None:
    """The promotion log (after noting any change made in the MLflow UI) and the aliases.

    Example: mlops promotions"""
    from pipelines import registry
    from pipelines.promotion import aliases, champion

    params = load(params_path)
    client = registry.client(params.mlflow)
    name = params.mlflow.registered_model
    log = champion.promotion_log(params)
    aliases.reconcile(client, name, log)
    for entry in log.entries():
        typer.echo(
            f"{entry['at']}  {entry['kind']:24} v{entry['from_version']} -> v{entry['to_version']}"
            f"  by {entry['actor']}: {entry['reason'][:120]}"
        )
    for alias in (registry.CHAMPION, registry.CHALLENGER):
        typer.echo(f"{alias}: v{registry.alias_version(client, name, alias)}")


@commands.command()
def holdout(
    unobserved_arrival: Annotated[
        str | None, typer.Option(help="Override features.unobserved_arrival (exclude|positive).")
    ] = None,
    params_path: ParamsOption = None,
) -> None:
    """Holdout figures of the model and both baselines, from the upstream source, no servers:
    lands the snapshot window into a temporary folder, then features, split, fit, score.

    Example: mlops holdout --unobserved-arrival positive"""
    import dataclasses
    import tempfile

    from pipelines.promotion import holdout

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


@commands.command("sample-run")
def sample_run_command(
    out: Annotated[Path, typer.Option(help="Folder for the holdout scores and the summary.")],
    start: Annotated[str, typer.Option(help="First training day.")] = "2013-01-01",
    holdout_start: Annotated[str, typer.Option(help="First holdout day.")] = "2013-02-15",
    end: Annotated[str, typer.Option(help="Last holdout day.")] = "2013-02-28",
    search: Annotated[bool, typer.Option(help="Run the model search (slow).")] = False,
    params_path: ParamsOption = None,
) -> None:
    """Fit this checkout's model on a small sample window, with no server, for a pull
    request's report (one side of `mlops pr-report`).

    Example: mlops sample-run --out /tmp/head && (cd ../base && mlops sample-run --out /tmp/base)
    """
    import tempfile

    from pipelines.promotion import pull_request

    window = pull_request.parse_window(start, holdout_start, end)
    params = pull_request.sample_params(load(params_path), window, search)
    with tempfile.TemporaryDirectory(prefix="sample-landing-") as landing_root:
        run = pull_request.sample_run(params, window, landing_root, out)
    typer.echo(
        f"{run.family} on {run.rows} holdout flights: ROC AUC "
        f"{run.metrics['holdout_roc_auc']:.4f}; written to {out}"
    )


@commands.command("pr-report")
def pr_report(
    base: Annotated[Path, typer.Option(help="`mlops sample-run` folder of the base branch.")],
    head: Annotated[Path, typer.Option(help="`mlops sample-run` folder of the pull request.")],
    params_diff: Annotated[
        Path | None, typer.Option(help="`dvc params diff <base> --md` output to include.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the Markdown here (else print).")] = None,
    params_path: ParamsOption = None,
) -> None:
    """The pull request's model report in Markdown: params diff, metrics of both branches,
    and the promotion decision merging would produce on the sample (exit 0 either way).

    Example: dvc params diff origin/main --md > p.md && mlops pr-report --base /tmp/base
    --head /tmp/head --params-diff p.md --out report.md"""
    from pipelines.promotion import pull_request

    params = load(params_path)
    diff = params_diff.read_text() if params_diff else ""
    report = pull_request.pull_request_report(base, head, params.promotion, diff)
    if out is None:
        typer.echo(report)
    else:
        out.write_text(report)
        typer.echo(f"report written to {out}")
