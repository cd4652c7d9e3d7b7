#!/usr/bin/env bash
# start | stop | status | ensure of the MLflow tracking server of the embedded default.
# Started with setsid so `stop` ends its whole process group.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
PIDFILE="$MLOPS_STATE/pids/mlflow.pid"
LOG="$MLOPS_STATE/logs/mlflow.log"

healthy() { python -c "import urllib.request,sys; urllib.request.urlopen('$MLFLOW_TRACKING_URI/health', timeout=2)" 2>/dev/null; }

case "${1:-}" in
  start)
    if healthy; then echo "MLflow already up at $MLFLOW_TRACKING_URI"; exit 0; fi
    mkdir -p "$MLOPS_STATE/pids" "$MLOPS_STATE/logs" "$MLFLOW_ARTIFACTS_DESTINATION" "$(dirname "${MLFLOW_BACKEND_STORE_URI#sqlite:///}")"
    setsid mlflow server \
      --backend-store-uri "$MLFLOW_BACKEND_STORE_URI" \
      --artifacts-destination "$MLFLOW_ARTIFACTS_DESTINATION" \
      --host "$MLFLOW_HOST" --port "$MLFLOW_PORT" --workers 1 >"$LOG" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    for _ in $(seq 1 120); do
      if healthy; then echo "MLflow up at $MLFLOW_TRACKING_URI (log: $LOG)"; exit 0; fi
      if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then break; fi
      sleep 1
    done
    echo "MLflow did not become healthy; last lines of $LOG:" >&2; tail -20 "$LOG" >&2; exit 1
    ;;
  stop)
    if [ -f "$PIDFILE" ]; then
      pid="$(cat "$PIDFILE")"
      kill -TERM -- "-$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      rm -f "$PIDFILE"; echo "MLflow stopped"
    fi
    ;;
  ensure)
    # For `dvc repro` / `dvc exp run`: the tracking server the run logs to, up. The embedded
    # default is started if it is down (and left running for its UI: `make down` stops it);
    # any other MLFLOW_TRACKING_URI must already be up.
    if healthy; then exit 0; fi
    if [ "$MLFLOW_TRACKING_URI" = "http://$MLFLOW_HOST:$MLFLOW_PORT" ]; then exec "$0" start >&2; fi
    echo "MLflow at $MLFLOW_TRACKING_URI is not reachable: start it, or unset MLFLOW_TRACKING_URI for the embedded default" >&2
    exit 1
    ;;
  status) healthy && echo "MLflow up at $MLFLOW_TRACKING_URI" || { echo "MLflow down"; exit 1; } ;;
  *) echo "usage: $0 start|stop|status|ensure" >&2; exit 2 ;;
esac
