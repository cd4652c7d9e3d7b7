#!/usr/bin/env bash
# up | down [--wipe] | status | start|stop|restart NAME: the production topology as local
# processes (no Docker engine here): PostgreSQL (Airflow's metadata, MLflow's backend and its
# accounts), Redis (Celery's broker), a moto S3 server standing in for MinIO, MLflow behind its
# basic-auth app, and Airflow 3 with the CeleryExecutor: api-server, scheduler, dag-processor,
# triggerer and $STACK_CELERY_WORKERS workers. Started in order with health waits; `down` stops
# exactly what `up` started (pidfiles and the data directory, never by name); `stop`/`start`
# one service (a fault drill, maintenance). State and secrets: .local/stack/ (throwaway).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export MLOPS_STATE="${MLOPS_STATE:-$ROOT/.local}"
STACK_STATE="${STACK_STATE:-$MLOPS_STATE/stack}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PIDS="$STACK_STATE/pids"
LOGS="$STACK_STATE/logs"

say() { echo "stack: $*" >&2; }
die() { say "$*"; exit 1; }

# --- the machine's packages -------------------------------------------------------------------
need_packages() {
  local missing=()
  [ -x "$PG_BIN/initdb" ] || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]} with apt-get (Debian packages; the stack runs their binaries)"
  [ "$(id -u)" = 0 ] || die "not root: install ${missing[*]} (apt-get install ${missing[*]}) and retry"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >"$LOGS/apt.log" 2>&1 \
    || { apt-get update -q >>"$LOGS/apt.log" 2>&1 && apt-get install -y -q "${missing[@]}" >>"$LOGS/apt.log" 2>&1; } \
    || die "apt-get install ${missing[*]} failed: see $LOGS/apt.log"
  [ -x "$PG_BIN/initdb" ] || PG_BIN="$(dirname "$(find /usr/lib/postgresql -name initdb -type f | sort | tail -1)")"
}

