"""How far to trust the monitoring, measured on 2013 (`mlops monitoring-backtest`).

A model is fitted on the first months by the training step (`training.fit_candidate`: search,
calibration, threshold, as the training DAG), its reference built as at registration, then every
later day is judged by the nightly job's step (`judge.judge_night`, through `frames`): drift
scores from the same Evidently stattests as its report, the CBPE estimate, the delayed labels of
the days before, the verdict. Reported:

* how often a normal day alarms (`watch`/`act` from drift), in the first weeks after the
  window and over the rest of the year;
* how often an injected fault alarms *on its column* (an alarm naming another column is a
  miss), on the same days: a numeric feature shifted by one
  reference standard deviation, a categorical column collapsed to one value, the whole
  schedule moved by three hours (rebuilt from the raw flights with the feature code);
* the mean absolute error of the estimated rolling ROC AUC against the one the labels give.
No server: everything lands into a scratch folder, like `mlops holdout`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from features.build import attach_labels, build_features, model_inputs
from pipelines.config import Params
from pipelines.monitoring import drift, performance
from pipelines.monitoring.frames import night_inputs
from pipelines.monitoring.judge import judge_night
from pipelines.monitoring.reference import MonitoringReference, reference_of_candidate
from pipelines.monitoring.verdict import drift_level
from pipelines.training.candidate import fit_candidate
from pipelines.training_window import TrainingWindow


@dataclass(frozen=True)
class BacktestWindow:
    train_start: date
    holdout_start: date
    window_end: date  # last day of the holdout; monitoring starts the day after
    monitor_end: date
    early_days: int  # "the first weeks after the window"
    inject_every: int  # inject faults on every n-th monitored day


def _with_schedule_moved(flights: pd.DataFrame, hours: int) -> pd.DataFrame:
    moved = flights.copy()
    for column in ("sched_dep_time", "sched_arr_time"):
        minutes = (moved[column] // 100) * 60 + moved[column] % 100 + 60 * hours
        minutes = minutes.clip(upper=23 * 60 + 59)
        moved[column] = (minutes // 60) * 100 + minutes % 60
    return moved


#: The columns a fault must be flagged on to count as caught (besides the named column).
_SCHEDULE_COLUMNS = ("dep_hour", "dep_minute_of_day")


def caught_level(
    fault: str, drifted: tuple[str, ...], out_of_range: tuple[str, ...], level: str
) -> str:
    """The night's drift level if it flagged the injected column (or, for the moved schedule,
    a departure-time column), `ok` otherwise: an alarm on something else is not a catch."""
    column = fault.split(":", 1)[1] if ":" in fault else None
    expected = (column,) if column else _SCHEDULE_COLUMNS
    flagged = set(drifted) | set(out_of_range)
    return level if flagged & set(expected) else "ok"


def injected_days(
    day_features: pd.DataFrame,
    day_flights: pd.DataFrame,
    weather: pd.DataFrame,
    reference: MonitoringReference,
    params: Params,
) -> dict[str, pd.DataFrame]:
    """The day's features under each injected fault (scores are recomputed by the caller)."""
    numeric = [c for c in reference.columns.numeric if c != drift.SCORE_COLUMN]
    top_numeric = max(numeric, key=lambda c: reference.importance.get(c, 0.0))
    categorical = [c for c in reference.columns.categorical]
    top_categorical = max(categorical, key=lambda c: reference.importance.get(c, 0.0))
    shifted = day_features.copy()
    shifted[top_numeric] = shifted[top_numeric] + float(reference.sample[top_numeric].std())
    collapsed = day_features.copy()
    collapsed[top_categorical] = collapsed[top_categorical].mode().iloc[0]
    moved = build_features(_with_schedule_moved(day_flights, 3), weather, params.features)
    return {
        f"numeric_shift:{top_numeric}": shifted,
        f"categorical_collapse:{top_categorical}": collapsed,
        "schedule_moved_3h": moved,
    }


