"""Which nights each replayed policy retrains on, by its name and `simulation` settings."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

from pipelines.replay.deliveries import ReplayPlan
from pipelines.replay.loop import grid_nights
from pipelines.replay.nights import guard_policy, periodic_days
from tests.factories import repository_params

PARAMS = repository_params()
PLAN = ReplayPlan(start=date(2013, 1, 1), end=date(2013, 3, 31), first_model_days=28)


def test_periodic_policies_are_named_by_their_cadence():
    assert periodic_days("every_14d") == 14 and periodic_days("every_7d") == 7
    assert periodic_days("guarded") is None and periodic_days("scheduled") is None


def test_guard_variants_override_the_production_guard_and_nothing_else():
    params = dataclasses.replace(
        PARAMS,
        simulation=dataclasses.replace(
            PARAMS.simulation, guard_variants={"guarded_eager": {"cooldown_days": 7}}
        ),
    )
    assert guard_policy(params, "guarded") == params.retraining.guard
    eager = guard_policy(params, "guarded_eager")
    assert eager is not None and eager.cooldown_days == 7
    assert eager.act_nights == params.retraining.guard.act_nights
    assert guard_policy(params, "every_14d") is None


def test_the_grid_is_every_nth_night_after_the_first_scored_day():
    nights = grid_nights(PLAN, 7)
    assert nights[0] == PLAN.first_day + timedelta(days=7)
    assert all((b - a).days == 7 for a, b in zip(nights, nights[1:], strict=False))
    assert nights[-1] <= PLAN.end < nights[-1] + timedelta(days=7)
