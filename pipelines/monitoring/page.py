"""The on-call page: one HTML per date (`date=D/index.html`) and an index of dates.

It answers "can the champion still be trusted, and if not, what do I do?": the verdict and
why, the drift that matters most, trends of the last days (drift share, ROC AUC observed vs
estimated, delay rate), the model and data versions, and links to Evidently's reports, the
Data Docs, the MLflow run and the runbook. Served by the Airflow plugin under /monitoring/."""

from __future__ import annotations

import base64
import html
import io
import json
from datetime import date
from typing import Any

import pandas as pd

from pipelines.config import Params
from pipelines.storage import join_uri, write_text

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.ok{background:#d4edda}.watch{background:#fff3cd}.act{background:#f8d7da}
.verdict{font-size:1.6em;padding:.3em .6em;display:inline-block;border-radius:6px}"""


def _trend_png(history: pd.DataFrame, day: str, days: int) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = history[history["date"] <= day].tail(days)
    x = pd.to_datetime(shown["date"])

    def column(name: str) -> pd.Series:
        return (
            pd.to_numeric(shown[name], errors="coerce")
            if name in shown
            else pd.Series(float("nan"), index=shown.index)
        )

    figure, axes = plt.subplots(3, 1, figsize=(9, 7), sharex=True)
    axes[0].plot(x, column("drift_share"), marker=".", label="drift share")
    axes[0].set_ylabel("drifted columns")
    axes[1].plot(x, column("actual_roc_auc"), marker=".", linestyle="", label="observed (day)")
    axes[1].plot(x, column("window_roc_auc"), label="observed (rolling, labelled days before)")
    axes[1].plot(x, column("est_window_roc_auc"), linestyle="--", label="estimated (rolling, CBPE)")
    axes[1].set_ylabel("ROC AUC")
    axes[2].plot(x, column("actual_delay_rate"), marker=".", label="observed")
    axes[2].plot(x, column("est_delay_rate"), linestyle="--", label="estimated")
    axes[2].set_ylabel("delay rate")
    for axis in axes:
        axis.legend(loc="best", fontsize=8)
        axis.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _rows(rows: list[dict[str, Any]], keys: list[str]) -> str:
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(k, '')))}</td>" for k in keys) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def _age(model: dict[str, Any], limit: int) -> str:
    """How old the serving model is: since when it serves (in the monitored window) and how
    long ago its training data ends (`model_stale` past `limit` days)."""
    if not model.get("data_end"):
        return ""
    return (
        f"Serving since {html.escape(str(model.get('serving_since')))} (as far as the window "
        f"shows); its training data ends {html.escape(str(model['data_end']))}, "
        f"{model.get('age_days')} days ago (limit {limit})."
    )


def _changes(changes: dict[str, list[str]] | None) -> str:
    """What changed under the model since the previous monitored night (fingerprints.py)."""
    if not changes or not (changes["packages"] or changes["upstream"]):
        return "Since the previous night: no package and no upstream schema changed."
    items = [f"package {c}" for c in changes["packages"]] + [
        f"upstream {c}" for c in changes["upstream"]
    ]
    return "Changed since the previous night: " + html.escape("; ".join(items)) + "."


def _skew(report: dict[str, Any] | None) -> str:
    """What was served online for the day's flights against the batch's features."""
    if not report:
        return "Served online: nothing for this day's flights."
    skewed = ", ".join(report["skewed"]) or "none"
    fallbacks = ", ".join(f"{k} {v}" for k, v in (report.get("fallbacks") or {}).items())
    return (
        f"Served online: {report['served_rows']} rows, {report['compared_rows']} compared with "
        f"the batch's features; skewed inputs: {html.escape(skewed)}; answered by the fallback: "
        f"{html.escape(fallbacks or 'none')}."
    )


def _batch_skew(report: dict[str, Any] | None) -> str:
    """The night batch's sample of served features against the store's features now."""
    if not report:
        return "Served by the batch: no sample of features kept for this day."
    skewed = ", ".join(report["skewed"]) or "none"
    return (
        f"Served by the batch: {report['served_rows']} sampled rows, {report['compared_rows']} "
        f"compared with the features the validated store gives them now; skewed inputs: "
        f"{html.escape(skewed)}."
    )


def explain_command(day: str, flight_id: str) -> str:
    """The command that shows why one flight got its score (`pipelines/scoring/explain.py`)."""
    return f"mlops explain --date {day} --flight {flight_id}"


def _flights_to_explain(found: dict[str, Any] | None) -> str:
    """The labelled flights that drove the errors (largest log loss), each with the exact
    `mlops explain` line: on a bad night, on-call starts from them."""
    if not found:
        return "<p>Labels pending: no labelled flight to explain yet.</p>"
    if not found["flights"]:
        return f"<p>No labelled flight of {html.escape(found['date'])} to explain.</p>"
    rows = "".join(
        "<tr>"
        f"<td>{html.escape(str(f['flight_id']))}</td>"
        f"<td>{f['late_probability']:.3f}</td>"
        f"<td>{'late' if f.get('predicted_late') else 'on time'}</td>"
        f"<td>{'late' if f['late'] else 'on time'}</td>"
        f"<td>{f['log_loss']:.2f} ({f.get('share_of_log_loss', 0.0):.1%})</td>"
        f"<td><code>{html.escape(explain_command(found['date'], str(f['flight_id'])))}</code></td>"
        "</tr>"
        for f in found["flights"]
    )
    return (
        f"<p>The labelled flights of {html.escape(found['date'])} with the largest log loss "
        "(confidently wrong): run the command to see the features each was scored with and "
        "each one's contribution to its probability.</p>"
        "<table><tr><th>flight</th><th>probability</th><th>predicted</th><th>was</th>"
        f"<th>log loss (share of the day's)</th><th>explain</th></tr>{rows}</table>"
    )


def day_page(params: Params, summary: dict[str, Any], history: pd.DataFrame) -> str:
    day = summary["date"]
    verdict, model, drift = summary["verdict"], summary["model"], summary["drift"]
    performance, estimate = summary["performance"], summary["estimate"]
    reference = summary["reference"]
    window = performance["window"]
    yesterday = date.fromordinal(date.fromisoformat(day).toordinal() - 1).isoformat()
    runbooks = (
        " ".join(f'<a href="../runbooks/{r}">{r}</a>' for r in summary["runbooks"]) or "none needed"
    )
    mlflow_link = (
        f'<a href="{html.escape(summary["mlflow_url"])}">monitoring run</a>'
        if summary.get("mlflow_url")
        else "not logged"
    )
    observed = (
        f"{window['roc_auc']:.3f} [{window['low']:.3f}, {window['high']:.3f}] "
        f"over {window['days']} labelled days"
        if window
        else "pending (no labelled day in the window yet)"
    )
    holdout_auc = _number(performance["holdout"].get("holdout_roc_auc"))
    share = _number(drift["share"], 2)
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in verdict["reasons"])
    top = _rows(drift["top"], ["column", "score", "threshold", "drifted", "importance", "weighted"])
    trend = _trend_png(history, day, params.monitoring.history_days_on_page)
    calibrated = f"{reference['window']['train_start']}..{reference['window']['train_end']}"
    alarms = reference["false_alarms"]
    version = html.escape(str(model["version"]))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Monitoring {day}</title>
<style>{_STYLE}</style></head><body>
<p><a href="../index.html">all dates</a></p>
<h1>Flight delay model, {day}</h1>
<p class="verdict {verdict["level"]}">{verdict["level"].upper()}</p>
<ul>{reasons}</ul>
<p>Runbook: {runbooks}</p>
<h2>Model</h2>
<p>{html.escape(model["name"])} version {version} (run {html.escape(str(model["run_id"]))}),
data version {html.escape(str(model["data_version"]))}. {mlflow_link}.
{_age(model, params.monitoring.verdict.max_model_age_days)}
{_skew(summary.get("serving_skew"))}
{_batch_skew(summary.get("batch_skew"))}
{_changes(summary.get("changes_since_previous_night"))}
Scored rows: {summary["rows"]} (monitored sample {summary["sampled_rows"]}).</p>
<h2>Drift that matters (score / threshold &times; permutation importance)</h2>
<p>Drift share {share}; empty columns: {", ".join(drift["empty_columns"]) or "none"}.
<a href="drift.html">Evidently drift report</a>.</p>
{top}
<h2>Performance</h2>
<p>Observed ROC AUC (rolling): {observed}; holdout {holdout_auc}.
Estimated today (CBPE): ROC AUC {_number(estimate["day"].get("roc_auc"))},
delay rate {_number(estimate["day"].get("delay_rate"))};
rolling since {estimate["window_start"]}: ROC AUC {_number(estimate["window"].get("roc_auc"))}.
Labels for {yesterday}: {performance["labels_for_previous_day"]}
(<a href="../date={yesterday}/performance.html">Evidently classification report</a>).</p>
<img alt="trends" src="data:image/png;base64,{trend}">
<h2>Flights that drove the errors</h2>
{_flights_to_explain(summary.get("flights_to_explain"))}
<h2>Data</h2>
<p><a href="../data_docs/index.html">Great Expectations Data Docs</a>.
Drift thresholds were calibrated on {calibrated}; on the holdout days they gave
watch-or-act on {alarms["watch_or_act"]:.0%} of days, act on {alarms["act"]:.0%}.</p>
</body></html>"""


def index_page(history: pd.DataFrame) -> str:
    rows = []
    for record in history.sort_values("date", ascending=False).to_dict("records"):
        day = record["date"]
        monitored = isinstance(record.get("reasons"), str)
        reasons = (
            "; ".join(json.loads(record["reasons"])) if monitored else "labels only (not monitored)"
        )
        if not monitored:
            record = {**record, "verdict": "", "model_version": record.get("model_version") or ""}
        level = record.get("verdict", "")
        rows.append(
            f'<tr class="{level}"><td><a href="date={day}/index.html">{day}</a></td>'
            f"<td>{level}</td><td>{record.get('model_version', '')}</td>"
            f"<td>{html.escape(reasons)}</td></tr>"
        )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Monitoring</title>
<style>{_STYLE}</style></head><body><h1>Flight delay model: monitoring</h1>
<table><tr><th>date</th><th>verdict</th><th>version</th><th>why</th></tr>{"".join(rows)}</table>
</body></html>"""


def write_pages(params: Params, day: date, summary: dict[str, Any], history: pd.DataFrame) -> str:
    root = params.workspace_path(params.monitoring.reports_dir)
    page_uri = join_uri(root, f"date={day.isoformat()}", "index.html")
    write_text(day_page(params, summary, history), page_uri)
    write_text(index_page(history), join_uri(root, "index.html"))
    return page_uri
