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


def _shadowed_state(challenger_better: bool, labelled_nights: int, holdout_nights: int = 0):  # type: ignore[no-untyped-def]
    """A policy serving v1 with v2 in shadow since 2013-03-01, its nights labelled."""
    from pipelines.replay.nights import Challenger, PolicyState, ServingModel
    from tests.unit.pipelines.test_shadow_rule import _nights

    rows = _nights(4, 2.0, 0.3) if challenger_better else _nights(4, 0.3, 2.0)
    rows["flight_date"] = rows["flight_date"].str.replace("2013-07", "2013-03")
    first_unlabelled = f"2013-03-{labelled_nights + 1:02d}"
    rows.loc[rows["flight_date"] >= first_unlabelled, "label"] = float("nan")
    serving = ServingModel(1, "model-1", None, None, date(2013, 2, 1))  # type: ignore[arg-type]
    shadow = ServingModel(2, "model-2", None, None, date(2013, 2, 28))  # type: ignore[arg-type]
    nights = {day: frame for day, frame in rows.groupby("flight_date")}
    return PolicyState(
        "guarded",
        serving,
        challenger=Challenger(
            shadow, date(2013, 2, 28), _nights(holdout_nights, 2.0, 0.3, seed=1), nights
        ),
    )


def test_the_replay_promotes_a_challenger_only_after_its_shadow_nights():
    from pipelines.replay.nights import judge_shadow

    state = _shadowed_state(challenger_better=True, labelled_nights=2)
    assert judge_shadow(state, date(2013, 3, 3), PARAMS).action == "wait"  # type: ignore[union-attr]
    assert state.serving.version == 1 and state.challenger is not None
    state = _shadowed_state(challenger_better=True, labelled_nights=3)
    # the island slice has no holdout rows here: it waits for them, as production would
    verdict = judge_shadow(state, date(2013, 3, 4), PARAMS)
    assert verdict is not None and verdict.action == "wait" and verdict.pending_slices
    # pooled with its offline holdout (the rows `holdout_rows` keeps), it is judged: promoted
    state = _shadowed_state(challenger_better=True, labelled_nights=3, holdout_nights=16)
    verdict = judge_shadow(state, date(2013, 3, 4), PARAMS)
    assert verdict is not None and verdict.action == "promote", verdict.summary
    assert state.serving.version == 2 and state.challenger is None
    assert state.shadow_episodes[0]["roc_auc_difference"] > 0


def test_the_replay_retires_a_challenger_worse_in_shadow_and_records_the_episode():
    from pipelines.replay.nights import judge_shadow

    state = _shadowed_state(challenger_better=False, labelled_nights=3)
    verdict = judge_shadow(state, date(2013, 3, 4), PARAMS)
    assert verdict is not None and verdict.action == "retire"
    assert state.challenger is None and state.serving.version == 1
    (episode,) = state.shadow_episodes
    assert (episode["version"], episode["action"], episode["labelled_nights"]) == (2, "retire", 3)
    assert episode["roc_auc_difference"] < 0
