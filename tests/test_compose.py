"""`docker-compose.yml`, what a team deploys, checked without a Docker engine: Compose itself
validates it (Debian's `docker-compose` 1.29, `config -q`, which needs no engine), and its
services, buckets, shared locations and executor are those `make stack` runs
(`deploy/local/stack.env`), so the two cannot drift apart."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"
STACK_ENV = REPO_ROOT / "deploy" / "local" / "stack.env"
#: Each process `scripts/stack.sh` starts, and the compose service that runs it.
STACK_TO_COMPOSE = {
    "postgres": "postgres",
    "redis": "redis",
    "s3": "minio",
    "mlflow": "mlflow",
    "airflow-api-server": "airflow-api-server",
    "airflow-scheduler": "airflow-scheduler",
    "airflow-dag-processor": "airflow-dag-processor",
    "airflow-triggerer": "airflow-triggerer",
    "airflow-worker": "airflow-worker",
}
ONE_SHOT = {"minio-init", "mlflow-init", "airflow-init"}


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _stack_env() -> dict[str, str]:
    values = {}
    for line in STACK_ENV.read_text().splitlines():
        match = re.match(r"^([A-Z_]+)=(.*)$", line)
        if match:
            value = match.group(2).strip('"')
            default = re.fullmatch(r"\$\{[A-Z_]+:-(.*)\}", value)
            values[match.group(1)] = default.group(1) if default else value
    return values


def _variables() -> list[str]:
    return sorted(set(re.findall(r"\$\{([A-Z_]+)", COMPOSE.read_text())))


def _example() -> dict[str, str]:
    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_the_services_are_the_stacks():
    services = _compose()["services"]
    assert set(services) == set(STACK_TO_COMPOSE.values()) | ONE_SHOT
    worker = services["airflow-worker"]
    assert worker["deploy"]["replicas"] == int(_stack_env()["STACK_CELERY_WORKERS"])
    assert "celery worker" in worker["command"]
    for name, service in services.items():
        if name.startswith("airflow"):
            assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
            manager = service["environment"]["AIRFLOW__CORE__AUTH_MANAGER"]
            assert manager.endswith("FabAuthManager"), name  # users and roles, not simple auth
            secret = {"AIRFLOW_ADMIN_PASSWORD", "AIRFLOW_VIEWER_PASSWORD"} & set(
                service["environment"]
            )
            assert name == "airflow-init" or not secret, f"{name} sees the accounts' passwords"


def test_buckets_shared_locations_and_fault_settings_are_the_stacks():
    stack = _stack_env()
    services = _compose()["services"]
    created = re.findall(r"local/(mlops-[a-z-]+)", services["minio-init"]["entrypoint"])
    assert sorted(created) == sorted(stack["STACK_BUCKETS"].split())
    airflow = services["airflow-scheduler"]["environment"]
    shared = ("MLOPS_", "MLFLOW_HTTP_", "AIRFLOW__SCHEDULER__")  # locations, fault settings
    for name, value in stack.items():
        if name.startswith(shared) and name != "MLOPS_DVC_REMOTE_URL":
            assert airflow[name] == value, name
    assert stack["MLFLOW_ARTIFACTS_DESTINATION"] in " ".join(services["mlflow"]["command"])


def test_health_checks_pinned_images_loopback_ports_and_no_default_secret():
    text = COMPOSE.read_text()
    assert not re.search(r"\$\{[A-Z_]+:-", text), "no default values: every secret from .env"
    assert not re.search(r"\$\{[A-Z_]+\}", text), "every variable fails fast: ${VAR:?…}"
    assert _variables() == sorted(_example()), "every variable is in .env.example, and only those"
    assert not any(_example().values()), ".env.example must not carry a value"
    for name, service in _compose()["services"].items():
        image = service.get("image", "")
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image) and not image.endswith(":latest"), name
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        for dependency in (service.get("depends_on") or {}).values():
            assert dependency["condition"].startswith("service_"), name
        if name not in ONE_SHOT:
            assert "healthcheck" in service, f"{name} has no health check"


def test_the_images_are_multi_stage_locked_byte_compiled_and_not_root():
    for dockerfile in (REPO_ROOT / "Dockerfile", REPO_ROOT / "mlflow" / "Dockerfile"):
        text = dockerfile.read_text()
        bases = re.findall(r"^FROM (\S+)", text, flags=re.M)
        assert len(bases) >= 2 and all(re.search(r":\d", base) for base in bases), dockerfile
        assert "UV_COMPILE_BYTECODE=1" in text and "--frozen" in text, dockerfile
        assert re.search(r"^USER (?!root)\w+", text, flags=re.M), dockerfile
        assert "HEALTHCHECK" in text, dockerfile


def _docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail("docker-compose is missing: apt-get install docker-compose")
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "docker-compose"],
        check=True,
        capture_output=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        timeout=600,
    )
    return str(shutil.which("docker-compose"))


@pytest.mark.slow
def test_compose_validates_the_file_and_names_a_missing_secret(tmp_path):
    binary = _docker_compose()
    base = {k: v for k, v in os.environ.items() if k not in _example()}
    command = [binary, "--project-directory", str(REPO_ROOT), "-f", str(COMPOSE), "config", "-q"]
    filled = {**base, **{name: f"value-of-{name.lower()}" for name in _example()}}
    valid = subprocess.run(command, env=filled, capture_output=True, text=True, timeout=120)
    assert valid.returncode == 0, valid.stderr
    missing = {k: v for k, v in filled.items() if k != "REDIS_PASSWORD"}
    refused = subprocess.run(command, env=missing, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "REDIS_PASSWORD" in refused.stderr, refused.stderr