# --- secrets: generated once, mode 600, never committed ---------------------------------------
secrets() {
  local file="$STACK_STATE/secrets.env"
  if [ ! -s "$file" ]; then
    (umask 077 && python3 - "$file" <<'PY'
import secrets, sys
names = ["POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD", "MLFLOW_DB_PASSWORD", "REDIS_PASSWORD",
         "S3_ACCESS_KEY", "S3_SECRET_KEY", "MLFLOW_ADMIN_PASSWORD", "MLFLOW_PIPELINE_PASSWORD",
         "MLFLOW_READER_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY", "AIRFLOW_JWT_SECRET",
         "AIRFLOW_API_SECRET_KEY", "AIRFLOW_FERNET_KEY"]
values = {name: secrets.token_hex(24) for name in names}
import base64
values["AIRFLOW_FERNET_KEY"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
with open(sys.argv[1], "w") as out:
    out.writelines(f"{name}={value}\n" for name, value in values.items())
PY
    )
  fi
  set -a; . "$file"; set +a
}

# --- the environment every process of the stack shares ----------------------------------------
environment() {
  set -a
  . "$ROOT/deploy/local/stack.env"
  set +a
  secrets
  local h="$STACK_HOST"
  export PATH="$ROOT/.venv/bin:$PATH" MLOPS_ROOT="$ROOT"
  export AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" AWS_DEFAULT_REGION=us-east-1
  export AWS_ENDPOINT_URL="http://$h:$STACK_S3_PORT" MLFLOW_S3_ENDPOINT_URL="http://$h:$STACK_S3_PORT"
  export MLFLOW_TRACKING_URI="http://$h:$STACK_MLFLOW_PORT"
  export MLFLOW_TRACKING_USERNAME=pipeline MLFLOW_TRACKING_PASSWORD="$MLFLOW_PIPELINE_PASSWORD"
  export MLFLOW_AUTH_CONFIG_PATH="$STACK_STATE/mlflow/basic_auth.ini"
  export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false  # no job-runner workers (mlflow/server.env)
  export AIRFLOW_HOME="$STACK_STATE/airflow"
  export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags" AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/orchestration/plugins"
  export AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__EXECUTOR=CeleryExecutor
  export AIRFLOW__CORE__PARALLELISM=8 AIRFLOW__CORE__FERNET_KEY="$AIRFLOW_FERNET_KEY"
  export AIRFLOW__CORE__HOSTNAME_CALLABLE=orchestration.worker_identity.hostname
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://airflow:$AIRFLOW_DB_PASSWORD@$h:$STACK_POSTGRES_PORT/airflow"
  export AIRFLOW__CELERY__BROKER_URL="redis://:$REDIS_PASSWORD@$h:$STACK_REDIS_PORT/0"
  export AIRFLOW__CELERY__RESULT_BACKEND="db+postgresql+psycopg2://airflow:$AIRFLOW_DB_PASSWORD@$h:$STACK_POSTGRES_PORT/airflow"
  export AIRFLOW__CELERY__WORKER_CONCURRENCY="$STACK_CELERY_CONCURRENCY"
  export AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER=1
  # Flask AppBuilder's auth manager: users and roles in PostgreSQL (the simple auth manager of
  # the embedded default is for trying the project, not for a team).
  export AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager
  export STACK_AIRFLOW_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"
  export AIRFLOW__API__HOST="$h" AIRFLOW__API__PORT="$STACK_AIRFLOW_PORT"
  export AIRFLOW__API__BASE_URL="http://$h:$STACK_AIRFLOW_PORT"
  export AIRFLOW__API__SECRET_KEY="$AIRFLOW_API_SECRET_KEY" AIRFLOW__API_AUTH__JWT_SECRET="$AIRFLOW_JWT_SECRET"
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://$h:$STACK_AIRFLOW_PORT/execution/"
  export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False
  export GX_ANALYTICS_ENABLED=false TQDM_DISABLE=1 DVC_NO_ANALYTICS=1 MPLBACKEND=Agg
}

# --- processes --------------------------------------------------------------------------------
running() { [ -f "$PIDS/$1.pid" ] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

start() {  # name, command...: its own process group, its pid recorded
  local name="$1"; shift
  if running "$name"; then say "$name already running"; return; fi
  setsid "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &  # appended: a restart keeps the last words
  echo $! >"$PIDS/$name.pid"
}

start_restarted() {  # name, command...: as `start`, and started again whenever it exits, as
  # compose's `restart: unless-stopped` does (the scheduler exits when PostgreSQL goes away);
  # `stop NAME` ends the loop with its process group
  local name="$1"; shift
  start "$name" bash -c 'while :; do "$@"; echo "stack.sh: $0 exited ($?): starting it again in 5 s" >&2; sleep 5; done' "$name" "$@"
}

wait_until() {  # name, seconds, command...: until the command succeeds, or fail naming the log
  local name="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ -f "$PIDS/$name.pid" ] && ! running "$name"; then
      tail -25 "$LOGS/$name.log" >&2; die "$name exited while starting: $LOGS/$name.log"
    fi
    [ $SECONDS -lt $deadline ] || { tail -25 "$LOGS/$name.log" >&2; die "$name not healthy after ${seconds}s: $LOGS/$name.log"; }
    sleep 0.5
  done
}

http_ok() { python3 -c "import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1"; }

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# --- services, in order -----------------------------------------------------------------------
postgres_up() {
  local data="$STACK_STATE/postgres"
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    local pwfile="$STACK_STATE/postgres.pw"
    (umask 077 && echo "$POSTGRES_PASSWORD" >"$pwfile")
    if [ "$(id -u)" = 0 ]; then chown postgres "$data" "$pwfile"; fi
    as_postgres "$PG_BIN/initdb" -D "$data" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
      >"$LOGS/initdb.log" 2>&1 || die "initdb failed: $LOGS/initdb.log"
    rm -f "$pwfile"
  fi
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    touch "$LOGS/postgres.log"; [ "$(id -u)" = 0 ] && chown postgres "$LOGS/postgres.log"
    as_postgres "$PG_BIN/pg_ctl" -D "$data" -l "$LOGS/postgres.log" -w -t 60 start \
      -o "-c listen_addresses=$STACK_HOST -p $STACK_POSTGRES_PORT -k $data" >/dev/null \
      || die "PostgreSQL did not start: $LOGS/postgres.log"
  fi
  export PGPASSWORD="$POSTGRES_PASSWORD"
  local psql=(psql -h "$STACK_HOST" -p "$STACK_POSTGRES_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  ensure_database() {  # role, password, database
    [ "$("${psql[@]}" -c "select 1 from pg_roles where rolname='$1'")" = 1 ] \
      || "${psql[@]}" -c "create role $1 login password '$2'"
    [ "$("${psql[@]}" -c "select 1 from pg_database where datname='$3'")" = 1 ] \
      || "${psql[@]}" -c "create database $3 owner $1"
  }
  ensure_database airflow "$AIRFLOW_DB_PASSWORD" airflow
  ensure_database mlflow "$MLFLOW_DB_PASSWORD" mlflow
  ensure_database mlflow "$MLFLOW_DB_PASSWORD" mlflow_auth
  unset PGPASSWORD
  say "PostgreSQL on $STACK_HOST:$STACK_POSTGRES_PORT (databases airflow, mlflow, mlflow_auth)"
}

redis_up() {
  mkdir -p "$STACK_STATE/redis"
  local conf="$STACK_STATE/redis/redis.conf"
  (umask 077 && printf 'bind %s\nport %s\nrequirepass %s\ndir %s\nsave ""\nappendonly no\nprotected-mode yes\n' \
    "$STACK_HOST" "$STACK_REDIS_PORT" "$REDIS_PASSWORD" "$STACK_STATE/redis" >"$conf")
  start redis redis-server "$conf"
  wait_until redis 30 env REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h "$STACK_HOST" -p "$STACK_REDIS_PORT" ping
  say "Redis on $STACK_HOST:$STACK_REDIS_PORT"
}

s3_up() {
  start s3 moto_server -H "$STACK_HOST" -p "$STACK_S3_PORT"
  wait_until s3 60 http_ok "$AWS_ENDPOINT_URL/moto-api/"
  python3 - $STACK_BUCKETS <<'PY'
import sys, boto3
s3 = boto3.client("s3")
existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
for bucket in sys.argv[1:]:
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
PY
  say "S3 (moto, standing in for MinIO) on $AWS_ENDPOINT_URL, buckets: $STACK_BUCKETS"
}

mlflow_up() {
  mkdir -p "$STACK_STATE/mlflow"
  MLFLOW_AUTH_DATABASE_URI="postgresql+psycopg2://mlflow:$MLFLOW_DB_PASSWORD@$STACK_HOST:$STACK_POSTGRES_PORT/mlflow_auth" \
    python3 "$ROOT/mlflow/accounts.py" render "$ROOT/mlflow/basic_auth.ini.template" "$MLFLOW_AUTH_CONFIG_PATH"
  start mlflow env MLFLOW_TRACKING_USERNAME= MLFLOW_TRACKING_PASSWORD= \
    mlflow server --app-name basic-auth \
    --backend-store-uri "postgresql+psycopg2://mlflow:$MLFLOW_DB_PASSWORD@$STACK_HOST:$STACK_POSTGRES_PORT/mlflow" \
    --artifacts-destination "$MLFLOW_ARTIFACTS_DESTINATION" \
    --host "$STACK_HOST" --port "$STACK_MLFLOW_PORT" --workers 2
  wait_until mlflow 180 http_ok "$MLFLOW_TRACKING_URI/health"
  python "$ROOT/mlflow/accounts.py" create "$MLFLOW_TRACKING_URI" || die "could not create MLflow's accounts"
  say "MLflow on $MLFLOW_TRACKING_URI (basic-auth; accounts: pipeline edits what it creates, reader reads)"
}

airflow_up() {
  mkdir -p "$AIRFLOW_HOME"
  local passwords="$STACK_AIRFLOW_PASSWORDS_FILE"
  [ -s "$passwords" ] || (umask 077 && python3 -c "import json,secrets,sys; json.dump({u: secrets.token_urlsafe(16) for u in ('admin','viewer')}, open(sys.argv[1],'w'))" "$passwords")
  airflow db migrate >"$LOGS/airflow-db-migrate.log" 2>&1 || die "airflow db migrate failed: $LOGS/airflow-db-migrate.log"
  python "$ROOT/deploy/airflow_accounts.py" "$passwords" >>"$LOGS/airflow-db-migrate.log" 2>&1 \
    || die "could not create Airflow's accounts: $LOGS/airflow-db-migrate.log"
  airflow pools set promotion 1 "serializes champion changes" >/dev/null 2>&1
  local name
  for name in airflow-api-server airflow-scheduler airflow-dag-processor airflow-triggerer; do
    airflow_service_up "$name"
  done
  local n
  for n in $(seq 1 "$STACK_CELERY_WORKERS"); do airflow_service_up "airflow-worker-$n" --no-wait; done
  for n in $(seq 1 "$STACK_CELERY_WORKERS"); do
    wait_until "airflow-worker-$n" 180 celery_ping "worker-$n@"
  done
  say "Airflow on $AIRFLOW__API__BASE_URL (CeleryExecutor, $STACK_CELERY_WORKERS workers)"
}

airflow_service_up() {  # name [--no-wait]: one of Airflow's processes, as `up` starts it
  case "$1" in
    airflow-api-server)
      start "$1" airflow api-server --host "$STACK_HOST" --port "$STACK_AIRFLOW_PORT" --workers 1
      wait_until "$1" 240 http_ok "$AIRFLOW__API__BASE_URL/api/v2/monitor/health" ;;
    airflow-scheduler) start_restarted "$1" airflow scheduler ;;
    airflow-dag-processor) start_restarted "$1" airflow dag-processor ;;
    airflow-triggerer) start_restarted "$1" airflow triggerer --skip-serve-logs ;;
    airflow-worker-[0-9]*)
      local n="${1#airflow-worker-}"
      # --skip-serve-logs: a worker's log server binds every interface; on one machine the
      # api-server reads the task logs from the shared log folder instead.
      start "$1" env MLOPS_WORKER_NAME="worker-$n" \
        airflow celery worker --celery-hostname "worker-$n@%h" --skip-serve-logs \
        --concurrency "$STACK_CELERY_CONCURRENCY"
      [ "${2:-}" = --no-wait ] || wait_until "$1" 180 celery_ping "worker-$n@" ;;
    *) die "no such Airflow process: $1" ;;
  esac
}

