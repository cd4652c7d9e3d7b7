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
night of every month; `every_Nd` every N days; `guarded` retrains when `decide_retraining` says
so (the monitoring DAG's guard), `guarded_*` with a variant of it (`simulation.guard_variants`).
The candidate of a night depends on the night only, so the grid of every
`simulation.benefit_every_days`-th night is fitted once, up front, and shared: the periodic
policies decide on it, and after every policy has run, `benefit.py` scores it against each
policy's serving model on the next labelled days (the ground truth of "retraining helps").

Labels are handed out by the day they land: no model is trained, decided or monitored
on a label delivered after its decision time (`LabelLeak` otherwise; `tests/data/test_replay.py`).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.config import Params
from pipelines.parallel import process_pool
from pipelines.replay.benefit import Benefit, retraining_benefit
from pipelines.replay.deliveries import (
    LabelledDays,
    ReplayPlan,
    deliver_year,
    replay_params,
)
from pipelines.replay.nights import (
    SHADOW_EPISODE_COLUMNS,
    FittedNights,
    PolicyState,
    RetrainingRecord,
    ServingModel,
    Trained,
    decide_candidate,
    fit_night,
    periodic_days,
    replay_policy,
    retraining_record,
    serving_model,
    train_candidate,
)
from pipelines.training import train
from pipelines.training_window import first_model_window


@dataclass
class ReplayResult:
    plan: ReplayPlan
    states: dict[str, PolicyState]
    labels: pd.DataFrame  # flight_id, flight_date, label of every labelled flight
    first_model: RetrainingRecord
    seconds: float
    gate_seconds: float
    benefits: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    grid_seconds: float = 0.0  # fitting the shared grid of nights

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

    def shadow_episodes(self) -> pd.DataFrame:
        """Every challenger's shadow period: promoted, retired, superseded (`promotion.shadow`)."""
        return pd.DataFrame(
            [row for state in self.states.values() for row in state.shadow_episodes],
            columns=list(SHADOW_EPISODE_COLUMNS),
        )


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
            _DELIVERED["fitted"],
        )


def _cost_rank(policy: str) -> int:
    """Guards fit their own candidates, periodic policies take the grid's; frozen only scores."""
    if policy.startswith("guarded"):
        return 0
    if policy == "frozen":
        return 3
    every = periodic_days(policy)
    return 2 if every is not None and every >= 28 else 1


def _fit_in_worker(day: date) -> Trained:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return fit_night(_DELIVERED["params"], _DELIVERED["known"], day)


def grid_nights(plan: ReplayPlan, every_days: int) -> list[date]:
    """Every `every_days`-th night after the first scored day (the shared fits)."""
    count = (plan.end - plan.first_day).days // every_days
    return [plan.first_day + timedelta(days=every_days * k) for k in range(1, count + 1)]


def _forked(workers: int) -> bool:
    return workers > 1 and "fork" in multiprocessing.get_all_start_methods()


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
    grid_began = time.perf_counter()
    fitted = _fit_grid(params, plan, known, workers, progress)
    grid_seconds = time.perf_counter() - grid_began
    ordered = sorted(plan.policies, key=_cost_rank)  # the costly ones first
    if _forked(workers):
        _DELIVERED.update(params=params, plan=plan, known=known, first=first, fitted=fitted)
        try:
            with process_pool(min(workers, len(ordered))) as pool:
                done = dict(zip(ordered, pool.map(_replay_in_worker, ordered), strict=True))
        finally:
            _DELIVERED.clear()
    else:
        done = {n: replay_policy(params, plan, n, known, first, progress, fitted) for n in ordered}
    states = {name: done[name] for name in plan.policies}
    labels = pd.concat(known.labelled.values(), ignore_index=True).loc[
        :, ["flight_id", "flight_date", "label"]
    ]
    benefits = measure_benefits(params, plan, known, states, fitted)
    return ReplayResult(
        plan,
        states,
        labels,
        first_record,
        time.perf_counter() - began,
        gate_seconds,
        benefits,
        grid_seconds,
    )


