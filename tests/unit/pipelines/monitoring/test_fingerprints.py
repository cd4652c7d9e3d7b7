"""What changed under the model between two nights: packages and the upstream's schemas."""

from __future__ import annotations

from datetime import date

import pandas as pd

from pipelines.data import landing
from pipelines.monitoring.fingerprints import (
    Fingerprint,
    changes_since,
    package_changes,
    schema_changes,
    upstream_schemas,
)
from pipelines.monitoring.verdict import WATCH, Signals, decide_verdict
from tests.factories import verdict_policy


def test_a_package_upgraded_added_or_removed_is_said():
    before = {"pandas": "2.3.1", "scikit-learn": "1.9.1", "old": "1.0"}
    after = {"pandas": "2.3.1", "scikit-learn": "1.9.2", "new": "0.1"}
    assert package_changes(before, after) == [
        "scikit-learn 1.9.1 -> 1.9.2",
        "new 0.1 added",
        "old removed",
    ]


def test_an_upstream_column_added_removed_or_retyped_is_said_and_a_missing_file_is_not():
    before = {"flights": {"dep": "int64", "gone": "string"}, "outcomes": {"arr": "double"}}
    after = {"flights": {"dep": "double", "extra": "string"}}
    assert schema_changes(before, after) == [
        "flights.extra added (string)",
        "flights.gone removed",
        "flights.dep int64 -> double",
    ]


def test_the_first_night_has_nothing_to_compare_and_a_fingerprint_round_trips():
    current = Fingerprint({"pandas": "2.3.1"}, {"flights": {"dep": "int64"}})
    assert changes_since(None, current) == {"packages": [], "upstream": []}
    assert Fingerprint.from_json(current.as_json()) == current


def test_the_schema_of_a_landed_day_is_read_from_its_files(tmp_path):
    day = date(2013, 1, 5)
    uri = landing.partition_uri(str(tmp_path), "flights", day)
    (tmp_path / uri.removeprefix(str(tmp_path) + "/")).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"flight_id": ["a"], "sched_dep_time": [515]}).to_parquet(uri)
    assert upstream_schemas(str(tmp_path), day) == {
        "flights": {"flight_id": "string", "sched_dep_time": "int64"}
    }


def test_changes_under_the_model_are_watch_and_name_what_changed():
    signals = Signals(
        drifted=(),
        important=(),
        rows=1000,
        min_rows=100,
        holdout_roc_auc=0.7,
        estimated_roc_auc=0.7,
        observed=None,
        upstream_changes=("flights.dep int64 -> double",),
        package_changes=tuple(f"p{i} 1 -> 2" for i in range(7)),
    )
    verdict = decide_verdict(signals, verdict_policy())
    assert verdict.level == WATCH
    assert set(verdict.triggers) == {"upstream_changed", "packages_changed"}
    text = " ".join(verdict.reasons)
    assert "flights.dep int64 -> double" in text and "(+2 more)" in text
