"""The report's pure pieces: which periodic policies the guard is held against."""

from __future__ import annotations

import pandas as pd

from pipelines.replay.report import frontier_neighbours


def _frontier(guard_retrainings: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "policy": ["frozen", "every_7d", "every_14d", "every_28d", "every_56d", "guarded"],
            "kind": ["frozen", "periodic", "periodic", "periodic", "periodic", "guard"],
            "retrainings": [0, 42, 21, 10, 5, guard_retrainings],
        }
    )


def test_the_guard_is_held_against_the_periodic_policies_either_side_of_its_cost():
    assert frontier_neighbours(_frontier(14), "guarded") == ["every_28d", "every_14d"]


def test_an_equal_count_is_one_neighbour_and_beyond_the_grid_the_nearest():
    assert frontier_neighbours(_frontier(21), "guarded") == ["every_14d"]
    assert frontier_neighbours(_frontier(60), "guarded") == ["every_7d"]
    assert frontier_neighbours(_frontier(2), "guarded") == ["every_56d"]
