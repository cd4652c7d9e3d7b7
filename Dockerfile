# One project image for Airflow's api-server, scheduler, dag-processor, triggerer and Celery
# workers, installed from uv.lock (the same versions as the laptop), byte-compiled, non-root.
# syntax=docker/dockerfile:1
FROM python:3.11.14-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /opt/mlops
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev

FROM python:3.11.14-slim-bookworm AS runtime
ENV PATH="/opt/mlops/.venv/bin:$PATH" \
    GX_ANALYTICS_ENABLED=false DVC_NO_ANALYTICS=1 MPLBACKEND=Agg TQDM_DISABLE=1 \
    MLOPS_WORKSPACE=/opt/mlops AIRFLOW_HOME=/opt/airflow
RUN apt-get update && apt-get install -y --no-install-recommends git curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 50000 --gid 0 mlops \
    && mkdir -p /opt/airflow && chown mlops:0 /opt/airflow
COPY --from=build --chown=mlops:0 /opt/mlops /opt/mlops
WORKDIR /opt/mlops
USER mlops
HEALTHCHECK --interval=30s --timeout=10s --retries=5 CMD ["python", "-c", "import pipelines, airflow"]
ENTRYPOINT ["/opt/mlops/docker/entrypoint.sh"]
