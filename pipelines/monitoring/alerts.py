"""Alerts: what to say, whether to say it again, whom to page, and the append-only log.

A persisting condition is alerted once, then at most every `alert_repeat_days` while it lasts
(the condition is the verdict level and its triggers); a changed condition alerts at once.
Re-running a night never alerts twice for it. Deciding is pure; the log is at the edge.

The alert budget: only `act` pages on-call (Slack, e-mail); `watch` is logged and shown on
the page. An `act` episode pages once, on its first night: later `act` nights within
`page_clear_nights` of the last one belong to the same episode and go to the log as its
summary (`decide_page`; the replay counts pages per month with the same function)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pipelines.storage import exclusive_lease, exists, read_text, write_text

RUNBOOK_BY_TRIGGER = {
    "prediction_drift": "drift-alert.md",
    "important_drift": "drift-alert.md",
    "minor_drift": "drift-alert.md",
    "too_few_rows": "monitoring.md",
    "feature_missing": "monitoring.md",
    "input_invalid": "monitoring.md",
    "labels_late": "labels-late.md",
    "performance_drop": "performance-drop.md",
    "performance_dip": "performance-drop.md",
    "estimate_drop": "performance-drop.md",
    "important_drift_mild": "drift-alert.md",
    "severe_drift": "drift-alert.md",
    "out_of_range": "drift-alert.md",
    "model_stale": "retraining.md",
    "serving_skew": "serving.md",
    "upstream_changed": "data-gate.md",
    "packages_changed": "monitoring.md",
}


def decide_page(previous_levels: Sequence[str], level: str, clear_nights: int) -> bool:
    """Page tonight? Only for `act`, and only when none of the last `clear_nights` monitored
    nights (`previous_levels`, oldest first) was `act`: a persisting condition pages once."""
    if level != "act":
        return False
    return "act" not in list(previous_levels)[-clear_nights:] if clear_nights > 0 else True


def levels_before(history: Any, day: date, nights: int) -> list[str]:
    """The verdict levels of the last `nights` monitored nights before `day` (oldest first)."""
    return [str(v) for v in _monitored_before(history, day)["verdict"].tail(nights)]


def _monitored_before(history: Any, day: date) -> Any:
    """The history's monitored nights (a verdict) before `day`, oldest first."""
    if "verdict" not in history:
        return history.iloc[0:0]
    earlier = history[history["date"] < day.isoformat()].dropna(subset=["verdict"])
    return earlier.sort_values("date", kind="mergesort")


def condition(level: str, triggers: list[str]) -> str:
    return f"{level}:{','.join(sorted(triggers))}"


def night_before_condition(history: Any, day: date) -> str | None:
    """The condition of the latest monitored night before `day` in the history table."""
    earlier = _monitored_before(history, day)
    if earlier.empty:
        return None
    last = earlier.iloc[-1]
    return condition(str(last["verdict"]), json.loads(last["triggers"]))


@dataclass(frozen=True)
class AlertDecision:
    send: bool
    why: str
    page: bool = False  # page on-call (`decide_page`), or only log it


def decide_alert(
    alerts: list[dict[str, Any]],
    day: date,
    level: str,
    triggers: list[str],
    repeat_days: int,
    night_before: str | None = None,
    previous_levels: Sequence[str] = (),
    page_clear_nights: int = 0,
) -> AlertDecision:
    """Send for a new `watch`/`act` condition; group a persisting one; page only what the alert
    budget lets through (`decide_page` on the `previous_levels` of the nights before) (pure).

    `night_before` is the previous monitored night's condition (`condition(level, triggers)`,
    from the history): a condition that cleared and came back is new again."""
    if level == "ok":
        return AlertDecision(False, "verdict ok")
    key = condition(level, triggers)
    verdicts = [a for a in alerts if a.get("kind") == "verdict"]
    if any(a["date"] == day.isoformat() and a["condition"] == key for a in verdicts):
        return AlertDecision(False, "already alerted for this night")  # a re-run never re-pages
    page = decide_page(previous_levels, level, page_clear_nights)
    earlier = [a for a in verdicts if a["date"] < day.isoformat()]
    if not earlier:
        return AlertDecision(True, "first alert", page)
    if night_before is not None and night_before != key:
        return AlertDecision(True, f"new since the night before ({night_before})", page)
    last = max(earlier, key=lambda a: a["date"])
    if last["condition"] != key:
        return AlertDecision(True, f"condition changed from {last['condition']}", page)
    since = (day - date.fromisoformat(last["date"])).days
    if since >= repeat_days:
        return AlertDecision(True, f"still {key} after {since} days", page)
    return AlertDecision(False, f"grouped with the alert of {last['date']} ({key})")


def verdict_alert(summary: dict[str, Any], page_url: str, runbook_base: str) -> dict[str, Any]:
    verdict = summary["verdict"]
    # triggers come worst first: the runbook of the worst signal
    runbook = RUNBOOK_BY_TRIGGER.get(next(iter(verdict["triggers"]), ""), "drift-alert.md")
    top = [
        f"{r['column']} {r['score']:.3g} (threshold {r['threshold']:.3g})"
        for r in summary["drift"]["top"]
        if r["drifted"]
    ]
    return {
        "kind": "verdict",
        "date": summary["date"],
        "level": verdict["level"],
        "condition": condition(verdict["level"], verdict["triggers"]),
        "signals": verdict["triggers"],
        "reasons": verdict["reasons"],
        "top_columns": top,
        "model_version": summary["model"]["version"],
        "page": page_url,
        "runbook": f"{runbook_base}/{runbook}",
        "message": (
            f"[{verdict['level'].upper()}] flight-delay model v{summary['model']['version']} on "
            f"{summary['date']}: {'; '.join(verdict['reasons'])}. Top drift: "
            f"{', '.join(top) or 'none'}. Page: {page_url}. Runbook: {runbook_base}/{runbook}"
        ),
    }


def read_alerts(uri: str) -> list[dict[str, Any]]:
    if not exists(uri):
        return []
    return [json.loads(line) for line in read_text(uri).splitlines() if line.strip()]


def append_alert(uri: str, record: dict[str, Any]) -> dict[str, Any]:
    """Append one JSON line. Object stores cannot append: the log is rewritten atomically
    under a lease beside it, so concurrent notifiers (any DAG's failures) never lose a line."""
    stamped = {"sent_at": datetime.now(UTC).isoformat(timespec="seconds"), **record}
    with exclusive_lease(uri + ".lease", "alerts", ttl_seconds=60, wait_seconds=30):
        lines = read_text(uri) if exists(uri) else ""
        write_text(lines + json.dumps(stamped, sort_keys=True, default=str) + "\n", uri)
    return stamped
