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


def test_the_readme_tables_come_from_the_summary():
    from pipelines.replay.report import markdown_tables

    figure = {"difference": 0.01, "low": -0.002, "high": 0.02}
    summary = {
        "frontier": [
            {
                "policy": "guarded",
                "retrainings": 12,
                "promoted": 3,
                "cpu_seconds": 400.4,
                "pooled_roc_auc": 0.6512,
                "mean_daily_roc_auc": 0.652,
                "pooled_log_loss": 0.5431,
                "act_nights_per_month": 3.25,
                "pages_per_month": 1.5,
            }
        ],
        "comparisons": [
            {
                "policy": "guarded",
                "against": "every_14d",
                "pooled_roc_auc": figure,
                "mean_daily_roc_auc": figure,
                "pooled_log_loss": figure,
            }
        ],
    }
    tables = markdown_tables(summary)
    assert "| guarded | 12 (3) | 400 | 0.651 | 0.652 | 0.543 | 3.2 | 1.5 |" in tables
    assert "| guarded − every_14d | +0.0100 [-0.0020, +0.0200] |" in tables


def test_the_start_dates_table_has_one_block_per_start_oldest_first():
    from pipelines.replay.report import start_dates_table

    def run(start: str, difference: float) -> dict:
        figure = {"difference": difference, "low": difference - 0.01, "high": difference + 0.01}
        comparison = {"policy": "guarded", "against": "every_14d", "from": "2013-05-01"}
        comparison |= {"days": 244, "pooled_roc_auc": figure, "mean_daily_roc_auc": figure}
        comparison |= {"pooled_log_loss": figure}
        return {"plan": {"start": start}, "comparisons": [comparison]}

    table = start_dates_table([run("2013-03-01", -0.02), run("2013-01-01", 0.03)]).splitlines()
    assert table[0].startswith("| start | policy − other | measured from |")
    assert table[2].startswith("| 2013-01-01 | guarded − every_14d | 2013-05-01 (244 days) |")
    assert "| -0.0200 [-0.0300, -0.0100] |" in table[3]


def test_the_tradeoff_figure_and_tables_show_the_chosen_and_the_committed_thresholds():
    from pipelines.replay.report import _choice_tables, tradeoff_figure

    measured = {
        f"{k}_{p}": v
        for p in ("before", "after")
        for k, v in (("precision", 0.7), ("recall", 0.4), ("pages_per_month", 1.2), ("f1", 0.5))
    }
    row = {"severe_drift_factor": 2.0, "minor_drift_min_columns": 2, **measured}
    thresholds = {
        "chosen": {k: row[k] for k in list(row)[:2]} | {"min_labelled_days": 3},
        "chosen_measured": row,
        "committed_measured": [row],
        "best_before_cut": [row],
        "every_candidate": [row],
        "single": {"performance_drop": [{"min_labelled_days": 3, **measured}]},
    }
    sets = pd.DataFrame([{"act_triggers": "important_drift,minor_drift", **measured}])
    figure = tradeoff_figure(sets, thresholds, "important_drift,minor_drift")
    assert len(figure.axes) == 2
    text = "\n".join(_choice_tables({"threshold_choice": thresholds}))
    assert "2 / 2 (chosen)" in text and "(committed)" in text
    assert "3 (chosen)" in text
