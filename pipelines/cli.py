"""`mlops`: every stage of the loop from the command line (the same functions the DAGs call).

Typical first run:  mlops land --start 2013-01-01 --end 2014-01-01 && mlops data publish
                    && mlops features && mlops train && mlops register --run-id <id>
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Flight-delay MLOps loop: land, version (DVC), build features, train, register.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(
    help="Version the training snapshot with DVC (push / pull).", no_args_is_help=True
)
models_app = typer.Typer(help="Inspect the MLflow model registry.", no_args_is_help=True)
gate_app = typer.Typer(help="The Great Expectations data gate.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Inspect and release quarantined data.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")
app.add_typer(gate_app, name="gate")
app.add_typer(quarantine_app, name="quarantine")

ContractOption = Annotated[str, typer.Option("--contract", help="scheduled_flights or outcomes.")]

ParamsOption = Annotated[
    Path | None, typer.Option("--params", help="params.yaml to use (default: the workspace's).")
]


def _params(path: Path | None):
    from pipelines.config import load_params

    return load_params(path)


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from error


@app.command()
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
    """
    from pipelines.data import landing
    from pipelines.upstream import delivery

    if day and (start or end):
        raise typer.BadParameter("give either --date or --start/--end")
    if day:
        first = last = _parse_date(day)
    elif start and end:
        first, last = _parse_date(start), _parse_date(end)
    else:
        raise typer.BadParameter("give --date D, or --start S --end E")
    params = _params(params_path)
    deliveries = delivery.land_days(params.landing_root, landing.days(first, last))
    flights = sum(d.flights_rows or 0 for d in deliveries)
    outcomes = sum(d.outcomes_rows or 0 for d in deliveries)
    typer.echo(
        f"landed {len(deliveries)} deliveries ({first}..{last}) under {params.landing_root}: "
        f"{flights} scheduled flights, {outcomes} outcomes"
    )


@app.command()
def snapshot(params_path: ParamsOption = None) -> None:
    """Build the training snapshot from landed days (the `snapshot` stage of dvc.yaml)."""
    from pipelines.data import steps as data_steps

    params = _params(params_path)
    manifest = data_steps.build_snapshot(params)
    typer.echo(
        f"snapshot {manifest.start}..{manifest.end} in {params.snapshot_dir}: {manifest.rows}"
    )


@data_app.command("publish")
def data_publish(
    remote: Annotated[
        str | None, typer.Option(help="DVC remote (default: the configured one).")
    ] = None,
    params_path: ParamsOption = None,
) -> None:
    """`dvc repro snapshot` then `dvc push`: version the snapshot and store it in the remote."""
    from pipelines.data.versioning import publish_snapshot

    params = _params(params_path)
    md5 = publish_snapshot(params.workspace, remote=remote)
    typer.echo(f"snapshot {params.data.snapshot_dir} versioned as md5 {md5} and pushed")


@data_app.command("pull")
def data_pull(
    remote: Annotated[
        str | None, typer.Option(help="DVC remote (default: the configured one).")
    ] = None,
    params_path: ParamsOption = None,
) -> None:
    """`dvc pull` the snapshot recorded in dvc.lock and check it matches."""
    from pipelines.data import steps as data_steps

    version = data_steps.pull_data(_params(params_path), remote=remote)
    typer.echo(json.dumps(version.as_dict(), indent=2))


@app.command()
def features(
    out: Annotated[Path, typer.Option(help="Where to write the feature table.")] = Path(
        "data/features/features.parquet"
    ),
    params_path: ParamsOption = None,
) -> None:
    """Build features and labels from the snapshot (the `features` stage of dvc.yaml)."""
    from pipelines.training import dataset

    params = _params(params_path)
    written = dataset.make_feature_table(params, params.snapshot_dir, str(out))
    typer.echo(f"features written to {written}")


@app.command("train")
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

    params = _params(params_path)
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


@app.command()
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

    params = _params(params_path)
    if unobserved_arrival:
        features = dataclasses.replace(params.features, unobserved_arrival=unobserved_arrival)
        params = dataclasses.replace(params, features=features)
    with tempfile.TemporaryDirectory(prefix="holdout-landing-") as landing_root:
        metrics = holdout.holdout_figures(params, landing_root)
    typer.echo(json.dumps({k: round(v, 4) for k, v in metrics.items()}, indent=2))


@app.command()
def register(
    run_id: Annotated[str, typer.Option(help="MLflow run whose model to register.")],
    params_path: ParamsOption = None,
) -> None:
    """Register a run's model as a new version of the registered model."""
    from pipelines.training import steps as training_steps

    registered = training_steps.register(_params(params_path), run_id)
    typer.echo(f"registered {registered.uri} from run {registered.run_id}")


@models_app.command("latest")
def models_latest(params_path: ParamsOption = None) -> None:
    """Show the newest registered version with its run's metrics and lineage tags."""
    from pipelines.training.tracking import describe_latest_version

    typer.echo(json.dumps(describe_latest_version(_params(params_path).mlflow), indent=2))


@gate_app.command("batch")
def gate_batch(
    contract: ContractOption,
    day: Annotated[str, typer.Option("--date", help="The partition date (YYYY-MM-DD).")],
    params_path: ParamsOption = None,
) -> None:
    """Validate one landed batch (once per content); a rejected one is copied to quarantine."""
    from pipelines.gate.quarantine import gate_landed_batch
    from pipelines.gate.validation import DataGateError

    try:
        report = gate_landed_batch(_params(params_path), contract, _parse_date(day))
    except DataGateError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from error
    typer.echo(report.message())


