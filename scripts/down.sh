#!/usr/bin/env bash
# Stop every process group that `make up` / `make demo` started (by pidfile; never by name).
set -uo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
for pidfile in "$MLOPS_STATE"/pids/airflow-*.pid; do
  [ -f "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  kill -TERM -- "-$pid" 2>/dev/null
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$pid" 2>/dev/null
  rm -f "$pidfile"
  echo "stopped $(basename "$pidfile" .pid)"
done
"$MLOPS_ROOT/scripts/mlflow_server.sh" stop