celery_ping() {  # a worker whose name starts with $1 answers a ping
  python3 - "$1" <<'PY'
import sys
from airflow.providers.celery.executors.celery_executor_utils import app
replies = app.control.ping(timeout=2.0) or []
sys.exit(0 if any(name.startswith(sys.argv[1]) for reply in replies for name in reply) else 1)
PY
}

# --- the deployed checkout the tasks run in (params.yaml, DVC) --------------------------------
workspace_up() {
  # A deploy, not the developer's tree: a clone of this checkout's HEAD at the first start
  # (or MLOPS_WORKSPACE when set), its DVC remote the stack's bucket. Its .dvc/config.local
  # says so; the developer's own checkout keeps its local remote.
  if [ -z "${MLOPS_WORKSPACE:-}" ]; then
    export MLOPS_WORKSPACE="$STACK_STATE/workspace"
    [ -d "$MLOPS_WORKSPACE/.git" ] || git clone --quiet "$ROOT" "$MLOPS_WORKSPACE"
  fi
  (cd "$MLOPS_WORKSPACE" \
    && dvc remote modify --local s3 endpointurl "$AWS_ENDPOINT_URL" \
    && dvc remote default --local s3) >"$LOGS/dvc-config.log" 2>&1 \
    || die "could not point $MLOPS_WORKSPACE's DVC remote at the stack: $LOGS/dvc-config.log"
  say "workspace $MLOPS_WORKSPACE (DVC remote s3 -> $AWS_ENDPOINT_URL)"
}

