"""What the replay shows: daily and monthly quality per policy, the loop's value with a paired
bootstrap over days, and a timeline (PNG and an HTML page)."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipelines.monitoring.drift import SCORE_COLUMN
from pipelines.replay.loop import ReplayResult
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


def paired_bootstrap_auc(
    scored: pd.DataFrame,
    policy: str,
    other: str,
    start: str,
    samples: int,
    seed: int,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Pooled ROC AUC of `policy` minus `other` from `start` on, with an interval from
    resampling days (the same days for both: the pairing)."""
    window = scored.loc[scored["flight_date"] >= start]
    by_day: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for (name, day), frame in window.groupby(["policy", "flight_date"], sort=True):
        if name in (policy, other):
            by_day.setdefault(day, {})[name] = (
                frame["label"].astype(int).to_numpy(),
                frame[SCORE_COLUMN].to_numpy(),
            )
    days = [d for d, entry in by_day.items() if len(entry) == 2]

    def pooled(name: str, picked: list[str]) -> float:
        y = np.concatenate([by_day[d][name][0] for d in picked])
        p = np.concatenate([by_day[d][name][1] for d in picked])
        return float(roc_auc_score(y, p))

    estimate = pooled(policy, days) - pooled(other, days)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(samples):
        picked = [days[i] for i in rng.integers(0, len(days), len(days))]
        draws.append(pooled(policy, picked) - pooled(other, picked))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return {
        "policy": policy,
        "against": other,
        "from": start,
        "days": len(days),
        "roc_auc": pooled(policy, days),
        "against_roc_auc": pooled(other, days),
        "difference": estimate,
        "low": float(low),
        "high": float(high),
        "confidence": confidence,
        "bootstrap_samples": samples,
    }


def summarise(
    result: ReplayResult, report_from: str, samples: int, seed: int
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    scored = scored_with_labels(result)
    daily = daily_metrics(scored)
    monthly = monthly_table(scored, result)
    policies = list(result.states)
    comparisons = [
        paired_bootstrap_auc(scored, "guarded", other, report_from, samples, seed)
        for other in ("frozen", "scheduled")
        if "guarded" in policies and other in policies
    ]
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
        "retrainings": {
            name: {
                "count": len(state.retrainings),
                "promoted": sum(r.promoted for r in state.retrainings),
                "cpu_seconds": sum(r.cpu_seconds for r in state.retrainings),
            }
            for name, state in result.states.items()
        },
        "first_model": asdict(result.first_model),
        "timing": {
            "seconds": result.seconds,
            "days": days,
            "seconds_per_day": result.seconds / days,
            "land_and_gate_seconds": result.gate_seconds,
        },
    }
    return summary, daily, monthly, result.nights()


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
    figure = timeline_figure(daily, nights, monthly, result)
    figure.savefig(out_dir / "timeline.png", dpi=90)
    comparisons = "".join(
        f"<li><b>{c['policy']} − {c['against']}</b>: pooled ROC AUC from {c['from']} "
        f"{c['roc_auc']:.4f} − {c['against_roc_auc']:.4f} = <b>{c['difference']:+.4f}</b> "
        f"[{c['low']:+.4f}, {c['high']:+.4f}] ({c['confidence']:.0%}, paired bootstrap over "
        f"{c['days']} days)</li>"
        for c in summary["comparisons"]
    )
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
<ul>{comparisons}</ul><ul>{counts}</ul>
<img src="timeline.png" style="max-width:100%">
<h2>Retrainings</h2>{_table(retrainings)}
<h2>Per month</h2>{_table(monthly)}
</body></html>"""
    (out_dir / "index.html").write_text(page)
    return out_dir / "index.html"
