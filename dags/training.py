"""
### Training

Pulls the DVC-versioned training snapshot, gates every table with its Great Expectations
contract (a blocking failure stops the run here: nothing is trained or registered, the failing
table is copied to `quarantine/snapshot/…`), builds features with the shared `features/` code,
trains the configured scikit-learn model with its baselines on a temporal split, logs
everything to MLflow, registers the model as a new version (alias `challenger`), decides
champion vs challenger on the same holdout (`promotion:` in params.yaml; decision record on
the run) and, if every check passes, moves the `champion` alias with compare-and-set
(serialized by the `promotion` pool and a lock; logged to the promotion log).

* **Data**: the snapshot recorded in the deployed checkout's `dvc.lock` (`dvc pull`), never
  files left on a worker. Its md5 and git revision are tagged on the run and the version.
* **Monitoring reference**: `train_model` also stores, with the run, the sample, drift
  thresholds (calibrated on the training days) and calibration data the `monitoring` DAG
  compares every night against (`monitoring_reference/`).
* **Hand-offs**: tasks pass the data version, a feature-table URI and MLflow ids, never frames.
* **Re-runs**: each task is idempotent; a re-run trains again on the same data version and
  registers a new version with identical metrics (seeded).
* **Config**: `params.yaml`; MLflow from `MLFLOW_TRACKING_URI`.

Runbook: `runbooks/training.md`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, get_current_context, task

from orchestration.schedule import default_args

DEFAULT_ARGS = default_args(retries=2, retry_delay_seconds=30, timeout_minutes=30)


def _run_scope() -> str:
    """A filesystem-safe id of this DAG run, for its intermediate files."""
    run_id = get_current_context()["run_id"]
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)


@dag(
    dag_id="training",
    schedule=None,
    start_date=datetime(2013, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    default_args=DEFAULT_ARGS,
    tags=["mlops", "training", "dvc", "mlflow"],
    doc_md=__doc__,
)
def training() -> None:
    @task
    def pull_data() -> dict:
        """`dvc pull` the snapshot of dvc.lock; returns its data version."""
        from pipelines.config import load_params
        from pipelines.data import steps as data_steps

        return data_steps.pull_data(load_params()).as_dict()

    @task
    def validate_snapshot(data_version: dict) -> list[dict]:
        """Great Expectations gate on every snapshot table; fails naming each failed expectation."""
        from pipelines.config import load_params
        from pipelines.data import steps as data_steps
        from pipelines.data.versioning import DataVersion
        from pipelines.training import dataset

        params = load_params()
        data_steps.pull_data(params, remote=data_version["remote"] or None)
        return dataset.validate_snapshot(params, DataVersion.from_dict(data_version))

    @task
    def build_features(data_version: dict, validation: list[dict]) -> str:
        """Feature table of the pulled snapshot, written under the run's artifacts folder."""
        from pipelines.config import load_params
        from pipelines.data import steps as data_steps
        from pipelines.storage import join_uri
        from pipelines.training import dataset

        params = load_params()
        data_steps.pull_data(params, remote=data_version["remote"] or None)
        out_uri = join_uri(params.artifacts_root, "training", _run_scope(), "features.parquet")
        return dataset.make_feature_table(params, params.snapshot_dir, out_uri)

    @task
    def train_model(features_uri: str, data_version: dict, validation: list[dict]) -> str:
        """Fit, evaluate against the baselines and log to MLflow; returns the MLflow run id."""
        import tempfile
        from pathlib import Path

        from pipelines.config import load_params
        from pipelines.data.versioning import DataVersion
        from pipelines.training import steps as training_steps

        params = load_params()
        context = get_current_context()
        with tempfile.TemporaryDirectory(prefix="training-reports-") as reports:
            result = training_steps.train_and_log(
                params,
                features_uri,
                DataVersion.from_dict(data_version),
                Path(reports),
                run_name=f"airflow-{_run_scope()}",
                extra_tags={
                    "airflow.dag_id": context["dag"].dag_id,
                    "airflow.run_id": context["run_id"],
                },
                validation=validation,
            )
        return result.run_id

    @task
    def register_model(mlflow_run_id: str) -> dict:
        """Register the run's model as a new version with lineage tags and a model card."""
        from dataclasses import asdict

        from pipelines.config import load_params
        from pipelines.training import steps as training_steps

        return asdict(training_steps.register(load_params(), mlflow_run_id))

    @task
    def decide_promotion(registered: dict, features_uri: str) -> dict:
        """Challenger vs champion on the same holdout; the record is logged on the run."""
        from pipelines.config import load_params
        from pipelines.promotion.champion import evaluate_challenger

        return evaluate_challenger(load_params(), registered["version"], features_uri).as_dict()

    @task(pool="promotion")
    def promote_champion(decision: dict) -> dict:
        """Move `champion` only if it still points where the decision assumed (else re-decide)."""
        from pipelines.config import load_params
        from pipelines.promotion.champion import ChallengerVerdict, apply_decision

        outcome = apply_decision(load_params(), ChallengerVerdict.from_dict(decision))
        print(f"{outcome.action.upper()}: {outcome.verdict.summary}")
        return outcome.as_dict()

    data_version = pull_data()
    validation = validate_snapshot(data_version)
    features_uri = build_features(data_version, validation)
    registered = register_model(train_model(features_uri, data_version, validation))
    promote_champion(decide_promotion(registered, features_uri))


training()