up() {
  local began=$SECONDS
  mkdir -p "$PIDS" "$LOGS"
  [ -x "$ROOT/.venv/bin/airflow" ] || "$ROOT/scripts/bootstrap.sh"
  need_packages
  environment
  postgres_up
  redis_up
  s3_up
  workspace_up
  mlflow_up
  airflow_up
  write_client_env
  echo "$((SECONDS - began))" >"$STACK_STATE/started_in_seconds"
  local admin viewer
  admin="$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['admin'])" "$STACK_AIRFLOW_PASSWORDS_FILE")"
  viewer="$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['viewer'])" "$STACK_AIRFLOW_PASSWORDS_FILE")"
  cat <<MSG

The stack is up in $((SECONDS - began)) s (logs: $LOGS/).
Airflow UI:  $AIRFLOW__API__BASE_URL   admin / $admin   (viewer / $viewer)
MLflow UI:   $MLFLOW_TRACKING_URI   admin / (MLFLOW_ADMIN_PASSWORD in $STACK_STATE/secrets.env)
S3:          $AWS_ENDPOINT_URL   (moto)
A shell on the stack:  . $STACK_STATE/client.env   (then mlops …, airflow …)
Stop all:    make stack-down
MSG
}

write_client_env() {  # what a shell, a test or the CLI needs to use the stack
  local file="$STACK_STATE/client.env"
  (umask 077 && env | grep -E '^(AIRFLOW|AWS_|MLFLOW_|MLOPS_|STACK_|GX_|TQDM_|DVC_NO|MPLBACKEND|PATH=)' | grep -v '^MLFLOW_AUTH_CONFIG_PATH=' \
    | sed -e "s/'/'\\\\''/g" -e "s/=\(.*\)/='\1'/" -e 's/^/export /' >"$file")
}

