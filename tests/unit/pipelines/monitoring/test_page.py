"""The on-call page's flights to explain: the worst labelled flights, each with its command."""

from __future__ import annotations

import pandas as pd

from pipelines.monitoring.page import _flights_to_explain, day_page, explain_command
from tests.factories import repository_params

FOUND = {
    "date": "2013-06-02",
    "flights": [
        {
            "flight_id": "2013-06-02_UA1545_EWR",
            "late_probability": 0.03,
            "predicted_late": False,
            "late": True,
            "log_loss": 3.51,
            "share_of_log_loss": 0.021,
        },
        {
            "flight_id": "2013-06-02_<B6>_JFK",
            "late_probability": 0.91,
            "predicted_late": True,
            "late": False,
            "log_loss": 2.41,
            "share_of_log_loss": 0.014,
        },
    ],
}


def test_each_flight_that_drove_the_errors_comes_with_its_explain_command():
    section = _flights_to_explain(FOUND)
    assert "<code>mlops explain --date 2013-06-02 --flight 2013-06-02_UA1545_EWR</code>" in section
    assert section.index("UA1545") < section.index("B6"), "worst first, as given"
    assert "0.030</td><td>on time</td><td>late</td><td>3.51 (2.1%)" in section
    assert "&lt;B6&gt;" in section and "<B6>" not in section, "ids are escaped"
    assert explain_command("2013-06-02", "X") == "mlops explain --date 2013-06-02 --flight X"


def test_no_labels_yet_and_no_labelled_flight_are_said():
    assert "Labels pending" in _flights_to_explain(None)
    assert "No labelled flight of 2013-06-02" in _flights_to_explain({**FOUND, "flights": []})


def _summary(found: dict | None) -> dict:
    window = {"train_start": "2013-01-01", "train_end": "2013-05-01"}
    return {
        "date": "2013-06-03",
        "verdict": {"level": "act", "reasons": ["observed ROC AUC below the bar"]},
        "runbooks": [],
        "model": {"name": "m", "version": "3", "run_id": "r", "data_version": "d"},
        "drift": {"share": 0.1, "top": [], "empty_columns": []},
        "performance": {
            "window": None,
            "holdout": {},
            "labels_for_previous_day": "in",
        },
        "estimate": {"day": {}, "window": {}, "window_start": "2013-05-20"},
        "reference": {"window": window, "false_alarms": {"watch_or_act": 0.1, "act": 0.0}},
        "rows": 900,
        "sampled_rows": 900,
        "flights_to_explain": found,
    }


def test_the_day_page_has_the_section():
    history = pd.DataFrame({"date": ["2013-06-02", "2013-06-03"]})
    page = day_page(repository_params(), _summary(FOUND), history)
    assert "<h2>Flights that drove the errors</h2>" in page
    assert "mlops explain --date 2013-06-02 --flight 2013-06-02_UA1545_EWR" in page


def test_the_night_lists_the_worst_of_yesterdays_labelled_flights():
    from datetime import date

    from pipelines.monitoring.nightly import DayPerformance, flights_to_explain
    from pipelines.monitoring.performance import JoinedLabels

    labelled = pd.DataFrame(
        {
            "flight_id": [f"f{i}" for i in range(8)],
            "late_probability": [0.1, 0.9, 0.2, 0.8, 0.5, 0.05, 0.95, 0.3],
            "predicted_late": [False, True, False, True, True, False, True, False],
            "label": [0, 0, 1, 1, 0, 1, 1, 0],
        }
    )
    yesterday = DayPerformance(date(2013, 6, 2), JoinedLabels(labelled, 0, 0, 0))
    found = flights_to_explain(repository_params(), yesterday)
    assert found is not None and found["date"] == "2013-06-02"
    assert len(found["flights"]) == repository_params().explain.page_flights
    assert [f["flight_id"] for f in found["flights"][:2]] == ["f5", "f1"]
    assert flights_to_explain(repository_params(), None) is None
