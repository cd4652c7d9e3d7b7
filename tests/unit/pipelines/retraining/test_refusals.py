"""Retrainings refused in a row raise one alert with every reason; a promotion resets the run."""

from __future__ import annotations

from datetime import date

from pipelines.retraining.refusals import Decided, refusal_alert, refused_in_a_row


def _decided(*decisions: str) -> list[Decided]:
    return [Decided(str(i + 1), d, f"reason {i + 1}") for i, d in enumerate(decisions)]


def test_three_refusals_in_a_row_are_found_newest_last_whatever_the_listing_order():
    decided = _decided("promoted", "rejected", "rejected", "rejected")
    refused = refused_in_a_row(list(reversed(decided)), 3)
    assert [d.version for d in refused] == ["2", "3", "4"]


def test_a_promotion_among_the_newest_resets_the_count():
    assert refused_in_a_row(_decided("rejected", "rejected", "promoted", "rejected"), 3) == ()
    assert refused_in_a_row(_decided("rejected", "rejected"), 3) == ()


def test_versions_are_ordered_as_numbers_not_text():
    decided = [
        Decided("10", "rejected", ""),
        Decided("9", "rejected", ""),
        Decided("8", "promoted", ""),
    ]
    assert [d.version for d in refused_in_a_row(decided, 2)] == ["9", "10"]


def test_the_alert_names_every_version_and_its_reason():
    alert = refusal_alert(
        refused_in_a_row(_decided("rejected", "rejected", "rejected"), 3), date(2013, 6, 1)
    )
    assert alert["newest_version"] == "3" and alert["page"]
    assert alert["reasons"] == {"1": "reason 1", "2": "reason 2", "3": "reason 3"}
    assert "v1, v2, v3" in alert["message"]


def test_a_challenger_retired_in_shadow_is_a_refusal_and_one_still_in_shadow_is_neither():
    decided = _decided("promoted", "rejected", "retired", "superseded", "shadow", "rejected")
    assert [d.version for d in refused_in_a_row(decided, 3)] == ["2", "3", "6"]
    assert refused_in_a_row(_decided("rejected", "promoted", "shadow", "retired"), 3) == ()
