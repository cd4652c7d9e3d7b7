"""MLflow at the edge: logging a training run and registering its model.

Everything logged here is what someone auditing a model version needs: params, metrics,
plots, the data version (DVC md5 + git rev) and the code version.
"""

from __future__ import annotations

import time
from importlib.metadata import version
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from sklearn.pipeline import Pipeline

from pipelines import registry
from pipelines.config import MlflowParams


def model_requirements() -> list[str]:
    """Pinned from the installed versions, so MLflow does not spend seconds inferring them."""
    return [
        f"{package}=={version(package)}"
        for package in ("scikit-learn", "pandas", "numpy", "scipy", "skops")
    ]


def trusted_types(model: Pipeline) -> list[str]:
    """The types skops must trust to load this pipeline: refused at training time when one is
    outside `registry.TRUSTED_MODEL_TYPES` (scoring would refuse to load it)."""
    import skops.io

    needed = sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
    unknown = [name for name in needed if name not in registry.TRUSTED_MODEL_TYPES]
    if unknown:
        raise ValueError(
            f"the model holds types outside registry.TRUSTED_MODEL_TYPES: {unknown}; review "
            "them and add them there, or the registry will refuse to load this model"
        )
    return needed


def log_training_run(
    params: MlflowParams,
    run_name: str,
    model: Pipeline,
    signature_sample: pd.DataFrame,
    input_example: pd.DataFrame,
    run_params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    figures: dict[str, Figure],
    artifacts: dict[str, Any],
) -> str:
    """Log one training run and its model; returns the run id."""
    from mlflow.models import infer_signature

    import mlflow

    registry.client(params)  # the fluent API below logs to the configured server
    mlflow.set_experiment(params.experiment)
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags(tags)
        mlflow.log_params(run_params)
        mlflow.log_metrics(metrics)
        for name, figure in figures.items():
            mlflow.log_figure(figure, f"plots/{name}.png")
        for name, content in artifacts.items():
            mlflow.log_dict(content, name)
        signature = infer_signature(signature_sample, model.predict_proba(signature_sample))
        log_skops_model(
            model,
            signature=signature,
            input_example=input_example,
            pyfunc_predict_fn="predict_proba",
        )
        return str(run.info.run_id)


def log_skops_model(model: Any, **described: Any) -> None:
    """Log `model` to the active run as `model/`, the one way the registry can load it: skops
    with our list of trusted types, and the pinned requirements (`described`: signature,
    input example and the like)."""
    import mlflow

    mlflow.sklearn.log_model(
        model,
        name="model",
        pip_requirements=model_requirements(),
        serialization_format="skops",
        skops_trusted_types=trusted_types(model),
        **described,
    )


