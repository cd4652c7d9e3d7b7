# One image for Airflow and MLflow, installed from uv.lock (the same versions as the laptop).
FROM python:3.11-slim
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy PATH="/opt/mlops/.venv/bin:$PATH" \
    GX_ANALYTICS_ENABLED=false DVC_NO_ANALYTICS=1 MPLBACKEND=Agg \
    MLOPS_WORKSPACE=/opt/mlops AIRFLOW_HOME=/opt/airflow
RUN apt-get update && apt-get install -y --no-install-recommends git curl && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir uv==0.13.9
WORKDIR /opt/mlops
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev && pip uninstall -y uv
ENTRYPOINT ["/opt/mlops/docker/entrypoint.sh"]
