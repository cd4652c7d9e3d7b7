"""2013 replayed day by day under three retraining policies (`mlops simulate`).

Each day D, in the order production runs it:
1. the upstream delivery of D lands (D's scheduled flights, D-1's outcomes) and both batches go
   through the Great Expectations gate (`gate_landed_batch`, as the ingestion DAG);
2. D's features are built from the validated partition (`features.build`, as scoring) and each
   policy's serving model scores them, through the serving guard (`check_probabilities`);
3. D-1's outcomes become labels (`attach_labels`) and each policy monitors night D with the
   monitoring DAG's step (`monitoring.judge.judge_night`, its inputs from frames: drift against
   the serving model's reference, the CBPE estimate, the delayed labels of the days before D on
   the serving version's own scores, the verdict);
4. a policy that retrains tonight fits with the training DAG's step on the moving window ending
   D-1 (`moving_window`, `training.fit_candidate`, the reference `reference_of`) and decides with
   its promotion step (`promotion.compare.compare`); a promoted model serves from D+1.

The replay defines no step of its own: it only hands frames in memory to the stage functions
(`tests/data/test_one_code_path.py` holds it to that).

Policies, from the same first model: `frozen` never retrains; `scheduled` retrains on the first
night of every month; `guarded` retrains when `decide_retraining` says so (the monitoring DAG's
guard). Labels are handed out by the day they land: no model is trained, decided or monitored
on a label delivered after its decision time (`LabelLeak` otherwise; `tests/data/test_replay.py`).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.build import attach_labels, build_features
from pipelines.config import Params
from pipelines.data import landing
from pipelines.gate.quarantine import gate_landed_batch
from pipelines.gate.validation import DataGateError
from pipelines.monitoring.drift import SCORE_COLUMN
from pipelines.monitoring.frames import judge_frames
from pipelines.monitoring.reference import MonitoringReference, reference_of_candidate
from pipelines.parallel import process_pool
from pipelines.promotion import rules
from pipelines.promotion.compare import Contender, compare
from pipelines.retraining.guard import GuardInputs, NightVerdict, decide_retraining
from pipelines.scoring.rows import check_probabilities
from pipelines.training import train
from pipelines.training.candidate import Candidate, fit_candidate
from pipelines.training_window import TrainingWindow, first_model_window, moving_window
from pipelines.upstream import delivery, sources

POLICIES = ("frozen", "scheduled", "guarded")
KEPT_COLUMNS = ("flight_date", "flight_id", "origin", "carrier", "dest", "dep_hour")


class LabelLeak(AssertionError):
    """A model was about to see a label that had not landed at its decision time."""


@dataclass(frozen=True)
class ReplayPlan:
    start: date
    end: date
    first_model_days: int
    policies: tuple[str, ...] = POLICIES

    @property
    def first_day(self) -> date:
        """The first scored day: the first model trains on the night before it is needed."""
        return self.start + timedelta(days=self.first_model_days)


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
    promoted: bool
    decision: str
    train_start: str
    train_end: str
    holdout_end: str
    max_label_day: str
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


@dataclass
class LabelledDays:
    """Feature rows per day, labelled once their outcomes have landed (and only then)."""

    features: dict[str, pd.DataFrame] = field(default_factory=dict)
    labelled: dict[str, pd.DataFrame] = field(default_factory=dict)
    landed_on: dict[str, date] = field(default_factory=dict)

    def window(self, window: TrainingWindow, decision_day: date) -> pd.DataFrame:
        """Every scheduled flight of the window's days whose labels have landed by
        `decision_day` (unlabelled ones, cancelled or diverted, keep a missing label)."""
        frames = []
        for offset in range((window.end - window.train_start).days + 1):
            key = (window.train_start + timedelta(days=offset)).isoformat()
            if key not in self.labelled:
                continue
            if self.landed_on[key] > decision_day:
                raise LabelLeak(
                    f"labels of {key} landed on {self.landed_on[key]}, after {decision_day}"
                )
            frames.append(self.labelled[key])
        if not frames:
            raise ValueError(f"no labelled day inside {window}")
        return pd.concat(frames, ignore_index=True)


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
) -> rules.Decision:
    """The training DAG's decision (`promotion.compare`), on the models in memory."""
    candidate = trained.candidate
    challenger = Contender(str(version), candidate.model, candidate.train_end)
    serving = (
        Contender(str(champion.version), champion.model, champion.train_end.isoformat())
        if champion is not None
        else None
    )
    return compare(challenger, serving, candidate.split, params).decision