def _fit_grid(
    params: Params,
    plan: ReplayPlan,
    known: LabelledDays,
    workers: int,
    progress: Callable[[str], None],
) -> FittedNights:
    """The shared candidates of the grid nights (see the module docstring)."""
    every = params.simulation.benefit_every_days
    horizon = timedelta(days=params.simulation.benefit_horizon_days)
    cadences = [c for c in map(periodic_days, plan.policies) if c is not None and c % every == 0]
    nights = [
        day
        for day in grid_nights(plan, every)
        if day + horizon <= plan.end  # its benefit can be measured
        or any((day - plan.first_day).days % c == 0 for c in cadences)  # a policy retrains
    ]
    if not nights:
        return {}
    progress(f"[replay] fitting the {len(nights)} grid nights ({nights[0]} … {nights[-1]})")
    if _forked(workers):
        _DELIVERED.update(params=params, known=known)
        try:
            with process_pool(min(workers, len(nights))) as pool:
                trained = list(pool.map(_fit_in_worker, nights))
        finally:
            _DELIVERED.clear()
    else:
        trained = [fit_night(params, known, day) for day in nights]
    return {day.isoformat(): t for day, t in zip(nights, trained, strict=True)}


def _next_labelled(
    known: LabelledDays, day: date, horizon_days: int
) -> tuple[pd.DataFrame, pd.Series] | None:
    """The features and labels of the `horizon_days` days after D (evaluation only)."""
    frames = []
    for offset in range(1, horizon_days + 1):
        key = (day + timedelta(days=offset)).isoformat()
        if key in known.features and key in known.labelled:
            labels = known.labelled[key].set_index("flight_id")["label"]
            frame = known.features[key].copy()
            frame["label"] = frame["flight_id"].map(labels).to_numpy()
            frames.append(frame.dropna(subset=["label"]))
    if len(frames) < horizon_days:
        return None  # the replay ends before the horizon: not measured
    joined = pd.concat(frames, ignore_index=True)
    return joined, joined["label"].astype(int)


def measure_benefits(
    params: Params,
    plan: ReplayPlan,
    known: LabelledDays,
    states: dict[str, PolicyState],
    fitted: FittedNights,
) -> pd.DataFrame:
    """Each grid night's candidate against each policy's model serving that night, on the
    next `benefit_horizon_days` labelled days (`benefit.py`): after the fact, report only."""
    horizon = params.simulation.benefit_horizon_days
    versions = {
        (row["policy"], row["date"]): int(row["version"])
        for state in states.values()
        for row in state.night_rows
    }
    rows: list[Benefit] = []
    for key, trained in sorted(fitted.items()):
        following = _next_labelled(known, date.fromisoformat(key), horizon)
        if following is None:
            continue
        frame, y = following
        candidate = train.predict_late_probability(trained.candidate.model, frame, params.features)
        scored: dict[int, Any] = {}
        for name, state in states.items():
            version = versions.get((name, key))
            if version is None:
                continue
            if version not in scored:
                scored[version] = train.predict_late_probability(
                    state.models[version], frame, params.features
                )
            serving = scored[version]
            rows.append(retraining_benefit(key, name, version, y.to_numpy(), candidate, serving))
    return pd.DataFrame([b.as_dict() for b in rows])


def _first_model(
    params: Params, known: LabelledDays, day: date
) -> tuple[RetrainingRecord, ServingModel]:
    """The model every policy starts from, trained on the first weeks (no champion yet: the
    first-model checks of the rules apply; it serves whatever they say, and they are recorded)."""
    wall, cpu = time.perf_counter(), time.process_time()
    window = first_model_window(known_first_day(known), day, params.retraining)
    trained = train_candidate(params, known, window, day)
    decision = decide_candidate(params, trained, None, 1).decision
    record = retraining_record(
        "all", day, "the first model", 1, decision, trained.candidate, (wall, cpu)
    )
    return record, serving_model(trained, 1)


def known_first_day(known: LabelledDays) -> date:
    return date.fromisoformat(min(known.labelled))
