"""One policy replayed night by night: score, monitor, guard, retrain, decide, each with the step
function the DAGs call (`judge_night`, `decide_retraining`, `fit_candidate`, `compare`); this
module only holds the policy's state in memory between them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import GuardPolicy, Params
from pipelines.data import landing
from pipelines.monitoring.drift import SCORE_COLUMN
from pipelines.monitoring.frames import night_inputs
from pipelines.monitoring.judge import judge_night, signals_record
from pipelines.monitoring.reference import MonitoringReference, reference_of_candidate
from pipelines.progress import track
from pipelines.promotion import rules
from pipelines.promotion.compare import Contender, HoldoutComparison, compare
from pipelines.promotion.shadow import (
    PROMOTE,
    SHADOW_COLUMNS,
    WAIT,
    ShadowVerdict,
    decide_shadow,
    holdout_rows,
)
from pipelines.replay.deliveries import LabelLeak, LabelledDays, ReplayPlan
from pipelines.retraining.guard import GuardInputs, NightVerdict, decide_retraining
from pipelines.scoring.rows import check_probabilities
from pipelines.training import train
from pipelines.training.candidate import Candidate, fit_candidate
from pipelines.training_window import TrainingWindow, moving_window

KEPT_COLUMNS = ("flight_date", "flight_id", "origin", "carrier", "dest", "dep_hour")
SHADOW_EPISODE_COLUMNS = (
    "policy",
    "version",
    "passed_offline",
    "ended",
    "action",
    "labelled_nights",
    "rows",
    "roc_auc_difference",
    "roc_auc_low",
    "roc_auc_high",
    "why",
)


@dataclass(frozen=True)
class ServingModel:
    version: int
    model: Any
    reference: MonitoringReference
    window: TrainingWindow
    train_end: date  # the newest day it was fit on (its holdout came after)


@dataclass(frozen=True)
class Trained:
    """A candidate fitted tonight (`training.fit_candidate`) with its monitoring reference."""

    candidate: Candidate
    reference: MonitoringReference


@dataclass(frozen=True)
class RetrainingRecord:
    policy: str
    day: str  # the night it was decided (it serves from the next day if promoted)
    reason: str
    version: int
    promoted: bool  # passed the offline decision (served at once, or went into shadow)
    decision: str
    train_start: str
    train_end: str
    holdout_end: str
    max_label_day: str
    holdout_roc_auc: float  # the candidate's, on its whole holdout (the MLflow run's metric)
    checks: str  # every check of the decision, `name=passed` (what the decision record lists)
    cpu_seconds: float
    wall_seconds: float


@dataclass
class PolicyState:
    name: str
    serving: ServingModel
    versions: int = 1
    nights: list[NightVerdict] = field(default_factory=list)
    last_retraining: date | None = None
    last_training_end: date | None = None
    scored: dict[str, pd.DataFrame] = field(default_factory=dict)  # the monitoring window
    predictions: list[pd.DataFrame] = field(default_factory=list)
    night_rows: list[dict[str, Any]] = field(default_factory=list)
    retrainings: list[RetrainingRecord] = field(default_factory=list)
    models: dict[int, Any] = field(default_factory=dict)  # every version it served (benefit)
    challenger: Challenger | None = None  # in its shadow period (`promotion.shadow`)
    shadow_episodes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Challenger:
    """A candidate that passed offline, scoring in shadow beside the serving model."""

    model: ServingModel
    since: date  # the night it passed offline
    holdout: pd.DataFrame  # both models' scores of the offline holdout (pooled small slices)
    nights: dict[str, pd.DataFrame] = field(default_factory=dict)  # its shadow rows by day


#: Candidates already fitted for a night (`fit_candidate` depends on the night only, never on
#: the policy): the replay fits the grid of nights once and every policy retraining on one of
#: them decides on the same candidate, as it would have fitted it.
FittedNights = dict[str, "Trained"]


def train_candidate(
    params: Params, known: LabelledDays, window: TrainingWindow, decision_day: date
) -> Trained:
    """The training DAG's step on the moving window, in memory: `fit_candidate`, then the
    reference `reference_for_run` builds at night (`reference_of`)."""
    data = known.window(window, decision_day)
    candidate = fit_candidate(data, window, params)
    if candidate.max_label_day >= decision_day:
        raise LabelLeak(
            f"trained or judged on labels of {candidate.max_label_day} on {decision_day}"
        )
    return Trained(candidate, reference_of_candidate(candidate, data, params))


def decide_candidate(
    params: Params, trained: Trained, champion: ServingModel | None, version: int
) -> HoldoutComparison:
    """The training DAG's decision (`promotion.compare`), on the models in memory."""
    candidate = trained.candidate
    challenger = Contender(str(version), candidate.model, candidate.train_end)
    serving = (
        Contender(str(champion.version), champion.model, champion.train_end.isoformat())
        if champion is not None
        else None
    )
    return compare(challenger, serving, candidate.split, params)


