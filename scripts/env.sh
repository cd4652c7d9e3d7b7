# Environment of the embedded default (SQLite + local folders). Sourced by the make targets.
# Everything it points at lives under .local/ (git-ignored); override any variable before sourcing.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MLOPS_ROOT="$ROOT"
export MLOPS_STATE="${MLOPS_STATE:-$ROOT/.local}"
export PATH="$ROOT/.venv/bin:$PATH"

set -a
# shellcheck source=../mlflow/server.env
. "$ROOT/mlflow/server.env"
set +a
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-http://$MLFLOW_HOST:$MLFLOW_PORT}"

export AIRFLOW_HOME="${AIRFLOW_HOME:-$MLOPS_STATE/airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/orchestration/plugins"   # the on-call pages (/monitoring/)
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
# SQLite lets one writer in at a time; the scheduler, api-server and dag-processor all write:
# wait up to 30 s for the lock (the driver's default is 5 s) rather than fail "database is locked".
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db?timeout=30}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$AIRFLOW__API__PORT"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$AIRFLOW__API__PORT/execution/"
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False

export GX_ANALYTICS_ENABLED=false
export TQDM_DISABLE=1
export DVC_NO_ANALYTICS=1
export MPLBACKEND=Agg
