"""`promotion.compare` on real 2013 days: the decision the training DAG and the replay share.

Two candidates are fitted with the training step on January–February windows ending a week
apart; `compare` must judge them only on holdout days neither was fit on, refuse when too few
such rows remain, measure both inference speeds, and the replay's `decide_candidate` must give
exactly the same decision."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest

from features.build import attach_labels, build_features
from pipelines.data import landing
from pipelines.promotion.compare import MIN_COMMON_HOLDOUT_ROWS, Contender, compare
from pipelines.training.candidate import fit_candidate
from pipelines.training_window import TrainingWindow
from pipelines.upstream import delivery, sources
from tests.factories import repository_params

DAYS = landing.days(date(2013, 1, 1), date(2013, 2, 28))


@pytest.fixture(scope="module")
def fitted() -> dict:
    params = repository_params()
    params = dataclasses.replace(
        params,
        train=dataclasses.replace(
            params.train, search=dataclasses.replace(params.train.search, enabled=False)
        ),
    )
    flights = sources.source_flights()
    scheduled = [delivery.scheduled_flights(flights, d) for d in DAYS]
    outcomes = [delivery.flight_outcomes(flights, d) for d in DAYS]
    import pandas as pd

    features = build_features(
        pd.concat(scheduled, ignore_index=True),
        sources.source_reference_table("weather"),
        params.features,
    )
    labelled = attach_labels(features, pd.concat(outcomes, ignore_index=True), params.features)
    old_window = TrainingWindow(date(2013, 1, 1), date(2013, 2, 19), date(2013, 2, 21))
    new_window = TrainingWindow(date(2013, 1, 1), date(2013, 2, 15), date(2013, 2, 28))
    return {
        "params": params,
        "champion": fit_candidate(labelled, old_window, params),
        "challenger": fit_candidate(labelled, new_window, params),
    }


def _contender(candidate, version: str) -> Contender:
    return Contender(version, candidate.model, candidate.train_end)


def test_the_common_holdout_leaves_out_every_day_the_champion_was_fit_on(fitted):
    champion, challenger = fitted["champion"], fitted["challenger"]
    assert champion.train_end > challenger.split.holdout_dates[0]  # the windows overlap
    compared = compare(
        _contender(challenger, "2"), _contender(champion, "1"), challenger.split, fitted["params"]
    )
    assert compared.holdout["flight_date"].min() > champion.train_end
    assert len(compared.holdout) < len(challenger.split.holdout)
    names = {check.name for check in compared.decision.checks}
    assert {"primary_metric_improvement", "calibration", "inference_speed"} <= names
    speed = next(c for c in compared.decision.checks if c.name == "inference_speed")
    assert "not measured" not in speed.detail and "ratio" in speed.numbers
    assert set(compared.scores) == {"challenger", "champion", "base_rate", "logistic_regression"}


def test_too_few_rows_unseen_by_both_refuse_the_promotion_and_say_how_many(fitted):
    champion, challenger = fitted["champion"], fitted["challenger"]
    last = challenger.split.holdout_dates[1]
    nearly_all = dataclasses.replace(
        champion, split=dataclasses.replace(champion.split, train_dates=("2013-01-01", last))
    )  # a champion fit up to the challenger's last holdout day: nothing is left
    compared = compare(
        _contender(challenger, "2"),
        Contender("1", champion.model, nearly_all.train_end),
        challenger.split,
        fitted["params"],
    )
    (check,) = compared.decision.checks
    assert check.name == "common_holdout" and not check.passed
    assert not compared.decision.promote
    assert check.numbers["rows"] < MIN_COMMON_HOLDOUT_ROWS and f"after {last}" in check.detail
    few = challenger.split.holdout.head(MIN_COMMON_HOLDOUT_ROWS - 40)
    assert few["label"].nunique() == 2
    short = compare(
        _contender(challenger, "2"),
        Contender("1", champion.model, "2013-01-31"),
        dataclasses.replace(challenger.split, holdout=few),
        fitted["params"],
    )
    (check,) = short.decision.checks  # both classes, but too few rows to judge on
    assert check.name == "common_holdout" and check.numbers == {"rows": 60, "classes": 2}
    one_day_left = (date.fromisoformat(last) - timedelta(days=1)).isoformat()
    enough = compare(
        _contender(challenger, "2"),
        Contender("1", champion.model, one_day_left),
        challenger.split,
        fitted["params"],
    )
    assert enough.decision.checks[0].name != "common_holdout"  # one day (~900 rows) is enough


def test_the_replays_decision_is_compares_decision(fitted):
    from pipelines.replay.nights import ServingModel, Trained, decide_candidate

    champion, challenger = fitted["champion"], fitted["challenger"]
    serving = ServingModel(
        1, champion.model, None, champion.window, date.fromisoformat(champion.train_end)
    )
    replayed = decide_candidate(fitted["params"], Trained(challenger, None), serving, 2).decision
    direct = compare(
        _contender(challenger, "2"), _contender(champion, "1"), challenger.split, fitted["params"]
    ).decision
    # Every check alike but the measured speed, a timing that a busy machine can move: the
    # decision follows the checks, so it is alike whenever the speeds agree.
    assert [(c.name, c.passed) for c in replayed.checks if c.name != "inference_speed"] == [
        (c.name, c.passed) for c in direct.checks if c.name != "inference_speed"
    ]
    speeds = [next(c for c in d.checks if c.name == "inference_speed") for d in (replayed, direct)]
    assert all("ratio" in check.numbers for check in speeds)
    if speeds[0].passed == speeds[1].passed:
        assert replayed.promote == direct.promote
    assert replayed.champion_version == "1" and replayed.challenger_version == "2"
