"""The verdict's thresholds and the guard's `k`, `n`, cooldown, chosen before the cut (pure).

Every night of the replay records what the verdict needs under any candidate threshold
(`judge.signals_record`): the drifted columns' score over threshold, the important features,
the out-of-range shares at each candidate margin. So one replay measures every candidate: each
night's verdict is recomputed by `decide_verdict` itself (`night_signals` rebuilds its
`Signals`), and a candidate is judged on the nights before `simulation.choose_before` by the
precision and recall of its `act` against the benefit a retraining would have had, under the
page budget; it is reported on the nights after the cut, where nothing was chosen.

Exact for the policies whose path does not depend on the verdict (frozen, every_Nd); a guarded
policy would have retrained on other nights under other thresholds, which this does not replay
(its own `make simulate` run under the chosen values does). The guard's rule is replayed over
those same policies' recomputed verdicts as if its requests ran beside them: a request restarts
its cooldown and takes the benefit measured on the grid night it falls in."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from datetime import date
from typing import Any

import pandas as pd

from pipelines.config import GuardPolicy, Params, VerdictPolicy
from pipelines.monitoring.judge import verdict_from_record
from pipelines.replay.signal_quality import pages_per_month_between
from pipelines.retraining.guard import GuardInputs, NightVerdict, decide_retraining

#: The thresholds `act` reads, chosen together by its F1 under the page budget
DRIFT_THRESHOLDS = ("severe_drift_factor", "minor_drift_min_columns")
#: Thresholds only one `watch` trigger reads, each group chosen by that trigger's F1
WATCH_THRESHOLDS: dict[str, tuple[str, ...]] = {
    "performance_drop": ("min_labelled_days",),
    "model_stale": ("max_model_age_days",),
    "out_of_range": ("out_of_range_share", "out_of_range_margin"),
}


def _names(value: Any) -> tuple[str, ...]:
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    return tuple(part for part in text.split(",") if part)


def verdicts_under(nights: pd.DataFrame, policy: VerdictPolicy, min_rows: int) -> pd.DataFrame:
    """Every night's verdict under `policy` (columns date, policy, verdict, triggers), decided
    again by the monitoring step from the night's recorded signals (`verdict_from_record`)."""
    rows = []
    for night in nights.to_dict("records"):
        verdict = verdict_from_record(night, policy, min_rows)
        rows.append(
            {
                "date": str(night["date"]),
                "policy": night["policy"],
                "verdict": verdict.level,
                "triggers": ",".join(verdict.triggers),
            }
        )
    return pd.DataFrame(rows)


def _precision_recall(fired: pd.Series, helps: pd.Series) -> dict[str, float]:
    hits = int((fired & helps).sum())
    count, useful = int(fired.sum()), int(helps.sum())
    precision = hits / count if count else float("nan")
    recall = hits / useful if useful else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"fired": count, "precision": precision, "recall": recall, "f1": f1}


def _pages_per_month(verdicts: pd.DataFrame, clear_nights: int, since: str, until: str) -> float:
    """The most pages a month any policy gets on [since, until) under the alert budget."""
    return max(
        (
            pages_per_month_between(frame, clear_nights, since, until)
            for _, frame in verdicts.sort_values("date").groupby("policy", sort=True)
        ),
        default=0.0,
    )


def judge_candidate(
    verdicts: pd.DataFrame,
    benefits: pd.DataFrame,
    signal: str,
    clear_nights: int,
    since: str,
    cut: str,
) -> dict[str, Any]:
    """One candidate's verdicts: `signal` (`act` or a trigger) against the benefit, and the
    worst policy's pages a month, before the cut and from it."""
    joined = benefits.merge(verdicts, left_on=["day", "policy"], right_on=["date", "policy"])
    fired = (
        joined["verdict"].eq("act")
        if signal == "act"
        else joined["triggers"].fillna("").str.split(",").map(lambda t: signal in t)
    ).astype(bool)
    helps = joined["helps"].astype(bool)
    before = (joined["day"] >= since) & (joined["day"] < cut)
    after = joined["day"] >= cut
    out: dict[str, Any] = {}
    for period, keep in (("before", before), ("after", after)):
        for key, value in _precision_recall(fired & keep, helps & keep).items():
            out[f"{key}_{period}"] = value
    out["pages_per_month_before"] = _pages_per_month(verdicts, clear_nights, since, cut)
    out["pages_per_month_after"] = _pages_per_month(verdicts, clear_nights, cut, "9999")
    return out


