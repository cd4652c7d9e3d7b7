"""The MLflow registry side of promotion: aliases, compare-and-set, the promotion log.

* `champion` is what nightly scoring and online serving use; `challenger` is the candidate that
  passed offline and is serving its shadow period (scored beside the champion every night, a
  canary share of online requests) until `shadow_period` promotes or retires it.
* Every change of `champion` happens under a lock and only if the alias still points at the
  version the decision was made against (compare-and-set), and appends one line to an
  append-only JSONL promotion log: who, when, from, to, why, and a link to the decision record.
* A change made outside this code (the MLflow UI, the API) is noticed at the next promotion,
  rollback or `mlops promotions` and written to the log as `observed_external_change`.

Changes are serialized by a lease on the log's own storage (exclusive create: `O_EXCL`
locally, `If-None-Match` on S3), so two hosts never need a shared lock file. The Airflow
`promotion` pool also serializes the DAG's promote tasks.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipelines.registry import CHALLENGER, CHAMPION, alias_version, append_to_card
from pipelines.storage import exclusive_lease, exists, read_text, write_text

#: `expected_from` for a forced change: whatever the champion is when the lock is taken.
ANY_CHAMPION = "<any>"


class ChampionMoved(RuntimeError):
    """The champion changed after the decision was made: decide again."""


class NoPreviousChampion(RuntimeError):
    """Rollback has nowhere to go."""


#: How long a promotion may hold the log's lease before others may break it (a dead holder).
LEASE_SECONDS = 600.0
#: How long a promotion waits for another to finish before it gives up, naming the holder.
WAIT_SECONDS = 300.0


@dataclass(frozen=True)
class PromotionLog:
    """The append-only promotion log at a URI (a folder or `s3://…`), one JSON line per change.

    Changes are serialized by a lease beside it (`<log>.lease`, created exclusively on the
    same storage), so promotions on different hosts take turns without a shared lock file."""

    uri: str

    @property
    def lease_uri(self) -> str:
        return self.uri.rsplit(".", 1)[0] + ".lease"

    def entries(self) -> list[dict[str, Any]]:
        if not exists(self.uri):
            return []
        return [json.loads(line) for line in read_text(self.uri).splitlines() if line.strip()]

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Add one line (under the lease: the log is rewritten whole, atomically)."""
        previous = read_text(self.uri) if exists(self.uri) else ""
        write_text(previous + json.dumps(entry, sort_keys=True) + "\n", self.uri)
        return entry

    @contextmanager
    def locked(self) -> Iterator[None]:
        with exclusive_lease(self.lease_uri, actor(), LEASE_SECONDS, WAIT_SECONDS):
            yield


def actor() -> str:
    """Who is acting: the Airflow run if inside one, else the OS user."""
    run_id = os.environ.get("AIRFLOW_CTX_DAG_RUN_ID")
    if run_id:
        return f"airflow:{os.environ.get('AIRFLOW_CTX_DAG_ID', '?')}/{run_id}"
    try:
        return f"user:{getpass.getuser()}"
    except Exception:  # no passwd entry in some containers
        return "user:unknown"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _reconcile(client: Any, name: str, log: PromotionLog) -> dict[str, Any] | None:
    """Record a champion change made outside this code (must hold the lock)."""
    current = alias_version(client, name, CHAMPION)
    entries = log.entries()
    logged = entries[-1]["to_version"] if entries else None
    if current == logged:
        return None
    return log.append(
        {
            "at": _now(),
            "kind": "observed_external_change",
            "actor": "unknown (MLflow UI or API)",
            "from_version": logged,
            "to_version": current,
            "reason": "champion alias changed outside the promotion code",
            "decision_record": None,
        }
    )


def reconcile(client: Any, name: str, log: PromotionLog) -> dict[str, Any] | None:
    with log.locked():
        return _reconcile(client, name, log)


def set_champion(
    client: Any,
    name: str,
    log: PromotionLog,
    to_version: str,
    expected_from: str | None,
    reason: str,
    kind: str,
    decision_record: str | None = None,
) -> dict[str, Any]:
    """Compare-and-set `champion` from `expected_from` to `to_version`, and log it."""
    with log.locked():
        _reconcile(client, name, log)
        current = alias_version(client, name, CHAMPION)
        if expected_from != ANY_CHAMPION and current != expected_from:
            raise ChampionMoved(
                f"champion of {name} is v{current}, but the decision was made against "
                f"v{expected_from}: decide again"
            )
        client.set_registered_model_alias(name, CHAMPION, to_version)
        if alias_version(client, name, CHALLENGER) == str(to_version):
            client.delete_registered_model_alias(name, CHALLENGER)
        return log.append(
            {
                "at": _now(),
                "kind": kind,
                "actor": actor(),
                "from_version": current,
                "to_version": str(to_version),
                "reason": reason,
                "decision_record": decision_record,
            }
        )


def previous_champion(entries: list[dict[str, Any]], current: str | None) -> str:
    """The version the current champion replaced, per the log."""
    for entry in reversed(entries):
        if entry["to_version"] == current and entry["from_version"]:
            return str(entry["from_version"])
    raise NoPreviousChampion(f"the promotion log has no champion before v{current}")


def rollback(client: Any, name: str, log: PromotionLog, reason: str) -> dict[str, Any]:
    """Point `champion` back at the previous champion from the log, in one logged step."""
    with log.locked():
        _reconcile(client, name, log)
        current = alias_version(client, name, CHAMPION)
        target = previous_champion(log.entries(), current)
        client.set_registered_model_alias(name, CHAMPION, target)
        if current is not None:
            append_to_card(client, name, current, f"rolled back to v{target}", reason)
        append_to_card(client, name, target, f"champion again (rollback from v{current})", reason)
        return log.append(
            {
                "at": _now(),
                "kind": "rollback",
                "actor": actor(),
                "from_version": current,
                "to_version": target,
                "reason": reason,
                "decision_record": None,
            }
        )
