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

import multiprocessing
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.config import Params
from pipelines.parallel import process_pool
from pipelines.replay.deliveries import (
    LabelledDays,
    ReplayPlan,
    deliver_year,
    replay_params,
)
from pipelines.replay.nights import (
    PolicyState,
    RetrainingRecord,
    ServingModel,
    decide_candidate,
    replay_policy,
    retraining_record,
    serving_model,
    train_candidate,
)
from pipelines.training_window import first_model_window


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


def _first_model(
    params: Params, known: LabelledDays, day: date
) -> tuple[RetrainingRecord, ServingModel]:
    """The model every policy starts from, trained on the first weeks (no champion yet: the
    first-model checks of the rules apply; it serves whatever they say, and they are recorded)."""
    wall, cpu = time.perf_counter(), time.process_time()
    window = first_model_window(known_first_day(known), day, params.retraining)
    trained = train_candidate(params, known, window, day)
    decision = decide_candidate(params, trained, None, 1)
    record = retraining_record(
        "all", day, "the first model", 1, decision, trained.candidate, (wall, cpu)
    )
    return record, serving_model(trained, 1)


def known_first_day(known: LabelledDays) -> date:
    return date.fromisoformat(min(known.labelled))