def _serving(trained: Trained, version: int) -> ServingModel:
    candidate = trained.candidate
    return ServingModel(
        version,
        candidate.model,
        trained.reference,
        candidate.window,
        date.fromisoformat(candidate.train_end),
    )


def retrain(
    params: Params, state: PolicyState, known: LabelledDays, day: date, reason: str
) -> RetrainingRecord:
    """Train on the window ending D-1, decide, promote when every check passes."""
    wall, cpu = time.perf_counter(), time.process_time()
    window = moving_window(day, params.retraining)
    trained = train_candidate(params, known, window, day)
    version = state.versions + 1
    decision = decide_candidate(params, trained, state.serving, version)
    state.versions = version
    state.last_retraining = day
    state.last_training_end = trained.candidate.window.end
    if decision.promote:
        state.serving = _serving(trained, version)
    record = _record(state.name, day, reason, version, decision, trained.candidate, (wall, cpu))
    state.retrainings.append(record)
    return record


def _record(
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
        cpu_seconds=time.process_time() - started[1],
        wall_seconds=time.perf_counter() - started[0],
    )


def new_labelled_flights(known: LabelledDays, after: date | None, day: date) -> int:
    return sum(
        int(frame["label"].notna().sum())
        for key, frame in known.labelled.items()
        if (after is None or key > after.isoformat()) and known.landed_on[key] <= day
    )


def retraining_reason(
    params: Params, state: PolicyState, known: LabelledDays, day: date, plan: ReplayPlan
) -> str | None:
    """Why this policy retrains tonight, or None."""
    if state.name == "scheduled":
        return "monthly schedule" if day.day == 1 and day > plan.first_day else None
    if state.name != "guarded":
        return None
    inputs = GuardInputs(
        day=day,
        nights=tuple(state.nights),
        last_retraining=state.last_retraining,
        last_training_end=state.last_training_end,
        new_labelled_flights=new_labelled_flights(known, state.last_training_end, day),
        training_active=False,  # the replay runs one thing at a time
    )
    decision = decide_retraining(inputs, params.retraining.guard)
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
    night = judge_frames(
        day, state.scored, known.landed_on, state.serving.reference, params.monitoring
    )
    state.nights.append(NightVerdict(day, night.verdict.level, night.verdict.triggers))
    observed = night.observed
    state.night_rows.append(
        {
            "date": day.isoformat(),
            "policy": state.name,
            "version": state.serving.version,
            "judged_since": night.judged_since.isoformat(),
            "rows": night.signals.rows,
            "verdict": night.verdict.level,
            "triggers": ",".join(night.verdict.triggers),
            "drift_share": night.drift_share,
            "drifted": ",".join(night.drifted),
            "estimated_window_roc_auc": night.estimated_window.get("roc_auc"),
            "observed_window_roc_auc": observed.roc_auc if observed else None,
            "labels_missing": ",".join(night.labels_missing),
            "guard": "",
        }
    )


