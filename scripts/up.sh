#!/usr/bin/env bash
# Start the UIs for a person on 127.0.0.1: MLflow, then Airflow's api-server (waited for, so the
# scheduler never runs a task before the Execution API answers), scheduler, dag-processor and
# triggerer. Each runs in its own process group; `make down` stops them all.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
cd "$MLOPS_ROOT"
mkdir -p "$MLOPS_STATE/pids" "$MLOPS_STATE/logs" "$AIRFLOW_HOME"

scripts/mlflow_server.sh start

passwords="$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
if [ ! -s "$passwords" ]; then
  python -c "import json,secrets,sys; json.dump({'admin': secrets.token_urlsafe(12)}, open(sys.argv[1],'w'))" "$passwords"
  chmod 600 "$passwords"
fi
airflow db migrate >"$MLOPS_STATE/logs/airflow-db-migrate.log" 2>&1 \
  || { tail -30 "$MLOPS_STATE/logs/airflow-db-migrate.log"; exit 1; }
airflow pools set promotion 1 "serializes champion changes" >/dev/null 2>&1

start() {  # name, command...
  local name="$1"; shift
  local pidfile="$MLOPS_STATE/pids/airflow-$name.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "airflow $name already running"; return; fi
  setsid "$@" >"$MLOPS_STATE/logs/airflow-$name.log" 2>&1 < /dev/null &
  echo $! > "$pidfile"
}

start api-server airflow api-server --host 127.0.0.1 --port "$AIRFLOW__API__PORT" --workers 1
health="http://127.0.0.1:$AIRFLOW__API__PORT/api/v2/monitor/health"
for _ in $(seq 1 120); do
  python -c "import urllib.request; urllib.request.urlopen('$health', timeout=2)" 2>/dev/null && break
  sleep 1
done
python -c "import urllib.request; urllib.request.urlopen('$health', timeout=2)" 2>/dev/null \
  || { echo "Airflow api-server did not come up; see $MLOPS_STATE/logs/airflow-api-server.log" >&2; exit 1; }
start scheduler airflow scheduler
start dag-processor airflow dag-processor
start triggerer airflow triggerer

password="$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['admin'])" "$passwords")"
cat <<MSG

Airflow UI:  http://127.0.0.1:$AIRFLOW__API__PORT   login: admin / $password
MLflow UI:   $MLFLOW_TRACKING_URI                  (no login on the embedded default)
On-call:     http://127.0.0.1:$AIRFLOW__API__PORT/monitoring/   (Browse -> Monitoring in the UI)
Logs:        $MLOPS_STATE/logs/
Stop all:    make down
MSG