stop_group() {  # name: TERM its process group, then KILL what is left
  local pidfile="$PIDS/$1.pid"
  [ -f "$pidfile" ] || return 0
  local pid; pid="$(cat "$pidfile")"
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pidfile"
  say "stopped $1"
}

down() {
  local name
  for n in $(seq 1 16); do stop_group "airflow-worker-$n"; done
  for name in airflow-triggerer airflow-dag-processor airflow-scheduler airflow-api-server mlflow s3 redis; do
    stop_group "$name"
  done
  if [ -f "$STACK_STATE/postgres/postmaster.pid" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$STACK_STATE/postgres" -m fast -w stop >/dev/null && say "stopped postgres"
  fi
  if [ "${1:-}" = "--wipe" ]; then rm -rf "$STACK_STATE"; say "removed $STACK_STATE"; fi
}

service() {  # start|stop|restart NAME: one service of a running stack (faults, maintenance)
  local action="$1" name="${2:-}"
  [ -n "$name" ] || die "usage: $0 $action postgres|redis|s3|mlflow|airflow-api-server|airflow-scheduler|airflow-dag-processor|airflow-triggerer|airflow-worker-N"
  environment
  export MLOPS_WORKSPACE="${MLOPS_WORKSPACE:-$STACK_STATE/workspace}"
  if [ "$action" != start ]; then
    case "$name" in
      postgres) as_postgres "$PG_BIN/pg_ctl" -D "$STACK_STATE/postgres" -m fast -w stop >/dev/null && say "stopped postgres" ;;
      s3) say "warning: moto keeps its objects in memory; a new S3 server starts empty"; stop_group s3 ;;
      redis|mlflow|airflow-*) stop_group "$name" ;;
      *) die "no such service: $name" ;;
    esac
  fi
  [ "$action" = stop ] && return
  case "$name" in
    postgres) postgres_up ;;
    redis) redis_up ;;
    s3) s3_up ;;
    mlflow) mlflow_up ;;
    airflow-*) airflow_service_up "$name"; say "$name started" ;;
    *) die "no such service: $name" ;;
  esac
}

status() {
  local name failed=0
  for name in redis s3 mlflow airflow-api-server airflow-scheduler airflow-dag-processor airflow-triggerer; do
    if running "$name"; then echo "$name: up (pid $(cat "$PIDS/$name.pid"))"; else echo "$name: down"; failed=1; fi
  done
  for f in "$PIDS"/airflow-worker-*.pid; do
    [ -f "$f" ] || continue; name="$(basename "$f" .pid)"
    if running "$name"; then echo "$name: up"; else echo "$name: down"; failed=1; fi
  done
  if as_postgres "$PG_BIN/pg_ctl" -D "$STACK_STATE/postgres" status >/dev/null 2>&1; then echo "postgres: up"; else echo "postgres: down"; failed=1; fi
  return $failed
}

case "${1:-}" in
  up) up ;;
  down) down "${2:-}" ;;
  status) status ;;
  start|stop|restart) service "$1" "${2:-}" ;;
  *) echo "usage: $0 up|down [--wipe]|status|start NAME|stop NAME|restart NAME" >&2; exit 2 ;;
esac