def serving_model(trained: Trained, version: int) -> ServingModel:
    candidate = trained.candidate
    return ServingModel(
        version,
        candidate.model,
        trained.reference,
        candidate.window,
        date.fromisoformat(candidate.train_end),
    )


def retrain(
    params: Params,
    state: PolicyState,
    known: LabelledDays,
    day: date,
    reason: str,
    fitted: FittedNights | None = None,
) -> RetrainingRecord:
    """Train on the window ending D-1 (or take the night's candidate already fitted), decide,
    promote when every check passes."""
    wall, cpu = time.perf_counter(), time.process_time()
    trained = (fitted or {}).get(day.isoformat()) or fit_night(params, known, day)
    version = state.versions + 1
    compared = decide_candidate(params, trained, state.serving, version)
    decision = compared.decision
    state.versions = version
    state.last_retraining = day
    state.last_training_end = trained.candidate.window.end
    if decision.promote and params.promotion.shadow.min_nights > 0:
        if state.challenger is not None:
            _end_shadow(
                state, state.challenger, day, "superseded", f"v{version} passed offline", None
            )
        holdout = holdout_rows(compared.holdout, compared.y, compared.scores)
        state.challenger = Challenger(serving_model(trained, version), day, holdout)
    elif decision.promote:
        state.serving = serving_model(trained, version)
        state.models[version] = trained.candidate.model
    record = retraining_record(
        state.name, day, reason, version, decision, trained.candidate, (wall, cpu)
    )
    state.retrainings.append(record)
    return record


def fit_night(params: Params, known: LabelledDays, day: date) -> Trained:
    """The candidate a retraining decided on night D fits: the moving window ending D-1."""
    return train_candidate(params, known, moving_window(day, params.retraining), day)


def retraining_record(
    policy: str,
    day: date,
    reason: str,
    version: int,
    decision: rules.Decision,
    candidate: Candidate,
    started: tuple[float, float],  # perf_counter, process_time
) -> RetrainingRecord:
    return RetrainingRecord(
        policy=policy,
        day=day.isoformat(),
        reason=reason,
        version=version,
        promoted=decision.promote,
        decision=decision.summary,
        train_start=candidate.split.train_dates[0],
        train_end=candidate.split.train_dates[1],
        holdout_end=candidate.split.holdout_dates[1],
        max_label_day=candidate.max_label_day.isoformat(),
        holdout_roc_auc=candidate.metrics["holdout_roc_auc"],
        checks=rules.check_outcomes(decision.checks),
        cpu_seconds=time.process_time() - started[1],
        wall_seconds=time.perf_counter() - started[0],
    )


def new_labelled_flights(known: LabelledDays, after: date | None, day: date) -> int:
    return sum(
        int(frame["label"].notna().sum())
        for key, frame in known.labelled.items()
        if (after is None or key > after.isoformat()) and known.landed_on[key] <= day
    )


def periodic_days(policy: str) -> int | None:
    """`every_14d` → 14: a periodic policy retrains every that many days from the first day."""
    if policy.startswith("every_") and policy.endswith("d"):
        return int(policy.removeprefix("every_").removesuffix("d"))
    return None


def guard_policy(params: Params, policy: str) -> GuardPolicy | None:
    """The guard a `guarded*` policy runs: the production one, or a variant's overrides."""
    if policy == "guarded":
        return params.retraining.guard
    variant = params.simulation.guard_variants.get(policy)
    return replace(params.retraining.guard, **variant) if variant is not None else None


