"""The shadow period's decision on constructed nights: promote, retire, wait, and the island
slice pooled with the offline holdout instead of skipped."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from pipelines.config import ShadowPolicy, SliceRule
from pipelines.promotion.shadow import PROMOTE, RETIRE, WAIT, decide_shadow, labelled_nights
from tests.factories import repository_params

POLICY = dataclasses.replace(
    repository_params().promotion,
    slices=(SliceRule("origin", 300), SliceRule("dest_region", 300, pool=True)),
    shadow=ShadowPolicy(min_nights=3, max_nights=6),
)


def _nights(
    nights: int, champion_noise: float, challenger_noise: float, per_night: int = 1500, seed=0
) -> pd.DataFrame:
    """Shadow rows of `nights` days: a late-or-not signal each model sees through its noise;
    about 2% of flights go to San Juan (the island slice)."""
    rng = np.random.default_rng(seed)
    rows = nights * per_night
    signal = rng.normal(size=rows)
    label = (signal + rng.normal(scale=1.0, size=rows) > 0.8).astype(float)

    def model(noise: float) -> np.ndarray:
        return 1 / (1 + np.exp(-(signal + rng.normal(scale=noise, size=rows) - 1.0)))

    return pd.DataFrame(
        {
            "flight_id": [f"f{i}" for i in range(rows)],
            "flight_date": np.repeat([f"2013-07-{d:02d}" for d in range(1, nights + 1)], per_night),
            "label": label,
            "champion": model(champion_noise),
            "challenger": model(challenger_noise),
            "origin": np.resize(np.array(["EWR", "JFK", "LGA"]), rows),
            "carrier": "UA",
            "dest": np.where(np.arange(rows) % 50 == 0, "SJU", "ORD"),
            "dep_hour": 12.0,
        }
    )


def test_too_few_labelled_nights_wait_and_unlabelled_rows_do_not_count():
    rows = _nights(3, 2.0, 0.3)
    rows.loc[rows["flight_date"] == "2013-07-03", "label"] = np.nan  # landing tomorrow
    verdict = decide_shadow(rows, rows.iloc[:0], "5", "4", POLICY)
    assert verdict.action == WAIT and verdict.nights == ("2013-07-01", "2013-07-02")
    assert "2 of 3 labelled shadow nights" in verdict.summary


def test_a_challenger_clearly_better_in_shadow_is_promoted_with_the_island_pooled():
    shadow = _nights(3, 2.0, 0.3)  # 90 island flights: too few alone
    holdout = _nights(5, 2.0, 0.3, seed=1)  # 150 more from the offline holdout: 240
    alone = decide_shadow(shadow, holdout.iloc[:0], "5", "4", POLICY)
    assert alone.action == WAIT and alone.pending_slices == {"dest_region": ["islands"]}
    holdout = _nights(8, 2.0, 0.3, seed=1)  # 240 more: 330, above the 300 of the rule
    verdict = decide_shadow(shadow, holdout, "5", "4", POLICY)
    assert verdict.action == PROMOTE, verdict.summary
    island = next(c for c in verdict.checks if c.name == "slices:dest_region")
    assert "islands" in island.numbers["challenger"], island.detail
    assert "pooled with the offline holdout: islands" in island.detail


def test_a_challenger_better_offline_but_worse_in_shadow_is_retired():
    verdict = decide_shadow(_nights(3, 0.3, 2.0), _nights(2, 2.0, 0.3, seed=2), "5", "4", POLICY)
    assert verdict.action == RETIRE and "significantly worse in shadow" in verdict.why
    assert verdict.checks[0].numbers["improvement_high"] < 0


def test_a_challenger_no_better_waits_then_is_retired_at_max_nights():
    same = _nights(4, 1.0, 1.0)
    same["challenger"] = same["champion"]
    assert decide_shadow(same, same.iloc[:0], "5", "4", POLICY).action == WAIT
    longer = _nights(6, 1.0, 1.0)
    longer["challenger"] = longer["champion"]
    verdict = decide_shadow(longer, longer.iloc[:0], "5", "4", POLICY)
    assert verdict.action == RETIRE and "not proven after 6 nights" in verdict.why
    assert labelled_nights(longer) == verdict.nights
