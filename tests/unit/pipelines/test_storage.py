"""Shared-storage primitives on a local folder (S3 variants: tests/integration/test_landing_s3)."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest

from pipelines.storage import (
    LeaseHeld,
    content_sha256,
    copy,
    create_exclusive,
    exclusive_lease,
    move,
    write_text,
)


def test_create_exclusive_creates_once(tmp_path: Path):
    target = str(tmp_path / "a" / "lease")
    assert create_exclusive(b"first", target)
    assert not create_exclusive(b"second", target)
    assert Path(target).read_bytes() == b"first"
    assert not list(Path(target).parent.glob(".tmp-*"))


def _hold(uri: str, log: str, label: str) -> None:
    with exclusive_lease(uri, label, ttl_seconds=60, wait_seconds=30, poll_seconds=0.01):
        with open(log, "a") as handle:
            handle.write(f"{label} in\n")
        time.sleep(0.05)
        with open(log, "a") as handle:
            handle.write(f"{label} out\n")


def test_leases_serialize_processes_and_are_released(tmp_path: Path):
    lease, log = str(tmp_path / "log.lease"), str(tmp_path / "order.txt")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_hold, args=(lease, log, f"p{i}")) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    lines = Path(log).read_text().splitlines()
    assert len(lines) == 8
    for index in range(0, 8, 2):  # never two holders at once: every "in" is followed by its "out"
        assert lines[index].replace(" in", "") == lines[index + 1].replace(" out", "")
    assert not Path(lease).exists()


def test_a_held_lease_times_out_naming_its_holder(tmp_path: Path):
    lease = str(tmp_path / "log.lease")
    write_text(
        json.dumps(
            {"holder": "airflow:training/run-1", "token": "x", "expires_at": time.time() + 60}
        ),
        lease,
    )
    with pytest.raises(LeaseHeld, match="airflow:training/run-1"):
        with exclusive_lease(lease, "me", ttl_seconds=60, wait_seconds=0.2, poll_seconds=0.05):
            pass


def test_a_dead_holders_lease_is_broken_after_its_ttl(tmp_path: Path):
    lease = str(tmp_path / "log.lease")
    write_text(json.dumps({"holder": "dead", "token": "x", "expires_at": time.time() - 1}), lease)
    with exclusive_lease(lease, "me", ttl_seconds=60, wait_seconds=1):
        assert json.loads(Path(lease).read_text())["holder"] == "me"
    assert not Path(lease).exists()


def test_copy_and_move_publish_whole_files(tmp_path: Path):
    source = write_text("batch\n", str(tmp_path / "landing" / "part-0.parquet"))
    copied = copy(source, str(tmp_path / "quarantine" / "part-0.parquet"))
    assert content_sha256(copied) == content_sha256(source)
    moved = move(copied, str(tmp_path / "archive" / "part-0.parquet"))
    assert not Path(copied).exists() and Path(moved).read_text() == "batch\n"
