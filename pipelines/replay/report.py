"""What the replay shows: daily and monthly quality per policy; the guard against every other
policy on three figures with a paired block bootstrap; the cost–quality frontier (quality
against retrainings and CPU-seconds, the periodic policies as the frontier); the benefit a
retraining would have had and how well each signal predicts it; pages per month; a timeline."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipelines.config import Params
from pipelines.monitoring.drift import SCORE_COLUMN
from pipelines.replay.intervals import METRICS, paired_block_bootstrap
from pipelines.replay.loop import ReplayResult
from pipelines.replay.nights import guard_policy, periodic_days
from pipelines.replay.signal_quality import (
    act_trigger_summary,
    estimate_error,
    page_budget_of,
    pages_per_month,
    signal_quality_by_period,
)
from pipelines.replay.thresholds import (
    DRIFT_THRESHOLDS,
    WATCH_THRESHOLDS,
    choose_guard,
    choose_thresholds,
)
from pipelines.training.evaluate import classification_metrics


def scored_with_labels(result: ReplayResult) -> pd.DataFrame:
    """Every policy's prediction joined with the flight's label (evaluation, after the fact)."""
    labels = result.labels.dropna(subset=["label"]).loc[:, ["flight_id", "label"]]
    return result.predictions().merge(labels, on="flight_id", how="inner")


def daily_metrics(scored: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (policy, day), frame in scored.groupby(["policy", "flight_date"], sort=True):
        y = frame["label"].astype(int).to_numpy()
        if len(np.unique(y)) < 2:
            continue
        metrics = classification_metrics(y, frame[SCORE_COLUMN].to_numpy())
        rows.append(
            {
                "policy": policy,
                "date": day,
                "rows": len(frame),
                "delay_rate": float(y.mean()),
                "version": int(frame["version"].iloc[0]),
                **{k: metrics[k] for k in ("roc_auc", "log_loss", "brier")},
            }
        )
    return pd.DataFrame(rows)


def monthly_table(scored: pd.DataFrame, result: ReplayResult) -> pd.DataFrame:
    """Pooled ROC AUC, log loss and Brier per month and policy, with the month's retrainings
    and the CPU-seconds they cost."""
    month = scored["flight_date"].str.slice(0, 7)
    rows = []
    for (policy, key), frame in scored.groupby([scored["policy"], month], sort=True):
        y = frame["label"].astype(int).to_numpy()
        metrics = classification_metrics(y, frame[SCORE_COLUMN].to_numpy())
        retrained = [r for r in result.states[policy].retrainings if r.day.startswith(key)]
        rows.append(
            {
                "month": key,
                "policy": policy,
                "roc_auc": metrics["roc_auc"],
                "log_loss": metrics["log_loss"],
                "brier": metrics["brier"],
                "retrainings": len(retrained),
                "promoted": sum(r.promoted for r in retrained),
                "retraining_cpu_seconds": sum(r.cpu_seconds for r in retrained),
            }
        )
    return pd.DataFrame(rows)


def frontier_table(
    scored: pd.DataFrame,
    nights: pd.DataFrame,
    result: ReplayResult,
    report_from: str,
    params: Params,
) -> pd.DataFrame:
    """One row per policy: retrainings, CPU-seconds, the three figures, pages per month."""
    later = scored.loc[scored["flight_date"] >= report_from]
    pages = pages_per_month(nights, params.monitoring.page_clear_nights, report_from)
    rows = []
    for name, state in result.states.items():
        frame = later.loc[later["policy"] == name]
        y = frame["label"].astype(int).to_numpy()
        daily = [
            float(roc_auc_score(d["label"].astype(int), d[SCORE_COLUMN]))
            for _, d in frame.groupby("flight_date")
            if d["label"].nunique() == 2
        ]
        metrics = classification_metrics(y, frame[SCORE_COLUMN].to_numpy())
        kind = (
            "periodic"
            if periodic_days(name) is not None
            else "guard"
            if guard_policy(params, name) is not None
            else name
        )
        rows.append(
            {
                "policy": name,
                "kind": kind,
                "retrainings": len(state.retrainings),
                "promoted": sum(r.promoted for r in state.retrainings),
                "cpu_seconds": sum(r.cpu_seconds for r in state.retrainings),
                "pooled_roc_auc": metrics["roc_auc"],
                "mean_daily_roc_auc": float(np.mean(daily)) if daily else float("nan"),
                "pooled_log_loss": metrics["log_loss"],
                **pages.get(name, {}),
            }
        )
    return pd.DataFrame(rows)


def frontier_neighbours(frontier: pd.DataFrame, guard: str) -> list[str]:
    """The periodic policies with the nearest retraining counts at or either side of the
    guard's (what it must beat at equal cost)."""
    periodic = frontier.loc[frontier["kind"] == "periodic"]
    if periodic.empty:
        return []
    count = int(frontier.loc[frontier["policy"] == guard, "retrainings"].iloc[0])
    below = periodic.loc[periodic["retrainings"] <= count].sort_values("retrainings")
    above = periodic.loc[periodic["retrainings"] >= count].sort_values("retrainings")
    picked = [*below["policy"].tail(1), *above["policy"].head(1)]
    return list(dict.fromkeys(picked))


