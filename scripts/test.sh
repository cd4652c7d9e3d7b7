#!/usr/bin/env bash
# The test command of the README and of CI. Servers are started by the tests themselves
# (session-scoped fixtures on 127.0.0.1) and stopped by them.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
cd "$MLOPS_ROOT"
# The tests get their own MLflow, Airflow home and DVC remotes; never the developer's.
unset MLFLOW_TRACKING_URI AIRFLOW_HOME AIRFLOW__DATABASE__SQL_ALCHEMY_CONN MLOPS_WORKSPACE
if [ "${1:-}" = "--no-lint" ]; then shift; else
  echo "==> lint: the pre-commit hooks (.pre-commit-config.yaml), as make lint runs them"
  pre-commit run --all-files --show-diff-on-failure
fi
echo "==> pytest"
if [ $# -eq 0 ]; then
  # The whole suite on two processes (pytest-xdist), each test file whole on one of them: its
  # module fixtures and order hold, and each process starts its own servers once; one process
  # alone leaves a core idle while it waits on a server or a subprocess.
  # MLOPS_TEST_WORKERS=0 runs it in one process.
  # Files go out in collection order, longest first (tests/conftest.py LONGEST_FILES).
  set -- -n "${MLOPS_TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder
fi
exec pytest -q "$@"