def log_trials(params: MlflowParams, parent_run_id: str, tuning: Any) -> list[str]:
    """Every trial of the search as a nested run under the training run (`search.TuningResult`):
    its family, configuration, round, rows and the score of each fold."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

    client = registry.client(params)
    parent = client.get_run(parent_run_id)
    stamp = parent.info.start_time
    children = []
    for number, trial in enumerate(tuning.trials):
        child = client.create_run(
            parent.info.experiment_id,
            start_time=stamp,
            tags={
                MLFLOW_PARENT_RUN_ID: parent_run_id,
                MLFLOW_RUN_NAME: f"trial-{number:02d}-{trial.family}",
            },
        )
        run_id = child.info.run_id
        client.log_batch(
            run_id,
            metrics=[
                Metric(f"validation_{tuning.metric}", trial.score, stamp, 0),
                *(
                    Metric(f"fold_{tuning.metric}", score, stamp, fold)
                    for fold, score in enumerate(trial.fold_scores)
                ),
            ],
            params=[
                Param("family", trial.family),
                Param("round", str(trial.iteration)),
                Param("rows", str(trial.rows)),
                *(Param(f"hp.{k}", str(v)) for k, v in sorted(trial.hyperparameters.items())),
            ],
            tags=[RunTag("search.winner", str(_is_winner(trial, tuning)).lower())],
        )
        client.set_terminated(run_id, "FINISHED")
        children.append(run_id)
    return children


def _is_winner(trial: Any, tuning: Any) -> bool:
    return bool(trial.family == tuning.family and trial.hyperparameters == tuning.hyperparameters)


def log_by_week(params: MlflowParams, run_id: str, weekly: pd.DataFrame) -> None:
    """Weekly holdout metrics as metric histories (`staleness_<metric>`, step = the week)."""
    import time

    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    metrics = [
        Metric(f"staleness_{name}", float(row[name]), stamp, int(row["week"]))
        for row in weekly.to_dict("records")
        for name in ("roc_auc", "log_loss", "brier", "delay_rate")
        if name in row and pd.notna(row[name])
    ]
    client = registry.client(params)
    client.log_batch(run_id, metrics=metrics)
    client.log_dict(run_id, {"weeks": weekly.to_dict("records")}, "holdout_by_week.json")


#: What every version of this model cannot do, whatever its metrics (the card's "Known limits").
KNOWN_LIMITS = (
    "Trained on 2013 departures from EWR, JFK and LGA only: other airports or years are out of "
    "its data.",
    "Knows only what is known the evening before: the schedule, the route and the origin's "
    "weather up to the cutoff; not the plane, the departure delay, the destination's weather "
    "or air traffic control.",
    "The island airports (`dest_region` island) are a few hundred flights a month: their slice "
    "is judged pooled (with the shadow nights), and its figures are wide.",
    "Probabilities are calibrated on the newest training days: a season change moves them "
    "before it moves the ranking (the monitoring's estimate and delayed labels watch it).",
)


def _against_baselines(metrics: dict[str, float]) -> list[str]:
    """The holdout table: the model beside the logistic baseline and the base rate."""
    rows = [
        ("model", "holdout_"),
        ("logistic baseline", "baseline_logreg_"),
        ("base rate", "baseline_base_rate_"),
    ]
    names = [m for m in ("roc_auc", "pr_auc", "log_loss", "brier") if f"holdout_{m}" in metrics]
    lines = ["| holdout | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, prefix in rows:
        if any(f"{prefix}{m}" in metrics for m in names):
            values = [
                f"{metrics[f'{prefix}{m}']:.4f}" if f"{prefix}{m}" in metrics else "–"
                for m in names
            ]
            lines.append(f"| {label} | " + " | ".join(values) + " |")
    return lines


def model_card(run: Any, metrics: dict[str, float]) -> str:
    """The version's description, as a model card (Markdown, as the MLflow UI renders it); the
    decisions on the version are appended to it later (`registry.record_decision`)."""
    tags = run.data.tags
    lines = [
        "### Model card",
        "**Intended use.** Predicts whether a NYC departure of 2013 arrives 15+ minutes late, "
        "from what is known the evening before (schedule, route, origin weather up to the "
        "cutoff); nightly batch scoring and `mlops serve` read it through the `champion` alias.",
        "",
        f"**Model.** {tags.get('model.family', '?')} "
        f"(search: {tags.get('model.search', 'off')}; {tags.get('model.hyperparameters', '')}).",
        "",
        f"**Window.** Trained on {tags.get('split.train_start')}..{tags.get('split.train_end')}, "
        f"held out {tags.get('split.holdout_start')}..{tags.get('split.holdout_end')}.",
        "",
        "**Against the baselines** (the same holdout):",
        "",
        *_against_baselines(metrics),
        "",
        "All holdout figures: "
        + ", ".join(f"{k} {metrics[k]:.4f}" for k in sorted(metrics) if k.startswith("holdout_"))
        + ".",
        "",
        f"**Calibration.** {tags.get('model.calibration', 'none')}. Decides late at "
        f"{tags.get('model.decision_threshold', 'the cost-optimal threshold')}.",
        "",
        f"**Lineage.** Data: DVC md5 {tags.get('data.dvc_md5')} at git {tags.get('data.git_rev')}. "
        f"Code: git {tags.get('code.git_rev')} (uncommitted source: "
        f"{tags.get('code.source_dirty', '?')}; uncommitted params: "
        f"{tags.get('params.git_dirty', '?')}).",
    ]
    if tags.get("slices.weakest"):
        lines += ["", f"**Weakest holdout slices.** {tags['slices.weakest']}."]
    if tags.get("retraining.day"):
        lines += [
            "",
            f"**Why it was trained.** Retraining requested by monitoring on "
            f"{tags['retraining.day']} (act nights {tags.get('retraining.act_days', '?')}; "
            f"triggers {tags.get('retraining.triggers', '?')}): "
            f"{tags.get('retraining.reason', '')}",
        ]
    lines += ["", "**Known limits.**", *(f"- {limit}" for limit in KNOWN_LIMITS)]
    return "\n".join(lines)


def register_model(params: MlflowParams, run_id: str) -> registry.ModelVersionRef:
    """Register the run's model (once per run) with its lineage tags and a model card."""
    run = registry.client(params).get_run(run_id)
    lineage = {
        k: v
        for k, v in run.data.tags.items()
        if k.split(".")[0] in ("data", "code", "model", "split", "window", "retraining")
    }
    return registry.register_run(params, run_id, model_card(run, run.data.metrics), lineage)


def describe_latest_version(params: MlflowParams) -> dict[str, Any]:
    """The newest version of the registered model, its run's metrics and lineage, and UI links."""
    uri = params.tracking_uri
    client = registry.client(params)
    versions = client.search_model_versions(f"name = '{params.registered_model}'")
    if not versions:
        raise LookupError(f"no version of {params.registered_model!r} is registered at {uri}")
    latest = max(versions, key=lambda v: int(v.version))
    run = client.get_run(str(latest.run_id))
    return {
        "registered_model": params.registered_model,
        "version": latest.version,
        "run_id": latest.run_id,
        "run_url": f"{uri}/#/experiments/{run.info.experiment_id}/runs/{latest.run_id}",
        "model_url": f"{uri}/#/models/{params.registered_model}/versions/{latest.version}",
        "metrics": {k: round(v, 4) for k, v in sorted(run.data.metrics.items()) if "_" in k},
        "lineage": {k: v for k, v in sorted(latest.tags.items())},
    }


def artifact_bytes(params: MlflowParams, run_id: str) -> int:
    """The size of everything the run logged: its artifacts and its models' (MLflow 3 keeps a
    logged model's files apart from the run's)."""
    client = registry.client(params)
    run = client.get_run(run_id)
    models = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    total = _walked_bytes(lambda path: client.list_artifacts(run_id, path))
    for model in models:
        total += _walked_bytes(
            lambda path, model_id=model.model_id: client.list_logged_model_artifacts(model_id, path)
        )
    return total


def _walked_bytes(listing: Any, path: str | None = None) -> int:
    total = 0
    for info in listing(path):
        total += _walked_bytes(listing, info.path) if info.is_dir else int(info.file_size or 0)
    return total


def log_cost(params: MlflowParams, run_id: str, metrics: dict[str, float]) -> None:
    """What the run cost, as metrics on it (`pipelines/run_cost.py`)."""
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    registry.client(params).log_batch(
        run_id, metrics=[Metric(k, v, stamp, 0) for k, v in metrics.items()]
    )
