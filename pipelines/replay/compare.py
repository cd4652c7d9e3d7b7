"""Does the loop run through Airflow give what the replay gives for the same days? (pure)

Both sides are reduced to the same three tables: the predictions (flight, day, probability,
serving version), the monitored nights (verdict, triggers) and the retrainings (the night they
were requested, promoted or not). `compare_loops` says where they differ, row by row."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipelines.promotion.rules import check_outcomes

PREDICTION_KEYS = ("flight_date", "flight_id")
#: A retraining on either side: the night requested, the candidate's holdout ROC AUC, every
#: check of its decision (`name=passed`) and whether it was promoted.
RETRAINING_KEYS = ("day", "promoted", "holdout_roc_auc", "checks")


@dataclass(frozen=True)
class LoopOutcome:
    predictions: pd.DataFrame  # flight_date, flight_id, probability, version
    nights: pd.DataFrame  # date, verdict, triggers (comma-joined, sorted)
    retrainings: pd.DataFrame  # day, promoted, holdout_roc_auc, checks


@dataclass(frozen=True)
class LoopComparison:
    days: int
    flights: int
    missing_flights: int  # scored on one side only
    max_probability_difference: float
    version_mismatches: int
    night_mismatches: list[dict[str, Any]] = field(default_factory=list)
    replay_retrainings: list[dict[str, Any]] = field(default_factory=list)
    airflow_retrainings: list[dict[str, Any]] = field(default_factory=list)
    tolerance: float = 1e-9

    @property
    def agrees(self) -> bool:
        return (
            self.missing_flights == 0
            and self.max_probability_difference <= self.tolerance
            and self.version_mismatches == 0
            and not self.night_mismatches
            and self.replay_retrainings == self.airflow_retrainings
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "agrees": self.agrees}


def triggers_key(triggers: Any) -> str:
    """One spelling of a night's triggers (a list, JSON text or comma-joined text)."""
    if isinstance(triggers, str):
        text = triggers.strip()
        if text.startswith("["):
            import json

            items = [str(t) for t in json.loads(text)]
        else:
            items = [t for t in text.split(",") if t]
    else:
        items = [str(t) for t in (triggers or [])]
    return ",".join(sorted(items))


def compare_loops(
    replay: LoopOutcome, airflow: LoopOutcome, tolerance: float = 1e-9
) -> LoopComparison:
    keys = list(PREDICTION_KEYS)
    joined = replay.predictions.merge(
        airflow.predictions, on=keys, how="outer", suffixes=("_replay", "_airflow"), indicator=True
    )
    both = joined.loc[joined["_merge"] == "both"]
    difference = (both["probability_replay"] - both["probability_airflow"]).abs()
    versions = both["version_replay"].astype(int) != both["version_airflow"].astype(int)
    nights = replay.nights.merge(
        airflow.nights, on="date", how="outer", suffixes=("_replay", "_airflow")
    )
    mismatched = nights.loc[
        (nights["verdict_replay"] != nights["verdict_airflow"])
        | (nights["triggers_replay"] != nights["triggers_airflow"])
    ]

    def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
        ordered = frame.loc[:, list(RETRAINING_KEYS)].sort_values("day")
        return [
            {
                "day": str(r.day),
                "promoted": bool(r.promoted),
                "holdout_roc_auc": round(float(r.holdout_roc_auc), 12),
                "checks": str(r.checks),
            }
            for r in ordered.itertuples()
        ]

    return LoopComparison(
        days=int(both["flight_date"].nunique()),
        flights=len(both),
        missing_flights=int((joined["_merge"] != "both").sum()),
        max_probability_difference=float(difference.max()) if len(both) else float(np.inf),
        version_mismatches=int(versions.sum()),
        night_mismatches=mismatched.astype(object)
        .where(mismatched.notna(), None)
        .to_dict("records"),
        replay_retrainings=records(replay.retrainings),
        airflow_retrainings=records(airflow.retrainings),
        tolerance=tolerance,
    )


def loop_outcome(
    predictions: pd.DataFrame,
    version_column: str,
    nights: pd.DataFrame,
    retrainings: list[dict[str, Any]],
) -> LoopOutcome:
    """Either side's tables in one spelling (`late_probability` and the version column of the
    predictions, the nights' `date`, `verdict`, `triggers`)."""
    return LoopOutcome(
        predictions=pd.DataFrame(
            {
                "flight_date": predictions["flight_date"].astype(str),
                "flight_id": predictions["flight_id"].astype(str),
                "probability": predictions["late_probability"].astype(float),
                "version": predictions[version_column].astype(int),
            }
        ),
        nights=pd.DataFrame(
            {
                "date": nights["date"].astype(str),
                "verdict": nights["verdict"].astype(str),
                "triggers": nights["triggers"].map(triggers_key),
            }
        ),
        retrainings=pd.DataFrame(retrainings, columns=list(RETRAINING_KEYS)),
    )


def replay_outcome(result: Any, policy: str) -> LoopOutcome:
    """One policy of a `ReplayResult` as the three tables."""
    state = result.states[policy]
    return loop_outcome(
        pd.concat(state.predictions, ignore_index=True),
        "version",
        pd.DataFrame(state.night_rows),
        [
            {
                "day": r.day,
                "promoted": r.promoted,
                "holdout_roc_auc": r.holdout_roc_auc,
                "checks": r.checks,
            }
            for r in state.retrainings
        ],
    )


def _decision_record(client: Any, run_id: str) -> dict[str, Any]:
    import json
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as scratch:
        path = client.download_artifacts(run_id, "decision/decision.json", scratch)
        return dict(json.loads(Path(path).read_text()))


def workspace_outcome(params: Any, days: list[Any]) -> LoopOutcome:
    """What the DAGs left for `days`: the published predictions, the monitoring history and
    the registered versions a `retraining_requested` event trained (side effects: reads)."""
    from pipelines import registry
    from pipelines.monitoring.history import read_history
    from pipelines.scoring.publish import read_published

    columns = ["flight_date", "flight_id", "late_probability", "model_version"]
    frames = []
    for day in days:
        frame = read_published(params, day, columns)
        if frame is None:
            raise FileNotFoundError(
                f"no published predictions for {day}: the DAGs did not score it"
            )
        frames.append(frame)
    history = read_history(params.workspace_path(params.monitoring.reports_dir))
    history = history.loc[history["date"].astype(str).isin([d.isoformat() for d in days])]
    client = registry.client(params.mlflow)
    versions = client.search_model_versions(f"name = '{params.mlflow.registered_model}'")
    retrained = []
    for v in versions:
        if not v.tags.get("retraining.day"):
            continue
        decision = _decision_record(client, v.run_id)
        retrained.append(
            {
                "day": v.tags["retraining.day"],
                # passed the offline decision (then served, or went into shadow)
                "promoted": bool(decision["decision"]["promote"]),
                "holdout_roc_auc": client.get_run(v.run_id).data.metrics["holdout_roc_auc"],
                "checks": check_outcomes(decision["decision"]["checks"]),
            }
        )
    return loop_outcome(pd.concat(frames, ignore_index=True), "model_version", history, retrained)