def retraining_reason(
    params: Params, state: PolicyState, known: LabelledDays, day: date, plan: ReplayPlan
) -> str | None:
    """Why this policy retrains tonight, or None."""
    if state.name == "scheduled":
        return "monthly schedule" if day.day == 1 and day > plan.first_day else None
    every = periodic_days(state.name)
    if every is not None:
        elapsed = (day - plan.first_day).days
        return f"every {every} days" if elapsed > 0 and elapsed % every == 0 else None
    guard = guard_policy(params, state.name)
    if guard is None:
        return None
    inputs = GuardInputs(
        day=day,
        nights=tuple(state.nights),
        last_retraining=state.last_retraining,
        last_training_end=state.last_training_end,
        new_labelled_flights=new_labelled_flights(known, state.last_training_end, day),
        training_active=False,  # the replay runs one thing at a time
        challenger_in_shadow=str(state.challenger.model.version) if state.challenger else None,
    )
    decision = decide_retraining(inputs, guard)
    state.night_rows[-1]["guard"] = "; ".join(decision.reasons)
    return decision.event_extra()["reason"] if decision.request else None


def predict_day(state: PolicyState, features: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The serving model's scores of D in memory, through the serving guard (production's
    `scoring.day.score_day` reads and publishes partitions)."""
    probability = train.predict_late_probability(state.serving.model, features, params.features)
    check_probabilities(features["flight_id"].to_numpy(), probability)
    scored = features.copy()
    scored[SCORE_COLUMN] = probability
    scored["label"] = np.nan  # D's outcomes land tomorrow
    scored["version"] = str(state.serving.version)
    return scored


def shadow_day(state: PolicyState, scored: pd.DataFrame, params: Params) -> None:
    """The challenger's scores of D beside the serving model's (batch shadow scoring)."""
    if state.challenger is None:
        return
    probability = train.predict_late_probability(
        state.challenger.model.model, scored, params.features
    )
    check_probabilities(scored["flight_id"].to_numpy(), probability)
    rows = scored.loc[:, ["flight_id", "flight_date", "origin", "carrier", "dest", "dep_hour"]]
    rows = rows.assign(label=np.nan, champion=scored[SCORE_COLUMN], challenger=probability)
    state.challenger.nights[str(scored["flight_date"].iloc[0])] = rows.loc[:, list(SHADOW_COLUMNS)]


def judge_shadow(state: PolicyState, day: date, params: Params) -> ShadowVerdict | None:
    """The monitoring DAG's `judge_challenger` on the labelled shadow nights (at most
    `max_nights`, oldest first, as `shadow_period.shadow_rows`), then acting on it."""
    challenger = state.challenger
    if challenger is None:
        return None
    labelled = [
        frame for _, frame in sorted(challenger.nights.items()) if frame["label"].notna().any()
    ][: params.promotion.shadow.max_nights]
    rows = (
        pd.concat(labelled, ignore_index=True)
        if labelled
        else pd.DataFrame(columns=list(SHADOW_COLUMNS))
    )
    verdict = decide_shadow(
        rows,
        challenger.holdout,
        str(challenger.model.version),
        str(state.serving.version),
        params.promotion,
    )
    if verdict.action == WAIT:
        return verdict
    if verdict.action == PROMOTE:
        state.serving = challenger.model
        state.models[challenger.model.version] = challenger.model.model
    _end_shadow(state, challenger, day, verdict.action, verdict.why, verdict)
    return verdict


def _end_shadow(
    state: PolicyState,
    challenger: Challenger,
    day: date,
    action: str,
    why: str,
    verdict: ShadowVerdict | None,
) -> None:
    """The episode as the report reads it: how long, and the challenger against the serving
    model on its labelled shadow nights (what promoting it at once would have changed)."""
    interval = verdict.checks[0].numbers["interval"] if verdict and verdict.checks else {}
    state.shadow_episodes.append(
        {
            "policy": state.name,
            "version": challenger.model.version,
            "passed_offline": challenger.since.isoformat(),
            "ended": day.isoformat(),
            "action": action,
            "labelled_nights": len(verdict.nights) if verdict else 0,
            "rows": verdict.rows if verdict else 0,
            "roc_auc_difference": interval.get("estimate"),
            "roc_auc_low": interval.get("low"),
            "roc_auc_high": interval.get("high"),
            "why": why,
        }
    )
    state.challenger = None


def check_label_clock(scored: dict[str, pd.DataFrame], day: date, known: LabelledDays) -> None:
    """Night D may see the labels of days whose outcomes have landed by D, never D's own."""
    for key, frame in scored.items():
        if not frame["label"].notna().any():
            continue
        if key >= day.isoformat() or known.landed_on.get(key, date.max) > day:
            raise LabelLeak(
                f"night {day} would see labels of {key} (landed {known.landed_on.get(key)})"
            )