class DayStream:
    """The upstream delivery of each day landed, gated and turned into features, in order."""

    def __init__(self, params: Params):
        self.params = params
        self.source = sources.source_flights()
        delivery.land_reference_tables(params.landing_root)
        self.weather = landing.read_reference(params.landing_root, "weather")
        self.held: list[str] = []

    def deliver(self, day: date) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        """D's features (None if no flights) and D-1's validated outcomes (None if none)."""
        delivered = delivery.land_day(self.params.landing_root, day, self.source)
        features = outcomes = None
        if delivered.flights_rows:
            flights = self._validated("scheduled_flights", day)
            if flights is not None:
                features = build_features(flights, self.weather, self.params.features)
        if delivered.outcomes_rows:
            outcomes = self._validated("outcomes", day - timedelta(days=1))
        return features, outcomes

    def _validated(self, contract: str, day: date) -> pd.DataFrame | None:
        """The gated batch, or None when the gate holds it (quarantined, as ingestion does:
        the day is not scored, or its labels never arrive)."""
        try:
            report = gate_landed_batch(self.params, contract, day)
        except DataGateError as held:
            self.held.append(f"{contract} {day}: {held}")
            return None
        return pd.read_parquet(report.validated_path)


def replay_params(params: Params, workspace: Path) -> Params:
    """The replay's scratch workspace: its own landing, validated and quarantine folders."""
    search = dataclasses.replace(params.train.search, enabled=params.simulation.search)
    return dataclasses.replace(
        params,
        train=dataclasses.replace(params.train, search=search),
        workspace=workspace,
        data=dataclasses.replace(params.data, landing_root="landing"),
        gate=dataclasses.replace(
            params.gate,
            validated_root="validated",
            quarantine_root="quarantine",
            validations_dir="validations",
            build_data_docs=False,
        ),
    )


@dataclass
class ReplayResult:
    plan: ReplayPlan
    states: dict[str, PolicyState]
    labels: pd.DataFrame  # flight_id, flight_date, label of every labelled flight
    first_model: RetrainingRecord
    seconds: float
    gate_seconds: float

    def predictions(self) -> pd.DataFrame:
        frames = []
        for name, state in self.states.items():
            if state.predictions:
                frame = pd.concat(state.predictions, ignore_index=True)
                frame["policy"] = name
                frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def nights(self) -> pd.DataFrame:
        return pd.DataFrame([row for state in self.states.values() for row in state.night_rows])

    def retrainings(self) -> list[RetrainingRecord]:
        return [record for state in self.states.values() for record in state.retrainings]


def deliver_year(
    params: Params, plan: ReplayPlan, progress: Callable[[str], None]
) -> tuple[LabelledDays, float]:
    """Every day's delivery landed and gated in order; each day's outcomes become labels
    stamped with the day they landed (the label clock every policy reads through)."""
    stream = DayStream(params)
    known = LabelledDays()
    began = time.perf_counter()
    for day in landing.days(plan.start, plan.end):
        features, outcomes = stream.deliver(day)
        yesterday = (day - timedelta(days=1)).isoformat()
        if outcomes is not None and yesterday in known.features:
            known.labelled[yesterday] = attach_labels(
                known.features[yesterday], outcomes, params.features
            )
            known.landed_on[yesterday] = day
        if features is not None:
            known.features[day.isoformat()] = features
        if day.day == 1 or day == plan.end:
            progress(f"[replay] landed and gated up to {day} ({time.perf_counter() - began:.0f} s)")
    for held in stream.held:
        progress(f"[replay] held by the gate (not scored / not labelled): {held[:300]}")
    return known, time.perf_counter() - began


