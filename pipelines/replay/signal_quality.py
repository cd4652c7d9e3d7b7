"""How much each monitoring signal says about the benefit of retraining (pure, after the fact).

Per policy, on the nights whose benefit was measured (`benefit.py`): the precision and recall
of a signal firing against "a retraining tonight would help" (the benefit's ROC AUC interval
above zero), the lead time from the first `act` to the first night a retraining helps, and
the pages per month the alert budget (`alerts.decide_page`) lets through."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd

from pipelines.config import Params
from pipelines.monitoring.alerts import decide_page

#: The policy that runs the production guard (`retraining.guard`): the page budget is its.
PRODUCTION_GUARD = "guarded"

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
    "model_stale",
)  # serving_skew is not here: the replay serves nothing online


def _trigger(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda night: name in str(night.get("triggers") or "").split(",")


#: Each signal as a function of a night row (`nights.csv`): does it fire tonight?
SIGNALS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "act": lambda n: n["verdict"] == "act",
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
        later = frame["date"].astype(str) >= since
        months = frame.loc[later, "date"].astype(str).str.slice(0, 7).nunique() or 1
        out[str(policy)] = {
            "pages_per_month": pages_per_month_between(frame, clear_nights, since, "9999"),
            "act_nights_per_month": int((frame.loc[later, "verdict"] == "act").sum()) / months,
            "watch_nights_per_month": int((frame.loc[later, "verdict"] == "watch").sum()) / months,
            "months": months,
        }
    return out


def pages_per_month_between(
    levels: pd.DataFrame, clear_nights: int, since: str, until: str
) -> float:
    paged = paged_nights([str(v) for v in levels["verdict"]], clear_nights)
    kept = (levels["date"].astype(str) >= since) & (levels["date"].astype(str) < until)
    months = levels.loc[kept, "date"].astype(str).str.slice(0, 7).nunique() or 1
    return sum(p for p, keep in zip(paged, kept, strict=True) if keep) / months


def page_budget_choice(
    nights: pd.DataFrame,
    policy: str,
    candidates: tuple[int, ...],
    budget_per_month: float,
    since: str,
    cut: str,
    safety: float = 1.0,
) -> dict[str, Any]:
    """`monitoring.page_clear_nights` chosen before the cut, reported after it: for each
    candidate, the policy's pages per month on [since, cut) and from the cut on; the choice is
    the smallest candidate within `safety` × `budget_per_month` before the cut (an episode as
    short as the budget allows: a longer one would fold a new condition into an old page; the
    safety factor because a calm spring under-predicts the autumn)."""
    levels = nights.loc[nights["policy"] == policy].sort_values("date")
    rows = [
        {
            "page_clear_nights": clear,
            "pages_per_month_before": pages_per_month_between(levels, clear, since, cut),
            "pages_per_month_after": pages_per_month_between(levels, clear, cut, "9999"),
        }
        for clear in sorted(candidates)
    ]
    within = [
        r["page_clear_nights"]
        for r in rows
        if r["pages_per_month_before"] <= safety * budget_per_month
    ]
    return {
        "policy": policy,
        "budget_per_month": budget_per_month,
        "safety": safety,
        "chosen": within[0] if within else None,
        "candidates": rows,
    }


def page_budget_of(nights: pd.DataFrame, params: Params, since: str) -> dict[str, Any]:
    """`page_budget_choice` as params.yaml sets it (the report and `mlops simulation-tables`)."""
    return page_budget_choice(
        nights,
        PRODUCTION_GUARD,
        params.simulation.page_clear_candidates,
        params.simulation.page_budget_per_month,
        since,
        params.simulation.choose_before.isoformat(),
        params.simulation.page_budget_safety,
    )


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


def estimate_error(nights: pd.DataFrame, since: str) -> dict[str, Any]:
    """Per policy, from `since`: how far the label-free estimate on the window's labelled
    flights was from the ROC AUC their labels gave (mean absolute error, and the bias: mean
    estimate − observed, positive = optimistic)."""
    out: dict[str, Any] = {}
    later = nights.loc[nights["date"].astype(str) >= since]
    for policy, frame in later.groupby("policy", sort=True):
        both = frame.dropna(subset=["expected_observed_roc_auc", "observed_window_roc_auc"])
        error = both["expected_observed_roc_auc"] - both["observed_window_roc_auc"]
        out[str(policy)] = {
            "nights": len(both),
            "mae_roc_auc": float(error.abs().mean()) if len(both) else float("nan"),
            "bias_roc_auc": float(error.mean()) if len(both) else float("nan"),
        }
    return out


def signal_quality_by_period(
    nights: pd.DataFrame, benefits: pd.DataFrame, cut: str, horizon_days: int = 28
) -> pd.DataFrame:
    """`signal_quality` on the nights before `cut` (where a threshold may be chosen) and on
    those from it (where it is reported), with a `period` column."""
    parts = []
    for period, keep in (("before", benefits["day"] < cut), ("after", benefits["day"] >= cut)):
        if keep.any():
            parts.append(signal_quality(nights, benefits.loc[keep], horizon_days))
            parts[-1].insert(0, "period", f"{period} {cut}")
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


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


def trigger_sets(
    nights: pd.DataFrame, benefits: pd.DataFrame, cut: str, candidates: tuple[str, ...]
) -> pd.DataFrame:
    """Every set of up to four `candidates` as the `act` triggers: its precision and recall
    against the benefit, over all policies' measured nights, before `cut` (where the set is
    chosen: the best F1 there comes first) and from it (where it is reported). The nights'
    triggers are recorded whatever their level, so one replay measures every set; the guard's
    path under another set would differ, which this does not replay."""
    joined = benefits.merge(nights, left_on=["day", "policy"], right_on=["date", "policy"])
    fired = {
        name: joined["triggers"].fillna("").str.split(",").map(lambda t, n=name: n in t)
        for name in candidates
    }
    helps = joined["helps"].astype(bool)
    before = joined["day"] < cut
    rows = []
    for size in range(1, 5):
        for chosen in itertools.combinations(candidates, size):
            any_fired = pd.concat([fired[c] for c in chosen], axis=1).any(axis=1)
            row: dict[str, Any] = {"act_triggers": ",".join(chosen)}
            for period, keep in (("before", before), ("after", ~before)):
                hits = int((any_fired & helps & keep).sum())
                count, useful = int((any_fired & keep).sum()), int((helps & keep).sum())
                precision = hits / count if count else float("nan")
                recall = hits / useful if useful else float("nan")
                row[f"precision_{period}"] = precision
                row[f"recall_{period}"] = recall
                row[f"fired_{period}"] = count
                row[f"f1_{period}"] = 2 * precision * recall / (precision + recall) if hits else 0.0
            rows.append(row)
    return pd.DataFrame(rows).sort_values("f1_before", ascending=False, kind="mergesort")


def act_trigger_summary(
    nights: pd.DataFrame, benefits: pd.DataFrame, cut: str, committed: tuple[str, ...]
) -> dict[str, Any]:
    """The report's view of `trigger_sets`: the best five before the cut and the committed set
    as measured (`summary.json`, `mlops simulation-tables`)."""
    from pipelines.config import ACTIONABLE_TRIGGERS

    sets = trigger_sets(nights, benefits, cut, ACTIONABLE_TRIGGERS)
    chosen = sets["act_triggers"].map(lambda t: set(t.split(","))) == set(committed)
    return {
        "committed": ",".join(committed),
        "best_before_cut": sets.head(5).to_dict("records"),
        "committed_measured": sets.loc[chosen].to_dict("records"),
    }
