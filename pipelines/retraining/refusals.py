"""Retrainings refused in a row: one refusal is the promotion rule at work, several in a row say
that the training data or the rule needs a person. After `retraining.alert_after_refusals`
rejected challengers with no promotion between them, the notifier is called once, with every
reason (the training DAG's last task, after the decision is applied)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipelines.config import Params
from pipelines.monitoring.alerts import append_alert, read_alerts
from pipelines.registry import client as registry_client

KIND = "retraining_refused"


@dataclass(frozen=True)
class Decided:
    """A registered version the promotion decision ruled on (its `decision` tags)."""

    version: str
    decision: str  # promoted | rejected | retired (refused in shadow) | shadow | superseded
    reason: str


#: What counts as a refusal: offline, or after the shadow nights.
REFUSED = ("rejected", "retired")
#: Decisions that end a run of refusals or belong to one; `shadow` (still undecided) and
#: `superseded` (replaced before its shadow ended) say nothing either way.
FINAL = ("promoted", *REFUSED)


def refused_in_a_row(decided: Sequence[Decided], count: int) -> tuple[Decided, ...]:
    """The newest `count` decided versions when every one was refused (offline or in shadow),
    else none (pure)."""
    final = [d for d in decided if d.decision in FINAL]
    newest = sorted(final, key=lambda d: int(d.version))[-count:]
    if count < 1 or len(newest) < count or any(d.decision not in REFUSED for d in newest):
        return ()
    return tuple(newest)


def refusal_alert(refused: Sequence[Decided], day: date) -> dict[str, Any]:
    """The notifier's record: which versions, and why each was refused."""
    versions = ", ".join(f"v{d.version}" for d in refused)
    return {
        "kind": KIND,
        "date": day.isoformat(),
        "level": "watch",
        "page": True,
        "newest_version": refused[-1].version,
        "versions": [d.version for d in refused],
        "reasons": {d.version: d.reason for d in refused},
        "message": (
            f"{len(refused)} retrainings refused in a row ({versions}): the champion has not "
            "changed. Read each decision record; runbooks/retraining.md"
        ),
    }


def decided_versions(params: Params) -> list[Decided]:
    client = registry_client(params.mlflow)
    name = params.mlflow.registered_model
    return [
        Decided(v.version, v.tags["decision"], v.tags.get("decision.reason", ""))
        for v in client.search_model_versions(f"name = '{name}'")
        if v.tags.get("decision") in FINAL
    ]


def alert_on_refusals(params: Params, day: date) -> dict[str, Any] | None:
    """Alert once when the newest decisions were all refusals (a re-run does not repeat it)."""
    refused = refused_in_a_row(decided_versions(params), params.retraining.alert_after_refusals)
    if not refused:
        return None
    uri = params.workspace_path(params.monitoring.alerts_path)
    newest = refused[-1].version
    if any(a.get("kind") == KIND and a.get("newest_version") == newest for a in read_alerts(uri)):
        return None
    return append_alert(uri, refusal_alert(refused, day))