def replay_policy(
    params: Params,
    plan: ReplayPlan,
    name: str,
    known: LabelledDays,
    first: ServingModel,
    progress: Callable[[str], None],
) -> PolicyState:
    """One policy over the scored days, night by night (see the module docstring)."""
    state = PolicyState(
        name, first, last_retraining=plan.first_day, last_training_end=first.window.end
    )
    began = time.perf_counter()
    for day in landing.days(plan.first_day, plan.end):
        yesterday = (day - timedelta(days=1)).isoformat()
        if yesterday in state.scored and known.landed_on.get(yesterday) == day:
            labels = known.labelled[yesterday].set_index("flight_id")["label"]
            frame = state.scored[yesterday]
            frame["label"] = frame["flight_id"].map(labels).to_numpy()
        features = known.features.get(day.isoformat())
        if features is not None:
            scored = predict_day(state, features, params)
            state.scored[day.isoformat()] = scored
            _forget_old(state, day, params.monitoring.rolling_days)
            kept = scored.loc[:, [*KEPT_COLUMNS, SCORE_COLUMN]].copy()
            kept["version"] = state.serving.version
            state.predictions.append(kept)
            monitor_night(state, day, params, known)
            reason = retraining_reason(params, state, known, day, plan)
            if reason:
                record = retrain(params, state, known, day, reason)
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


#: The delivered year, inherited by forked policy workers (never pickled to them).
_DELIVERED: dict[str, Any] = {}


def _replay_in_worker(name: str) -> PolicyState:
    """A policy in a forked worker: one OpenMP thread each (two workers on two cores; GNU
    OpenMP used in the parent before the fork would hang a multi-threaded child)."""
    from threadpoolctl import threadpool_limits

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with threadpool_limits(1):
        return replay_policy(
            _DELIVERED["params"],
            _DELIVERED["plan"],
            name,
            _DELIVERED["known"],
            _DELIVERED["first"],
            progress,
        )


def run_replay(
    params: Params,
    plan: ReplayPlan,
    workspace: Path,
    progress: Callable[[str], None] = print,
    workers: int = 2,
) -> ReplayResult:
    """Replay `plan.start`..`plan.end` (see the module docstring) in a scratch `workspace`: the
    deliveries first (land, gate, features, labels with the day they landed), then the first
    model, then each policy night by night (in `workers` processes: they are independent)."""
    params = replay_params(params, workspace)
    began = time.perf_counter()
    known, gate_seconds = deliver_year(params, plan, progress)
    if plan.first_day > plan.end or plan.first_day.isoformat() not in known.features:
        raise ValueError(f"the replay ends before its first scored day {plan.first_day}")
    first_record, first = _first_model(params, known, plan.first_day)
    progress(f"[replay] first model: {first_record.decision}")
    ordered = sorted(plan.policies, key=lambda n: n == "frozen")  # the costly ones first
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        _DELIVERED.update(params=params, plan=plan, known=known, first=first)
        try:
            with process_pool(min(workers, len(ordered))) as pool:
                done = dict(zip(ordered, pool.map(_replay_in_worker, ordered), strict=True))
        finally:
            _DELIVERED.clear()
    else:
        done = {n: replay_policy(params, plan, n, known, first, progress) for n in ordered}
    states = {name: done[name] for name in plan.policies}
    labels = pd.concat(known.labelled.values(), ignore_index=True).loc[
        :, ["flight_id", "flight_date", "label"]
    ]
    return ReplayResult(
        plan, states, labels, first_record, time.perf_counter() - began, gate_seconds
    )


def _forget_old(state: PolicyState, day: date, rolling_days: int) -> None:
    oldest = (day - timedelta(days=rolling_days + 1)).isoformat()
    for key in [k for k in state.scored if k < oldest]:
        del state.scored[key]


def _first_model(
    params: Params, known: LabelledDays, day: date
) -> tuple[RetrainingRecord, ServingModel]:
    """The model every policy starts from, trained on the first weeks (no champion yet: the
    first-model checks of the rules apply; it serves whatever they say, and they are recorded)."""
    wall, cpu = time.perf_counter(), time.process_time()
    window = first_model_window(known_first_day(known), day, params.retraining)
    trained = train_candidate(params, known, window, day)
    decision = decide_candidate(params, trained, None, 1)
    record = _record("all", day, "the first model", 1, decision, trained.candidate, (wall, cpu))
    return record, _serving(trained, 1)


def known_first_day(known: LabelledDays) -> date:
    return date.fromisoformat(min(known.labelled))