@gate_app.command("replay")
def gate_replay(
    start: Annotated[str, typer.Option(help="First date.")],
    end: Annotated[str, typer.Option(help="Last date (inclusive).")],
    contract: Annotated[
        list[str] | None, typer.Option("--contract", help="Contracts (default: both).")
    ] = None,
    params_path: ParamsOption = None,
) -> None:
    """Dry-run the gate over landed days (nothing moves): how many would pass or be held."""
    from pipelines.data import landing
    from pipelines.gate.quarantine import LANDED_CONTRACTS, gate_landed_batch

    params = _params(params_path)
    held = []
    checked = 0
    for day in landing.days(_parse_date(start), _parse_date(end)):
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
    """Print every contract's expectations (the reviewed suites) as JSON."""
    from pipelines.gate import contracts

    params = _params(params_path)
    names = ["scheduled_flights", "outcomes", "feature_table", "labelled_feature_table"]
    names += [f"reference_{t}" for t in ("airlines", "airports", "planes", "weather")]
    described = {
        name: contracts.describe(contracts.contract_for(name, params.gate, params.features))
        for name in names
    }
    typer.echo(json.dumps(described, indent=2, default=str))


@quarantine_app.command("list")
def quarantine_list(params_path: ParamsOption = None) -> None:
    """What is held, why, and where."""
    from pipelines.gate.quarantine import list_quarantine

    entries = list_quarantine(_params(params_path))
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
    day: Annotated[str, typer.Option("--date", help="The partition date (YYYY-MM-DD).")],
    params_path: ParamsOption = None,
) -> None:
    """Publish a fixed batch (or fixed rows) to the validated partition, after re-validating it."""
    from pipelines.gate.quarantine import release
    from pipelines.gate.validation import DataGateError

    try:
        report = release(_params(params_path), contract, _parse_date(day))
    except DataGateError as error:
        typer.echo(f"still not clean; it stays in quarantine:\n{error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"released:\n{report.message()}")


@app.command()
def promote(
    version: Annotated[str, typer.Option(help="Model version to make champion.")],
    reason: Annotated[str, typer.Option(help="Why: goes into the promotion log.")],
    force: Annotated[
        bool, typer.Option(help="Skip the checks (logged as forced). For emergencies.")
    ] = False,
    params_path: ParamsOption = None,
) -> None:
    """Make a version champion through the same checks as the training DAG (or --force)."""
    import tempfile

    from pipelines import registry
    from pipelines.data import steps as data_steps
    from pipelines.promotion import aliases, champion
    from pipelines.training import dataset

    params = _params(params_path)
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
        decision = champion.evaluate_challenger(params, version, features_uri)
        if not decision["promote"]:
            typer.echo(f"not promoted: {decision['summary']}", err=True)
            raise typer.Exit(1)
        decision["summary"] = f"{reason} ({decision['summary']})"
        outcome = champion.apply_decision(params, decision)
    typer.echo(f"{outcome['action']}: {outcome['summary']}")


@app.command()
def score(
    day: Annotated[str, typer.Option("--date", help="The day to score (YYYY-MM-DD).")],
    run_id: Annotated[str, typer.Option(help="Scoring run id written on every row.")] = "cli",
    params_path: ParamsOption = None,
) -> None:
    """Score one landed day with the champion (and the challenger in shadow): same code as
    the batch_scoring DAG. Re-running a date replaces it with identical rows."""
    from pipelines.promotion.aliases import CHALLENGER
    from pipelines.registry import resolve_alias
    from pipelines.scoring.day import score_day

    params = _params(params_path)
    champion = resolve_alias(params.mlflow)
    if champion is None:
        typer.echo(
            f"no champion for {params.mlflow.registered_model}: promote a model first", err=True
        )
        raise typer.Exit(1)
    result = score_day(
        params, _parse_date(day), champion, run_id, resolve_alias(params.mlflow, CHALLENGER)
    )
    typer.echo(json.dumps(result.__dict__, indent=2, default=str))


@app.command()
def predictions(
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Day after the last (YYYY-MM-DD).")],
    shadow: Annotated[bool, typer.Option(help="The shadow challenger's days instead.")] = False,
    params_path: ParamsOption = None,
) -> None:
    """One tab-separated line per day: rows, model versions, a sha256 of the scored content
    (every column but the scoring run id), the scoring run ids. Keep the first four columns
    before a re-run or backfill and compare after: a re-scored day keeps its digest."""
    from datetime import timedelta

    from pipelines.scoring.publish import published_day

    params = _params(params_path)
    day, stop = _parse_date(start), _parse_date(end)
    while day < stop:
        brief = published_day(params, day, "shadow" if shadow else "predictions")
        if brief is None:
            typer.echo(f"{day.isoformat()}\tnot published")
        else:
            versions, runs = ",".join(brief.model_versions), ",".join(brief.scoring_run_ids)
            typer.echo(f"{brief.day}\t{brief.rows}\t{versions}\t{brief.content_sha256}\t{runs}")
        day += timedelta(days=1)


@app.command()
def rollback(
    reason: Annotated[str, typer.Option(help="Why: goes into the promotion log.")] = "rollback",
    params_path: ParamsOption = None,
) -> None:
    """Point `champion` back at the previous champion from the promotion log (one step)."""
    from pipelines import registry
    from pipelines.promotion import aliases, champion

    params = _params(params_path)
    entry = aliases.rollback(
        registry.client(params.mlflow),
        params.mlflow.registered_model,
        champion.promotion_log(params),
        reason,
    )
    typer.echo(f"champion v{entry['from_version']} -> v{entry['to_version']} (rollback, logged)")


@app.command()
def promotions(params_path: ParamsOption = None) -> None:
    """The promotion log (after noting any change made in the MLflow UI) and the aliases."""
    from pipelines import registry
    from pipelines.promotion import aliases, champion

    params = _params(params_path)
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


def main() -> None:  # pragma: no cover
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()