def summarise(
    result: ReplayResult, report_from: str, samples: int, seed: int, params: Params
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    scored = scored_with_labels(result)
    daily = daily_metrics(scored)
    monthly = monthly_table(scored, result)
    policies = list(result.states)
    nights_frame = result.nights()
    frontier = frontier_table(scored, nights_frame, result, report_from, params)
    guards = [p for p in policies if guard_policy(params, p) is not None]
    block = params.simulation.block_days
    comparisons = []
    for guard in guards:
        against: list[str] = [p for p in ("frozen", "scheduled") if p in policies]
        against += [p for p in frontier_neighbours(frontier, guard) if p not in against]
        comparisons += [
            paired_block_bootstrap(scored, guard, other, report_from, samples, seed, block)
            for other in against
        ]
    cut = params.simulation.choose_before.isoformat()
    quality = (
        signal_quality_by_period(nights_frame, result.benefits, cut)
        if not result.benefits.empty
        else pd.DataFrame()
    )
    clear = params.monitoring.page_clear_nights
    later = scored.loc[scored["flight_date"] >= report_from]
    pooled = {
        name: classification_metrics(
            frame["label"].astype(int).to_numpy(), frame[SCORE_COLUMN].to_numpy()
        )
        for name, frame in later.groupby("policy")
    }
    days = (result.plan.end - result.plan.start).days + 1
    summary = {
        "plan": {k: str(v) for k, v in asdict(result.plan).items()},
        "report_from": report_from,
        "pooled_from_report_start": pooled,
        "comparisons": comparisons,
        "frontier": frontier.to_dict("records"),
        "benefit": {
            "every_days": params.simulation.benefit_every_days,
            "horizon_days": params.simulation.benefit_horizon_days,
            "nights": int(result.benefits["day"].nunique()) if not result.benefits.empty else 0,
            "helps_share": {
                str(k): float(v)
                for k, v in (
                    result.benefits.groupby("policy")["helps"].mean().items()
                    if not result.benefits.empty
                    else []
                )
            },
        },
        "signal_quality": quality.to_dict("records"),
        "act_trigger_sets": (
            act_trigger_summary(
                nights_frame, result.benefits, cut, params.monitoring.verdict.act_triggers
            )
            if not result.benefits.empty
            else {}
        ),
        "page_budget": page_budget_of(nights_frame, params, report_from),
        **chosen_before_cut(nights_frame, result.benefits, params, report_from),
        "pages_after_cut": pages_per_month(
            nights_frame.loc[nights_frame["date"] >= cut], clear, cut
        ),
        "estimate_error": estimate_error(nights_frame, report_from),
        "retrainings": {
            name: {
                "count": len(state.retrainings),
                "promoted": sum(r.promoted for r in state.retrainings),
                "cpu_seconds": sum(r.cpu_seconds for r in state.retrainings),
            }
            for name, state in result.states.items()
        },
        "shadow": shadow_summary(result.shadow_episodes(), result.states),
        "first_model": asdict(result.first_model),
        "timing": {
            "seconds": result.seconds,
            "days": days,
            "seconds_per_day": result.seconds / days,
            "land_and_gate_seconds": result.gate_seconds,
            "grid_fit_seconds": result.grid_seconds,
        },
    }
    return summary, daily, monthly, nights_frame


def shadow_summary(episodes: pd.DataFrame, states: dict[str, Any]) -> dict[str, Any]:
    """Per policy, what the shadow period did to the challengers that passed offline: how many
    it promoted (and after how many labelled nights), retired as worse or as unproven, how many
    a newer one superseded or were still in shadow at the end; and, on their labelled shadow
    nights, the challenger's ROC AUC minus the serving model's (for the promoted, what the wait
    cost; for the retired, what serving them at once would have cost)."""
    out: dict[str, Any] = {}
    for name, state in states.items():
        mine = episodes.loc[episodes["policy"] == name]
        promoted = mine.loc[mine["action"] == "promote"]
        retired = mine.loc[mine["action"] == "retire"]
        worse = retired["why"].astype(str).str.startswith("significantly worse")
        out[name] = {
            "passed_offline": int(len(mine) + (state.challenger is not None)),
            "promoted": int(len(promoted)),
            "retired_worse": int(worse.sum()),
            "retired_unproven": int((~worse).sum()),
            "superseded": int((mine["action"] == "superseded").sum()),
            "in_shadow_at_end": int(state.challenger is not None),
            "mean_nights_to_promotion": float(promoted["labelled_nights"].mean())
            if len(promoted)
            else None,
            "promoted_roc_auc_difference": _mean_or_none(promoted["roc_auc_difference"]),
            "retired_roc_auc_difference": _mean_or_none(retired["roc_auc_difference"]),
        }
    return out


def _mean_or_none(values: pd.Series) -> float | None:
    values = pd.to_numeric(values, errors="coerce").dropna()
    return float(values.mean()) if len(values) else None


def chosen_before_cut(
    nights: pd.DataFrame, benefits: pd.DataFrame, params: Params, since: str
) -> dict[str, Any]:
    """The verdict's thresholds and the guard's settings chosen before the cut, measured after
    (`thresholds.py`); nothing when the run measured no benefit or predates the recorded
    verdict inputs."""
    if benefits.empty or "drift_ratios" not in nights:
        return {}
    return {
        "threshold_choice": choose_thresholds(nights, benefits, params, since),
        "guard_choice": choose_guard(nights, benefits, params, since),
    }


_COLOURS = {"frozen": "#7f7f7f", "scheduled": "#1f77b4", "guarded": "#d62728"}


def timeline_figure(
    daily: pd.DataFrame, nights: pd.DataFrame, monthly: pd.DataFrame, result: ReplayResult
) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(4, 1, figsize=(13, 12), sharex=True)
    auc, drift, delay, versions = axes
    for policy, frame in daily.groupby("policy"):
        days = pd.to_datetime(frame["date"])
        colour = _COLOURS.get(policy)
        auc.plot(
            days,
            frame["roc_auc"].rolling(7, min_periods=3).mean(),
            label=f"{policy} (7-day mean)",
            color=colour,
        )
        auc.plot(days, frame["roc_auc"], color=colour, alpha=0.15, linewidth=0.8)
        versions.step(days, frame["version"], where="post", label=policy, color=colour)
    for row in monthly.to_dict("records"):  # the month's pooled ROC AUC, a thick segment
        first = pd.Timestamp(f"{row['month']}-01")
        last = first + pd.offsets.MonthEnd(0)
        auc.hlines(row["roc_auc"], first, last, color=_COLOURS.get(row["policy"]), linewidth=3)
    for policy, frame in nights.groupby("policy"):
        drift.plot(
            pd.to_datetime(frame["date"]),
            frame["drift_share"].rolling(7, min_periods=1).mean(),
            label=policy,
            color=_COLOURS.get(policy),
        )
    one = daily.loc[daily["policy"] == daily["policy"].iloc[0]]
    delay.bar(pd.to_datetime(one["date"]), one["delay_rate"], color="#9467bd", width=1.0)
    for record in result.retrainings():
        when = pd.Timestamp(record.day)
        marker = "^" if record.promoted else "x"
        versions.scatter(
            [when], [record.version], marker=marker, s=60, color=_COLOURS.get(record.policy)
        )
        if record.policy == "guarded":
            auc.axvline(when, color=_COLOURS["guarded"], linestyle=":", linewidth=1)
    auc.set_ylabel("ROC AUC: daily (thin),\n7-day mean, month (thick)")
    auc.legend(loc="lower left", fontsize=8)
    drift.set_ylabel("drift share (7-day mean)")
    drift.legend(loc="upper left", fontsize=8)
    delay.set_ylabel("delay rate")
    versions.set_ylabel("serving version\n(^ promoted, x rejected)")
    versions.legend(loc="upper left", fontsize=8)
    versions.xaxis.set_major_locator(mdates.MonthLocator())
    versions.xaxis.set_major_formatter(mdates.DateFormatter("%b"))
    figure.suptitle(
        "2013 replayed: frozen vs monthly vs guarded retraining (dotted: guarded retrainings)"
    )
    figure.tight_layout()
    return figure


def frontier_figure(frontier: pd.DataFrame) -> Any:
    """Each figure against retrainings: periodic policies as a line (the frontier), the guards
    and the others as points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for axis, metric in zip(axes, METRICS, strict=True):
        periodic = frontier.loc[frontier["kind"] == "periodic"].sort_values("retrainings")
        axis.plot(
            periodic["retrainings"], periodic[metric], "o-", color="#1f77b4", label="every N days"
        )
        for row in periodic.to_dict("records"):
            axis.annotate(row["policy"], (row["retrainings"], row[metric]), fontsize=7)
        others = frontier.loc[frontier["kind"] != "periodic"]
        for row in others.to_dict("records"):
            colour = "#d62728" if row["kind"] == "guard" else "#7f7f7f"
            axis.scatter([row["retrainings"]], [row[metric]], color=colour, zorder=3)
            axis.annotate(row["policy"], (row["retrainings"], row[metric]), fontsize=7)
        axis.set_xlabel("retrainings")
        axis.set_title(metric + (" (lower is better)" if "loss" in metric else ""))
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    return figure


def tradeoff_figure(
    trigger_sets: pd.DataFrame, thresholds: dict[str, Any], committed_triggers: str
) -> Any:
    """Precision against recall of `act` (against the benefit of retraining), before the cut
    and after it: every set of triggers as the `act` set, every candidate of the drift
    thresholds, the committed and the chosen ones. What the best trade-off is, and how far
    the one chosen before the cut holds after it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharex=True, sharey=True)
    candidates = pd.DataFrame(thresholds.get("every_candidate", []))
    chosen = thresholds.get("chosen_measured") or {}
    for axis, period in zip(axes, ("before", "after"), strict=True):
        axis.scatter(
            trigger_sets[f"recall_{period}"],
            trigger_sets[f"precision_{period}"],
            s=10,
            color="#9a9a9a",
            label="a set of `act` triggers (every policy's nights)",
        )
        if not candidates.empty:
            axis.scatter(
                candidates[f"recall_{period}"],
                candidates[f"precision_{period}"],
                s=14,
                color="#1f77b4",
                label="drift thresholds (frozen's and the schedules' nights)",
            )
        mine = trigger_sets.loc[
            trigger_sets["act_triggers"].map(lambda t: set(t.split(",")))
            == set(committed_triggers.split(","))
        ]
        axis.scatter(
            mine[f"recall_{period}"],
            mine[f"precision_{period}"],
            marker="*",
            s=160,
            color="#d62728",
            label="committed triggers (every policy's nights)",
            zorder=3,
        )
        if chosen:
            axis.scatter(
                [chosen[f"recall_{period}"]],
                [chosen[f"precision_{period}"]],
                marker="D",
                s=60,
                color="#2ca02c",
                label="thresholds chosen before the cut (frozen's and the schedules')",
                zorder=3,
            )
        axis.axhline(0.6, color="#cccccc", linewidth=0.8)
        axis.axvline(0.6, color="#cccccc", linewidth=0.8)
        axis.set_xlabel("recall of `act`")
        axis.set_title(f"{period} the cut")
    axes[0].set_ylabel("precision of `act`")
    axes[0].legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure


