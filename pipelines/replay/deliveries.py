"""The year as the replay receives it: each day's upstream delivery landed and gated in order,
and the label clock (the day each day's outcomes landed), which every policy reads through."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from features.build import attach_labels, build_features
from pipelines.config import SIMULATED_POLICIES, Params
from pipelines.data import landing
from pipelines.gate.quarantine import gate_landed_batch
from pipelines.gate.report import DataGateError
from pipelines.training_window import TrainingWindow
from pipelines.upstream import delivery, sources

POLICIES = SIMULATED_POLICIES


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


class LabelLeak(AssertionError):
    """A model was about to see a label that had not landed at its decision time."""


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
