#!/usr/bin/env bash
# Container entrypoint: point DVC at the cluster's remote (from the environment), then run the command.
set -euo pipefail
cd /opt/mlops
if [ -n "${MLOPS_DVC_S3_ENDPOINT:-}" ]; then
  dvc remote modify --local s3 endpointurl "$MLOPS_DVC_S3_ENDPOINT"
  dvc config --local core.remote s3
fi
exec "$@"
