#!/usr/bin/env bash
# The README's data-scientist loop on the full window, in a fresh clone of HEAD at $1 (default
# /tmp/ds-loop): land 2013, publish the snapshot, `dvc repro`, commit, one `dvc exp run`, and the
# four comparisons, printed as the README shows them. Its own MLflow (port 5077, under the
# clone's .local/), stopped at the end. About 5 minutes on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${1:-/tmp/ds-loop}"
rm -rf "$target"
git clone --quiet "$here" "$target"
ln -s "$here/.venv" "$target/.venv"
cd "$target"
unset MLFLOW_TRACKING_URI AIRFLOW_HOME AIRFLOW__DATABASE__SQL_ALCHEMY_CONN MLOPS_WORKSPACE
export MLFLOW_PORT="${MLFLOW_PORT:-5077}" PYTHONPATH="$target"
# shellcheck source=env.sh
. scripts/env.sh
git config user.email ds@localhost
git config user.name ds
trap 'scripts/mlflow_server.sh stop >/dev/null 2>&1 || true' EXIT
step() { echo; echo "\$ $*"; "$@"; }
mlops land --start 2013-01-01 --end 2014-01-01 >/dev/null
mlops data publish >/dev/null
git add -A && git commit --quiet -m "the 2013 snapshot"
SECONDS=0
dvc repro >/dev/null
echo "dvc repro: ${SECONDS} s"
git add -A && git commit --quiet -m "baseline"
SECONDS=0
step dvc exp run --quiet -n missed-delay-3 -S train.calibration.missed_delay_cost=3
echo "(${SECONDS} s)"
step dvc params diff
step dvc metrics diff
step dvc plots diff -o "$target/plots-diff"
step dvc exp show --csv --only-changed