def monitor_night(state: PolicyState, day: date, params: Params, known: LabelledDays) -> None:
    """The monitoring DAG's step (`judge_night`) on the policy's scored frames."""
    check_label_clock(state.scored, day, known)
    reference = state.serving.reference
    inputs = night_inputs(
        day, state.scored, known.landed_on, reference, params.monitoring.rolling_days
    )
    night = judge_night(inputs, reference, params.monitoring)
    state.nights.append(NightVerdict(day, night.verdict.level, night.verdict.triggers))
    margins = params.simulation.threshold_candidates["out_of_range_margin"]
    state.night_rows.append(
        {
            "date": day.isoformat(),
            "policy": state.name,
            "version": state.serving.version,
            "verdict": night.verdict.level,
            "triggers": ",".join(night.verdict.triggers),
            "drift_share": night.drift_share,
            "drifted": ",".join(night.drifted),
            "guard": "",
            # what deciding the night again under other thresholds needs (`thresholds.py`)
            **signals_record(night, inputs.current, reference, margins),
        }
    )


def _forget_old(state: PolicyState, day: date, rolling_days: int) -> None:
    oldest = (day - timedelta(days=rolling_days + 1)).isoformat()
    for key in [k for k in state.scored if k < oldest]:
        del state.scored[key]


def replay_policy(
    params: Params,
    plan: ReplayPlan,
    name: str,
    known: LabelledDays,
    first: ServingModel,
    progress: Callable[[str], None],
    fitted: FittedNights | None = None,
) -> PolicyState:
    """One policy over the scored days, night by night (see the module docstring)."""
    state = PolicyState(
        name, first, last_retraining=plan.first_day, last_training_end=first.window.end
    )
    state.models[first.version] = first.model
    began = time.perf_counter()
    days = landing.days(plan.first_day, plan.end)
    for day in track(days, f"replay: {name}", len(days)):
        yesterday = (day - timedelta(days=1)).isoformat()
        if yesterday in state.scored and known.landed_on.get(yesterday) == day:
            labels = known.labelled[yesterday].set_index("flight_id")["label"]
            frame = state.scored[yesterday]
            frame["label"] = frame["flight_id"].map(labels).to_numpy()
            if state.challenger is not None and yesterday in state.challenger.nights:
                shadow = state.challenger.nights[yesterday]
                shadow["label"] = shadow["flight_id"].map(labels).to_numpy()
        features = known.features.get(day.isoformat())
        if features is not None:
            scored = predict_day(state, features, params)
            shadow_day(state, scored, params)
            state.scored[day.isoformat()] = scored
            _forget_old(state, day, params.monitoring.rolling_days)
            kept = scored.loc[:, [*KEPT_COLUMNS, SCORE_COLUMN]].copy()
            kept["version"] = state.serving.version
            state.predictions.append(kept)
            monitor_night(state, day, params, known)
            judged = judge_shadow(state, day, params)
            if judged is not None and judged.action != WAIT:
                progress(f"[replay] {day} {name}: {judged.summary}")
            reason = retraining_reason(params, state, known, day, plan)
            if reason:
                record = retrain(params, state, known, day, reason, fitted)
                verdict = "promoted" if record.promoted else "rejected"
                progress(
                    f"[replay] {day} {name}: retrained v{record.version} ({verdict}, "
                    f"{record.cpu_seconds:.0f} CPU-s): {reason}"
                )
        if day.day == 15 or day == plan.end:
            progress(
                f"[replay] {name} at {day}: serving v{state.serving.version}, "
                f"{len(state.retrainings)} retrainings ({time.perf_counter() - began:.0f} s)"
            )
    return state
