"""How much each monitoring signal says about the benefit of retraining (pure, after the fact).

Per policy, on the nights whose benefit was measured (`benefit.py`): the precision and recall
of a signal firing against "a retraining tonight would help" (the benefit's ROC AUC interval
above zero), the lead time from the first `act` to the first night a retraining helps, and
the pages per month the alert budget (`alerts.decide_page`) lets through."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd

from pipelines.monitoring.alerts import decide_page

TRIGGERS = (
    "important_drift",
    "important_drift_mild",
    "minor_drift",
    "severe_drift",
    "out_of_range",
    "prediction_drift",
    "performance_drop",
    "performance_dip",
    "estimate_drop",
)


def _trigger(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda night: name in str(night.get("triggers") or "").split(",")


#: Each signal as a function of a night row (`nights.csv`): does it fire tonight?
SIGNALS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "act": lambda n: n["verdict"] == "act",
    "act_under_holdout_reference": lambda n: n.get("verdict_holdout_reference") == "act",
    "act_or_watch": lambda n: n["verdict"] != "ok",
    **{name: _trigger(name) for name in TRIGGERS},
}


def paged_nights(levels: list[str], clear_nights: int) -> list[bool]:
    """Which nights of a policy's sequence page on-call under the alert budget."""
    return [decide_page(levels[:i], level, clear_nights) for i, level in enumerate(levels)]


def pages_per_month(nights: pd.DataFrame, clear_nights: int, since: str) -> dict[str, Any]:
    """Pages, `act` nights and `watch` nights per month on average, per policy, from `since`."""
    out: dict[str, Any] = {}
    for policy, frame in nights.sort_values("date").groupby("policy", sort=True):
        paged = paged_nights([str(v) for v in frame["verdict"]], clear_nights)
        later = frame["date"].astype(str) >= since
        months = frame.loc[later, "date"].astype(str).str.slice(0, 7).nunique() or 1
        out[str(policy)] = {
            "pages_per_month": sum(p for p, keep in zip(paged, later, strict=True) if keep)
            / months,
            "act_nights_per_month": int((frame.loc[later, "verdict"] == "act").sum()) / months,
            "watch_nights_per_month": int((frame.loc[later, "verdict"] == "watch").sum()) / months,
            "months": months,
        }
    return out


def _lead_days(nights: pd.DataFrame, helps_days: list[str], horizon_days: int) -> list[int | None]:
    """For each first night of a run of helpful nights: days from the first `act` within
    `horizon_days` before it (positive: `act` came first) or after it; None when none did."""
    acts = [date.fromisoformat(d) for d in nights.loc[nights["verdict"] == "act", "date"]]
    leads: list[int | None] = []
    for day in helps_days:
        start = date.fromisoformat(day)
        near = [(start - a).days for a in acts if abs((start - a).days) <= horizon_days]
        leads.append(max(near) if near else None)
    return leads


def signal_quality(
    nights: pd.DataFrame, benefits: pd.DataFrame, horizon_days: int = 28
) -> pd.DataFrame:
    """One row per policy and signal: fired, helps, precision, recall (and the lead time of
    `act`), on the nights whose benefit was measured."""
    rows = []
    for policy, measured in benefits.groupby("policy", sort=True):
        own = nights.loc[nights["policy"] == policy]
        joined = measured.merge(own, left_on="day", right_on="date", how="inner")
        records = joined.to_dict("records")
        helps = [bool(r["helps"]) for r in records]
        ordered = sorted(zip(joined["day"], helps, strict=True))
        starts = [d for i, (d, h) in enumerate(ordered) if h and (i == 0 or not ordered[i - 1][1])]
        leads = [lead for lead in _lead_days(own, starts, horizon_days) if lead is not None]
        for name, fires in SIGNALS.items():
            fired = [fires(r) for r in records]
            hits = sum(f and h for f, h in zip(fired, helps, strict=True))
            rows.append(
                {
                    "policy": policy,
                    "signal": name,
                    "nights": len(records),
                    "fired": sum(fired),
                    "helps": sum(helps),
                    "precision": hits / sum(fired) if sum(fired) else float("nan"),
                    "recall": hits / sum(helps) if sum(helps) else float("nan"),
                    "act_lead_days_median": (
                        float(pd.Series(leads).median()) if name == "act" and leads else None
                    ),
                    "helpful_runs_missed": (len(starts) - len(leads)) if name == "act" else None,
                }
            )
    return pd.DataFrame(rows)
