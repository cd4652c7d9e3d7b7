"""Which worker ran a task, as Airflow records it (`task_instance.hostname`).

Two Celery workers on one machine share its host name; `[core] hostname_callable` points here so
each records its own name (`MLOPS_WORKER_NAME`, set when the stack starts it) beside the host's."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """`host` alone, or `host/worker-N` for a named worker."""
    host = socket.getfqdn()
    worker = os.environ.get("MLOPS_WORKER_NAME", "")
    return f"{host}/{worker}" if worker else host