def run_backtest(
    params: Params, tables: dict[str, pd.DataFrame], window: BacktestWindow
) -> dict[str, Any]:
    """Train, build the reference, monitor every later day (see the module docstring)."""
    features = build_features(tables["flights"], tables["weather"], params.features)
    labelled = attach_labels(features, tables["outcomes"], params.features)
    trained_on = TrainingWindow(window.train_start, window.holdout_start, window.window_end)
    candidate = fit_candidate(labelled, trained_on, params)
    reference = reference_of_candidate(candidate, labelled, params)
    model, settings = candidate.model, params.monitoring
    flights_by_day = dict(tuple(tables["flights"].groupby("flight_date")))
    later = labelled[
        (labelled["flight_date"] > window.window_end.isoformat())
        & (labelled["flight_date"] <= window.monitor_end.isoformat())
    ].copy()
    later[drift.SCORE_COLUMN] = model.predict_proba(model_inputs(later, params.features))[:, 1]
    later["version"] = "1"
    days: list[dict[str, Any]] = []
    scored: dict[str, pd.DataFrame] = {}
    labelled_on: dict[str, date] = {}  # outcomes of D land on D+1
    for index, (day, frame) in enumerate(later.groupby("flight_date", sort=True)):
        d = date.fromisoformat(day)
        scored[day] = frame
        labelled_on[day] = d + timedelta(days=1)
        inputs = night_inputs(d, scored, labelled_on, reference, settings.rolling_days)
        night = judge_night(inputs, reference, settings)
        pooled = pd.concat(
            [
                scored[k]
                for k in (str(d - timedelta(days=o)) for o in range(settings.rolling_days))
                if k in scored
            ],
            ignore_index=True,
        )
        truth = pooled.dropna(subset=["label"])
        actual_window = performance.auc_interval(
            truth["label"].to_numpy(), truth[drift.SCORE_COLUMN].to_numpy(), settings.confidence
        )[0]
        row: dict[str, Any] = {
            "date": day,
            "days_after_window": (d - window.window_end).days,
            "rows": len(frame),
            "drift_level": drift_level(night.signals, settings.verdict),
            "verdict": night.verdict.level,
            "triggers": ",".join(night.verdict.triggers),
            "drifted": ",".join(night.drifted),
            "estimated_window_roc_auc": night.estimated_window["roc_auc"],
            "actual_window_roc_auc": actual_window,
            "estimated_delay_rate": night.estimated_day["delay_rate"],
            "actual_delay_rate": float(frame["label"].mean()),
        }
        if index % window.inject_every == 0:
            for fault, faulty in injected_days(
                frame, flights_by_day[day], tables["weather"], reference, params
            ).items():
                faulty = faulty.copy()
                faulty[drift.SCORE_COLUMN] = model.predict_proba(
                    model_inputs(faulty, params.features)
                )[:, 1]
                faulty["version"] = "1"
                with_fault = {**scored, day: faulty}
                inputs = night_inputs(d, with_fault, labelled_on, reference, settings.rolling_days)
                judged = judge_night(inputs, reference, settings)
                row[f"inject:{fault}"] = caught_level(
                    fault,
                    judged.drifted,
                    judged.signals.out_of_range,
                    drift_level(judged.signals, settings.verdict),
                )
        days.append(row)
    return summarise(pd.DataFrame(days), reference, window)


def _spread(values: pd.Series) -> float:
    """Mean absolute deviation from the mean: the error of a constant guess at the mean."""
    return float((values - values.mean()).abs().mean())


def _alarm_share(levels: pd.Series) -> float:
    levels = levels.dropna()
    return float((levels != "ok").mean()) if len(levels) else float("nan")


def summarise(
    days: pd.DataFrame, reference: MonitoringReference, window: BacktestWindow
) -> dict[str, Any]:
    early = days[days["days_after_window"] <= window.early_days]
    injected = [c for c in days.columns if c.startswith("inject:")]
    signed = days["estimated_window_roc_auc"] - days["actual_window_roc_auc"]
    error = signed.abs()
    return {
        "window": {k: str(v) for k, v in window.__dict__.items()},
        "monitored_days": len(days),
        "holdout_roc_auc": reference.holdout["holdout_roc_auc"],
        "holdout_false_alarms": reference.false_alarms,
        "normal_day_alarm_rate": {
            f"first_{window.early_days}_days": _alarm_share(early["drift_level"]),
            "all_days": _alarm_share(days["drift_level"]),
        },
        "normal_day_act_rate": {
            f"first_{window.early_days}_days": float((early["drift_level"] == "act").mean()),
            "all_days": float((days["drift_level"] == "act").mean()),
        },
        "normal_day_drifted_columns": (
            days["drifted"].str.split(",").explode().replace("", None).dropna().value_counts()
        ).to_dict(),
        "normal_alarm_days": {
            r["date"]: r["drifted"] for r in days.to_dict("records") if r["drift_level"] != "ok"
        },
        "injected_alarm_rate": {c.removeprefix("inject:"): _alarm_share(days[c]) for c in injected},
        "injected_days": int(days[injected[0]].notna().sum()) if injected else 0,
        "estimate": {
            "mae_rolling_roc_auc": float(error.mean()),
            "mean_error_rolling_roc_auc": float(signed.mean()),  # > 0: the estimate is optimistic
            "mean_actual_rolling_roc_auc": float(days["actual_window_roc_auc"].mean()),
            "mae_delay_rate": float(
                (days["estimated_delay_rate"] - days["actual_delay_rate"]).abs().mean()
            ),
            # What knowing nothing gives: the truth's own mean, guessed every day.
            "mae_rolling_roc_auc_of_a_constant": _spread(days["actual_window_roc_auc"]),
            "mae_delay_rate_of_a_constant": _spread(days["actual_delay_rate"]),
        },
        "full_verdicts": days["verdict"].value_counts().to_dict(),
    }


def backtest_from_source(
    params: Params, landing_root: str, window: BacktestWindow
) -> dict[str, Any]:
    """Land the year from the upstream source into `landing_root`, then `run_backtest`."""
    from pipelines.data import landing, snapshot
    from pipelines.upstream import delivery

    delivery.land_days(
        landing_root, landing.days(window.train_start, window.monitor_end + timedelta(days=1))
    )
    tables = snapshot.collect_snapshot(landing_root, window.train_start, window.monitor_end)
    return run_backtest(params, tables, window)