def write_tradeoff(
    nights: pd.DataFrame, benefits: pd.DataFrame, summary: dict[str, Any], params: Params, out: Path
) -> bool:
    """`act_tradeoff.png` from a run's nights and benefit (False: nothing to plot)."""
    from pipelines.config import ACTIONABLE_TRIGGERS
    from pipelines.replay.signal_quality import trigger_sets

    if benefits.empty or "threshold_choice" not in summary:
        return False
    sets = trigger_sets(
        nights, benefits, params.simulation.choose_before.isoformat(), ACTIONABLE_TRIGGERS
    )
    committed = ",".join(params.monitoring.verdict.act_triggers)
    tradeoff_figure(sets, summary["threshold_choice"], committed).savefig(out, dpi=90)
    return True


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0)


def write_report(
    out_dir: Path,
    summary: dict[str, Any],
    daily: pd.DataFrame,
    monthly: pd.DataFrame,
    nights: pd.DataFrame,
    result: ReplayResult,
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    daily.to_csv(out_dir / "daily.csv", index=False)
    monthly.to_csv(out_dir / "monthly.csv", index=False)
    nights.to_csv(out_dir / "nights.csv", index=False)
    retrainings = pd.DataFrame([asdict(r) for r in [result.first_model, *result.retrainings()]])
    retrainings.to_csv(out_dir / "retrainings.csv", index=False)
    result.shadow_episodes().to_csv(out_dir / "shadow.csv", index=False)
    figure = timeline_figure(daily, nights, monthly, result)
    figure.savefig(out_dir / "timeline.png", dpi=90)
    comparisons = "".join(
        f"<li><b>{c['policy']} − {c['against']}</b> from {c['from']} ({c['days']} days, "
        f"{c['confidence']:.0%} paired bootstrap in {c['block_days']}-day blocks): "
        + "; ".join(
            f"{m} <b>{c[m]['difference']:+.4f}</b> [{c[m]['low']:+.4f}, {c[m]['high']:+.4f}]"
            for m in METRICS
        )
        + "</li>"
        for c in summary["comparisons"]
    )
    frontier = pd.DataFrame(summary["frontier"])
    frontier.to_csv(out_dir / "frontier.csv", index=False)
    frontier_figure(frontier).savefig(out_dir / "frontier.png", dpi=90)
    result.benefits.to_csv(out_dir / "benefit.csv", index=False)
    quality = pd.DataFrame(summary["signal_quality"])
    quality.to_csv(out_dir / "signal_quality.csv", index=False)
    counts = "".join(
        f"<li>{name}: {v['count']} retrainings, {v['promoted']} promoted, "
        f"{v['cpu_seconds']:.0f} CPU-s</li>"
        for name, v in summary["retrainings"].items()
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>2013 replay: retraining policies</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1300px}}table{{border-collapse:collapse;font-size:13px}}
td,th{{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}}</style></head><body>
<h1>2013 replayed day by day</h1>
<p>Generated by <code>make simulate</code> ({html.escape(str(summary["plan"]))}).</p>
<p>Log loss differences are the other's minus the policy's: positive always favours the
policy.</p>
<ul>{comparisons}</ul><ul>{counts}</ul>
<h2>Cost and quality</h2><img src="frontier.png" style="max-width:100%">{_table(frontier)}
<h2>How well each signal predicts the benefit of retraining</h2>{_table(quality)}
<img src="timeline.png" style="max-width:100%">
<h2>Retrainings</h2>{_table(retrainings)}
<h2>Shadow periods</h2>{_table(pd.DataFrame(summary["shadow"]).T.reset_index())}
{_table(result.shadow_episodes())}
<h2>Per month</h2>{_table(monthly)}
</body></html>"""
    (out_dir / "index.html").write_text(page)
    return out_dir / "index.html"


def _figure(value: float) -> str:
    return f"{value:.3f}"


def _interval(entry: dict[str, float]) -> str:
    return f"{entry['difference']:+.4f} [{entry['low']:+.4f}, {entry['high']:+.4f}]"


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table, preceded by a blank line."""
    return [
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def start_dates_table(summaries: list[dict[str, Any]]) -> str:
    """The guards against their comparators, one block of rows per replay start date: does
    the headline hold whatever day the replay starts on (`mlops simulation-starts`)?"""
    rows = [
        [
            str(run["plan"]["start"]),
            f"{c['policy']} − {c['against']}",
            f"{c['from']} ({c['days']} days)",
            *(_interval(c[m]) for m in METRICS),
        ]
        for run in sorted(summaries, key=lambda r: str(r["plan"]["start"]))
        for c in run["comparisons"]
    ]
    header = [
        "start",
        "policy − other",
        "measured from",
        "pooled ROC AUC",
        "mean daily ROC AUC",
        "pooled log loss (other − policy)",
    ]
    return "\n".join(_markdown(header, rows)[1:])


def markdown_tables(summary: dict[str, Any]) -> str:
    """The README's tables from a run's `summary.json` (`mlops simulation-tables`)."""
    lines = _markdown(
        [
            "policy",
            "retrainings (promoted)",
            "CPU-s",
            "pooled ROC AUC",
            "mean daily ROC AUC",
            "pooled log loss",
            "`act` nights / month",
            "pages / month",
        ],
        [
            [
                row["policy"],
                f"{row['retrainings']} ({row['promoted']})",
                f"{row['cpu_seconds']:.0f}",
                _figure(row["pooled_roc_auc"]),
                _figure(row["mean_daily_roc_auc"]),
                _figure(row["pooled_log_loss"]),
                f"{row['act_nights_per_month']:.1f}",
                f"{row['pages_per_month']:.1f}",
            ]
            for row in summary["frontier"]
        ],
    )[1:]
    lines += _markdown(
        [
            "policy − other (block bootstrap)",
            "pooled ROC AUC",
            "mean daily ROC AUC",
            "pooled log loss (other − policy)",
        ],
        [
            [f"{c['policy']} − {c['against']}", *(_interval(c[m]) for m in METRICS)]
            for c in summary["comparisons"]
        ],
    )
    quality = pd.DataFrame(summary.get("signal_quality", []))
    if not quality.empty and "period" not in quality:
        quality.insert(0, "period", "all nights")  # a run from before the cut was reported
    if not quality.empty:
        pooled = (
            quality.assign(hits=quality["precision"].fillna(0) * quality["fired"])
            .groupby(["period", "signal"], sort=True)[["fired", "helps", "hits"]]
            .sum()
            .reset_index()
        )
        pooled["precision"] = pooled["hits"] / pooled["fired"].where(pooled["fired"] > 0)
        pooled["recall"] = pooled["hits"] / pooled["helps"].where(pooled["helps"] > 0)
        ordered = pooled.sort_values(["signal", "period"], ascending=[True, False])
        lines += _markdown(
            ["signal", "period", "fired", "precision", "recall"],
            [
                [
                    row["signal"],
                    row["period"],
                    str(int(row["fired"])),
                    f"{row['precision']:.2f}",
                    f"{row['recall']:.2f}",
                ]
                for row in ordered.to_dict("records")
            ],
        )
        act = quality.loc[quality["signal"] == "act"].to_dict("records")
        lines += _markdown(
            [
                "policy",
                "period",
                "`act` precision",
                "recall",
                "helpful nights",
                "median lead (days)",
            ],
            [
                [
                    row["policy"],
                    row["period"],
                    f"{row['precision']:.2f}",
                    f"{row['recall']:.2f}",
                    f"{row['helps']} of {row['nights']}",
                    _lead(row.get("act_lead_days_median")),
                ]
                for row in act
            ],
        )
    errors = summary.get("estimate_error", {})
    if errors:
        lines += _markdown(
            ["policy", "estimate's MAE (ROC AUC)", "bias (estimate − labels)", "nights"],
            [
                [name, f"{e['mae_roc_auc']:.3f}", f"{e['bias_roc_auc']:+.3f}", str(e["nights"])]
                for name, e in errors.items()
            ],
        )
    sets = summary.get("act_trigger_sets", {})
    if sets:
        lines += _markdown(
            ["`act_triggers` (best F1 before the cut first)", "precision / recall before", "after"],
            [
                [
                    row["act_triggers"],
                    f"{row['precision_before']:.2f} / {row['recall_before']:.2f}",
                    f"{row['precision_after']:.2f} / {row['recall_after']:.2f}",
                ]
                for row in [*sets["best_before_cut"][:5], *sets["committed_measured"]]
            ],
        )
    budget = summary.get("page_budget", {})
    if budget:
        lines += _markdown(
            [
                f"`page_clear_nights` ({budget['policy']}, budget {budget['budget_per_month']:g})",
                "pages / month before the cut",
                "after",
            ],
            [
                [
                    f"{row['page_clear_nights']}"
                    + (" (chosen)" if row["page_clear_nights"] == budget["chosen"] else ""),
                    f"{row['pages_per_month_before']:.1f}",
                    f"{row['pages_per_month_after']:.1f}",
                ]
                for row in budget["candidates"]
            ],
        )
    lines += _choice_tables(summary)
    lines += _shadow_table(summary.get("shadow", {}))
    return "\n".join(lines) + "\n"


def _shadow_table(shadow: dict[str, Any]) -> list[str]:
    """What the shadow period did per policy (`shadow_summary`); none before it existed."""
    if not shadow:
        return []

    def difference(value: float | None) -> str:
        return "" if value is None else f"{value:+.4f}"

    rows = [
        [
            name,
            str(v["passed_offline"]),
            str(v["promoted"]),
            str(v["retired_worse"]),
            str(v["retired_unproven"]),
            str(v["superseded"]),
            str(v["in_shadow_at_end"]),
            "" if v["mean_nights_to_promotion"] is None else f"{v['mean_nights_to_promotion']:.1f}",
            difference(v["promoted_roc_auc_difference"]),
            difference(v["retired_roc_auc_difference"]),
        ]
        for name, v in shadow.items()
    ]
    header = [
        "policy",
        "passed offline",
        "promoted",
        "retired: worse",
        "retired: unproven",
        "superseded",
        "in shadow at the end",
        "labelled nights to promotion",
        "promoted: ROC AUC − serving's, shadow nights",
        "retired: ROC AUC − serving's, shadow nights",
    ]
    return _markdown(header, rows)


def _measured(row: dict[str, Any], period: str) -> str:
    return (
        f"{row[f'precision_{period}']:.2f} / {row[f'recall_{period}']:.2f} / "
        f"{row[f'pages_per_month_{period}']:.1f}"
    )


def _choice_tables(summary: dict[str, Any]) -> list[str]:
    """The thresholds and the guard's settings chosen before the cut, measured after it."""
    lines: list[str] = []
    thresholds = summary.get("threshold_choice")
    if thresholds:
        names = list(DRIFT_THRESHOLDS)
        header = [
            "drift thresholds (" + ", ".join(names) + ")",
            "`act` precision / recall / most pages a month, before the cut",
            "after",
        ]
        committed = thresholds["committed_measured"]
        rows = [("chosen", thresholds["chosen_measured"])] + [("committed", r) for r in committed]
        rows += [("", r) for r in thresholds["best_before_cut"][1:4]]
        lines += _markdown(
            header,
            [
                [
                    " / ".join(f"{row[n]:g}" for n in names) + (f" ({label})" if label else ""),
                    _measured(row, "before"),
                    _measured(row, "after"),
                ]
                for label, row in rows
            ],
        )
        for trigger, rows in thresholds.get("single", {}).items():
            names = list(WATCH_THRESHOLDS.get(trigger, ()))
            chosen_values = [thresholds["chosen"][n] for n in names]
            lines += _markdown(
                [
                    " / ".join(f"`{n}`" for n in names),
                    f"`{trigger}` precision / recall before",
                    "after",
                ],
                [
                    [
                        " / ".join(f"{row[n]:g}" for n in names)
                        + (" (chosen)" if [row[n] for n in names] == chosen_values else ""),
                        f"{row['precision_before']:.2f} / {row['recall_before']:.2f}",
                        f"{row['precision_after']:.2f} / {row['recall_after']:.2f}",
                    ]
                    for row in rows
                ],
            )
    guard = summary.get("guard_choice")
    if guard:
        chosen = guard["chosen"] or {}
        ranked = sorted(
            guard["candidates"],
            key=lambda r: (
                -_or_zero(r["helps_share_before"]),
                -_or_zero(r["mean_gain_before"]),
                r["requests_before"],
            ),
        )

        def label(row: dict[str, Any]) -> str:
            key = {k: row[k] for k in ("act_nights", "of_last_nights", "cooldown_days")}
            name = f"{key['act_nights']} of {key['of_last_nights']}, {key['cooldown_days']} d"
            if key == chosen:
                name += " (chosen)"
            if key == guard["committed"]:
                name += " (committed)"
            return name

        shown = [r for r in ranked[:4]] + [
            r for r in guard["committed_measured"] if r not in ranked[:4]
        ]
        lines += _markdown(
            [
                "guard (`k` of `n`, cooldown)",
                "requests / helped share / mean ROC AUC gain, before the cut",
                "after",
            ],
            [
                [
                    label(row),
                    *(
                        f"{row[f'requests_{p}']} / {_share(row[f'helps_share_{p}'])} / "
                        f"{_signed(row[f'mean_gain_{p}'])}"
                        for p in ("before", "after")
                    ),
                ]
                for row in shown
            ]
            + [
                [
                    "every grid night (a calendar)",
                    *(
                        f"{c['nights']} / {_share(c['helps_share'])} / {_signed(c['mean_gain'])}"
                        for c in (guard["calendar"]["before"], guard["calendar"]["after"])
                    ),
                ]
            ],
        )
    return lines


def _or_zero(value: Any) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)


def _share(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.2f}"


def _signed(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:+.3f}"


def _lead(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.0f}"