def _unguarded(nights: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The nights of policies whose path does not depend on the verdict (not guarded)."""
    from pipelines.replay.nights import guard_policy

    keep = [guard_policy(params, str(p)) is None for p in nights["policy"]]
    return nights.loc[keep]


def choose_thresholds(
    nights: pd.DataFrame, benefits: pd.DataFrame, params: Params, since: str
) -> dict[str, Any]:
    """The thresholds `act` reads with its best F1 before the cut among those keeping every
    policy within the page budget there, then each group of `WATCH_THRESHOLDS` by its
    trigger's F1 there (ties: the committed values, then the candidates' order); each
    measured after it."""
    committed = params.monitoring.verdict
    candidates = params.simulation.threshold_candidates
    cut = params.simulation.choose_before.isoformat()
    clear = params.monitoring.page_clear_nights
    budget = params.simulation.page_budget_per_month
    nights = _unguarded(nights, params)
    min_rows = params.monitoring.min_rows
    rows = []
    for values in itertools.product(*(candidates[name] for name in DRIFT_THRESHOLDS)):
        setting = {name: _plain(v) for name, v in zip(DRIFT_THRESHOLDS, values, strict=True)}
        verdicts = verdicts_under(nights, _with(committed, setting), min_rows)
        rows.append({**setting, **judge_candidate(verdicts, benefits, "act", clear, since, cut)})
    drift = pd.DataFrame(rows)
    within = drift.loc[drift["pages_per_month_before"] <= budget]
    ranked = _best_first(within if not within.empty else drift, committed, DRIFT_THRESHOLDS)
    chosen_drift = {name: _plain(ranked.iloc[0][name]) for name in DRIFT_THRESHOLDS}
    drift_policy = _with(committed, chosen_drift)
    single: dict[str, list[dict[str, Any]]] = {}
    chosen_single: dict[str, float | int] = {}
    for trigger, names in WATCH_THRESHOLDS.items():
        rows = []
        for values in itertools.product(*(candidates[name] for name in names)):
            setting = {name: _plain(v) for name, v in zip(names, values, strict=True)}
            verdicts = verdicts_under(nights, _with(drift_policy, setting), min_rows)
            rows.append(
                {**setting, **judge_candidate(verdicts, benefits, trigger, clear, since, cut)}
            )
        single[trigger] = rows
        best = _best_first(pd.DataFrame(rows), committed, names)
        chosen_single.update({name: _plain(best.iloc[0][name]) for name in names})
    is_committed = pd.concat(
        [drift[name] == getattr(committed, name) for name in DRIFT_THRESHOLDS], axis=1
    ).all(axis=1)
    return {
        "cut": cut,
        "since": since,
        "policies": sorted(str(p) for p in nights["policy"].unique()),
        "page_budget_per_month": budget,
        "chosen": {**chosen_drift, **chosen_single},
        "committed": {
            name: _plain(getattr(committed, name))
            for name in (*DRIFT_THRESHOLDS, *(n for g in WATCH_THRESHOLDS.values() for n in g))
        },
        "chosen_measured": ranked.iloc[0].to_dict(),
        "committed_measured": drift.loc[is_committed].to_dict("records"),
        "best_before_cut": ranked.head(5).to_dict("records"),
        "candidates": len(drift),
        "every_candidate": drift.to_dict("records"),
        "single": single,
    }


def _best_first(
    table: pd.DataFrame, committed: VerdictPolicy, names: tuple[str, ...]
) -> pd.DataFrame:
    """The best F1 before the cut first; on a tie the committed values, then the candidates'
    order (a tie is no reason to move a threshold)."""
    same = pd.concat([table[n] == getattr(committed, n) for n in names], axis=1).all(axis=1)
    ranked = table.assign(_committed=same).sort_values(
        ["f1_before", "_committed"], ascending=[False, False], kind="mergesort"
    )
    return ranked.drop(columns="_committed")


def _with(policy: VerdictPolicy, setting: dict[str, float | int]) -> VerdictPolicy:
    """`policy` with the thresholds of `setting` (by name, typed as the policy has them)."""
    typed = {n: int(v) if n in _COUNTS else float(v) for n, v in setting.items()}
    return replace(policy, **typed)  # type: ignore[arg-type]


_COUNTS = {"minor_drift_min_columns", "min_labelled_days", "max_model_age_days"}


def _plain(value: Any) -> float | int:
    number = float(value)
    return int(number) if number.is_integer() else number


def guard_requests(verdicts: pd.DataFrame, policy: GuardPolicy) -> list[str]:
    """The nights the guard (`decide_retraining`) would request on over one policy's verdicts,
    each request restarting its cooldown (its labelled-flights rule is not replayed: a request
    after a cooldown of a week or more always has thousands)."""
    requested: list[str] = []
    seen: list[NightVerdict] = []
    last: date | None = None
    for row in verdicts.sort_values("date").to_dict("records"):
        day = date.fromisoformat(str(row["date"]))
        seen.append(NightVerdict(day, str(row["verdict"]), _names(row["triggers"])))
        inputs = GuardInputs(day, tuple(seen[-policy.of_last_nights :]), last, None, 10**9, False)
        if decide_retraining(inputs, policy).request:
            requested.append(day.isoformat())
            last = day
    return requested


def _benefit_of_request(benefits: pd.DataFrame, day: str, every_days: int) -> pd.Series | None:
    """The benefit measured on the grid night a request falls in (the newest one at or before
    it, fewer than `every_days` nights earlier)."""
    earlier = benefits.loc[benefits["day"] <= day]
    if earlier.empty:
        return None
    row = earlier.sort_values("day").iloc[-1]
    gap = (date.fromisoformat(day) - date.fromisoformat(str(row["day"]))).days
    return row if gap < every_days else None


def choose_guard(
    nights: pd.DataFrame, benefits: pd.DataFrame, params: Params, since: str
) -> dict[str, Any]:
    """The guard's `k` of `n` and cooldown that pick the most helpful nights before the cut:
    the highest share of requests on nights a retraining helped (ties: the larger mean ROC
    AUC benefit, then fewer requests), among those requesting at least once every two
    months; measured after the cut, beside the share of all grid nights that helped (what a
    calendar's retraining gets)."""
    committed = params.retraining.guard
    candidates = params.simulation.guard_candidates
    cut = params.simulation.choose_before.isoformat()
    every = params.simulation.benefit_every_days
    unguarded = _unguarded(nights, params)
    verdicts = verdicts_under(unguarded, params.monitoring.verdict, params.monitoring.min_rows)
    rows = []
    for k, n, cooldown in itertools.product(
        candidates["act_nights"], candidates["of_last_nights"], candidates["cooldown_days"]
    ):
        if k > n:
            continue
        policy = replace(committed, act_nights=k, of_last_nights=n, cooldown_days=cooldown)
        found: list[dict[str, Any]] = []
        for name, frame in verdicts.groupby("policy", sort=True):
            own = benefits.loc[benefits["policy"] == name]
            for day in guard_requests(frame, policy):
                measured = _benefit_of_request(own, day, every)
                if day >= since and measured is not None:
                    found.append(
                        {
                            "day": day,
                            "helps": bool(measured["helps"]),
                            "gain": float(measured["roc_auc_difference"]),
                        }
                    )
        requests = pd.DataFrame(found, columns=["day", "helps", "gain"])
        row: dict[str, Any] = {"act_nights": k, "of_last_nights": n, "cooldown_days": cooldown}
        for period, keep in (
            ("before", requests["day"] < cut),
            ("after", requests["day"] >= cut),
        ):
            chosen = requests.loc[keep]
            row[f"requests_{period}"] = len(chosen)
            row[f"helps_share_{period}"] = (
                float(chosen["helps"].mean()) if len(chosen) else float("nan")
            )
            row[f"mean_gain_{period}"] = float(chosen["gain"].mean()) if len(chosen) else math.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    grid = benefits.loc[benefits["policy"].isin(verdicts["policy"].unique())]
    months_before = _months(since, cut)
    policies = verdicts["policy"].nunique() or 1
    enough = table["requests_before"] >= policies * months_before / 2
    ranked = table.loc[enough].sort_values(
        ["helps_share_before", "mean_gain_before", "requests_before"],
        ascending=[False, False, True],
        kind="mergesort",
    )
    best = ranked.iloc[0] if not ranked.empty else None
    is_committed = (
        (table["act_nights"] == committed.act_nights)
        & (table["of_last_nights"] == committed.of_last_nights)
        & (table["cooldown_days"] == committed.cooldown_days)
    )
    calendar = {
        period: {
            "nights": int(keep.sum()),
            "helps_share": float(grid.loc[keep, "helps"].mean()) if keep.any() else math.nan,
            "mean_gain": float(grid.loc[keep, "roc_auc_difference"].mean())
            if keep.any()
            else math.nan,
        }
        for period, keep in (
            ("before", (grid["day"] >= since) & (grid["day"] < cut)),
            ("after", grid["day"] >= cut),
        )
    }
    return {
        "cut": cut,
        "since": since,
        "policies": sorted(str(p) for p in verdicts["policy"].unique()),
        "chosen": (
            {k: int(best[k]) for k in ("act_nights", "of_last_nights", "cooldown_days")}
            if best is not None
            else None
        ),
        "committed": {
            "act_nights": committed.act_nights,
            "of_last_nights": committed.of_last_nights,
            "cooldown_days": committed.cooldown_days,
        },
        "chosen_measured": best.to_dict() if best is not None else None,
        "committed_measured": table.loc[is_committed].to_dict("records"),
        "calendar": calendar,
        "candidates": table.to_dict("records"),
    }


def _months(since: str, until: str) -> int:
    first, last = date.fromisoformat(since), date.fromisoformat(until)
    return max(1, (last.year - first.year) * 12 + last.month - first.month)
