"""Prediction rows and the shadow's agreement sums, on frames of a few flights."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipelines.registry import ModelVersionRef
from pipelines.scoring.rows import (
    DICTIONARY_COLUMNS,
    PREDICTION_COLUMNS,
    content_digest,
    decision_threshold,
    prediction_rows,
)
from pipelines.scoring.shadow import AgreementSums
from pipelines.storage import parquet_sink

PINNED = ModelVersionRef("flight-delay", "champion", "7", "run-7", "md5-7")


def _features() -> pd.DataFrame:
    return pd.DataFrame(
        {"flight_id": ["b", "a", "c"], "flight_date": ["2013-02-20"] * 3, "carrier": ["UA"] * 3}
    )


def test_every_row_says_which_model_scored_it_and_decides_at_the_threshold():
    probability = np.array([0.2, 0.35, 0.9])
    rows = prediction_rows(_features(), probability, PINNED, 0.35, "code-1", "run-a").to_pandas()
    assert rows.columns.tolist() == list(PREDICTION_COLUMNS)
    assert rows["flight_id"].tolist() == ["b", "a", "c"], "the landed order"
    assert rows["late_probability"].tolist() == [0.2, 0.35, 0.9]
    assert rows["predicted_late"].tolist() == [False, True, True]
    assert set(rows["model_version"]) == {"7"} and set(rows["model_run_id"]) == {"run-7"}
    assert set(rows["model_data_version"]) == {"md5-7"}
    assert set(rows["feature_code_version"]) == {"code-1"}
    assert set(rows["scoring_run_id"]) == {"run-a"}


def test_an_empty_batch_gives_an_empty_table_of_the_same_schema():
    rows = prediction_rows(_features().iloc[0:0], np.array([]), PINNED, 0.5, "c", "r")
    assert rows.num_rows == 0 and rows.column_names == list(PREDICTION_COLUMNS)


def test_only_the_few_valued_columns_are_dictionary_encoded(tmp_path: Path):
    target = tmp_path / "part-0.parquet"
    rows = prediction_rows(_features(), np.array([0.1, 0.5, 0.7]), PINNED, 0.35, "c", "r")
    with parquet_sink(str(target), rows.schema, DICTIONARY_COLUMNS) as sink:
        sink.write_table(rows)
    group = pq.ParquetFile(target).metadata.row_group(0)
    encoded = {
        group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)
    }
    assert "RLE_DICTIONARY" in encoded["model_version"]
    assert "RLE_DICTIONARY" not in encoded["flight_id"]
    assert pq.read_table(target).equals(rows)


def test_agreement_sums_over_batches_equal_the_whole_day():
    champion = np.array([0.1, 0.4, 0.8, 0.3])
    challenger = np.array([0.2, 0.3, 0.9, 0.5])
    whole, first, second = AgreementSums(), AgreementSums(), AgreementSums()
    whole.add(champion, challenger, 0.35, 0.35)
    first.add(champion[:2], challenger[:2], 0.35, 0.35)
    second.add(champion[2:], challenger[2:], 0.35, 0.35)
    summary = first.plus(second).summary()
    assert summary == pytest.approx(whole.summary())
    assert summary["decision_agreement"] == 0.5  # 0.4 vs 0.3 and 0.3 vs 0.5 cross 0.35
    assert summary["mean_absolute_difference"] == pytest.approx(0.125)
    assert summary["probability_correlation"] == pytest.approx(
        np.corrcoef(champion, challenger)[0, 1]
    )


def test_each_model_decides_at_its_own_threshold_in_the_agreement():
    sums = AgreementSums()
    sums.add(np.array([0.30, 0.50]), np.array([0.30, 0.50]), 0.25, 0.40)
    assert sums.summary()["decision_agreement"] == 0.5  # 0.30 is late for one, not the other


def test_a_version_decides_at_its_own_threshold_else_at_the_cost_optimal_one():
    own = ModelVersionRef("flight-delay", "champion", "8", "run-8", "md5-8", 0.41)
    assert decision_threshold(own, missed_delay_cost=2.0) == 0.41
    assert decision_threshold(PINNED, missed_delay_cost=2.0) == pytest.approx(1 / 3)
    assert decision_threshold(PINNED, missed_delay_cost=4.0) == pytest.approx(0.2)


def _published(probability: list[float], run_id: str, version: str = "7") -> pd.DataFrame:
    pinned = ModelVersionRef("flight-delay", "champion", version, "run-7", "md5-7")
    return prediction_rows(
        _features(), np.array(probability), pinned, 0.35, "code-1", run_id
    ).to_pandas()


def test_the_content_digest_ignores_the_scoring_run_and_nothing_else():
    first = content_digest(_published([0.2, 0.35, 0.9], "nightly"))
    assert content_digest(_published([0.2, 0.35, 0.9], "manual-rerun")) == first
    assert content_digest(_published([0.2, 0.35, 0.9 + 1e-12], "nightly")) != first
    assert content_digest(_published([0.2, 0.35, 0.9], "nightly", version="8")) != first
    swapped = _published([0.2, 0.35, 0.9], "nightly").iloc[[1, 0, 2]]
    assert content_digest(swapped) != first, "row order is part of the content"


def test_a_day_is_published_by_its_manifest_whole_shards_in_order_and_in_brief(tmp_path: Path):
    """The shards are moved in whole (not re-encoded) and named by the manifest in row order;
    a re-run's publish replaces the parts, and a retried publish finds them already moved."""
    import yaml

    from pipelines.config import REPO_ROOT, params_from_dict
    from pipelines.scoring.paths import day_uri, manifest_uri, staging_uri
    from pipelines.scoring.publish import (
        publish_day,
        published_day,
        published_manifest,
        read_published,
    )
    from tests.factories import stage_shards

    params = params_from_dict(
        yaml.safe_load((REPO_ROOT / "params.yaml").read_text()), workspace=tmp_path
    )
    day = date(2013, 2, 20)
    assert published_day(params, day) is None and read_published(params, day) is None
    rows = _published([0.2, 0.35, 0.9], "nightly")
    shards = stage_shards(params, day, rows, "nightly", [2])
    staged_bytes = [Path(s.predictions_uri).read_bytes() for s in shards]
    result = publish_day(params, day, list(reversed(shards)), PINNED)
    assert (result.rows, result.shards, result.predictions_uri) == (3, 2, manifest_uri(params, day))
    folder = Path(day_uri(params, day))
    parts = ["nightly-shard-00000.parquet", "nightly-shard-00001.parquet"]
    assert published_manifest(params, day).parts == tuple(parts)
    assert [(folder / p).read_bytes() for p in parts] == staged_bytes  # moved, not re-encoded
    assert not Path(staging_uri(params, day)).exists()
    brief = published_day(params, day)
    assert brief is not None
    assert (brief.day, brief.rows, brief.model_versions) == ("2013-02-20", 3, ("7",))
    assert brief.scoring_run_ids == ("nightly",)
    assert brief.content_sha256 == content_digest(rows)
    assert published_day(params, day, "shadow") is None
    assert len(pd.read_parquet(folder)) == 3, "a dataset reader of the folder sees the day once"

    rerun = _published([0.2, 0.35, 0.9], "rerun")
    again = stage_shards(params, day, rerun, "rerun", [1])
    publish_day(params, day, again, PINNED)
    assert sorted(p.name for p in folder.iterdir()) == [
        "_published.json",
        "rerun-shard-00000.parquet",
        "rerun-shard-00001.parquet",
    ]
    assert published_day(params, day).content_sha256 == brief.content_sha256
    assert published_day(params, day).scoring_run_ids == ("rerun",)
    publish_day(params, day, again, PINNED)  # a retry after the shards were moved
    assert published_day(params, day).content_sha256 == brief.content_sha256


def test_a_day_published_before_manifests_is_read_as_its_one_file(tmp_path: Path):
    import yaml

    from pipelines.config import REPO_ROOT, params_from_dict
    from pipelines.scoring.paths import day_uri
    from pipelines.scoring.publish import published_day
    from pipelines.storage import join_uri, write_parquet

    params = params_from_dict(
        yaml.safe_load((REPO_ROOT / "params.yaml").read_text()), workspace=tmp_path
    )
    day = date(2013, 2, 21)
    rows = _published([0.1, 0.6, 0.3], "old")
    write_parquet(rows, join_uri(day_uri(params, day), "part-0.parquet"))
    assert published_day(params, day).content_sha256 == content_digest(rows)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -0.01, 1.5])
def test_a_probability_that_is_not_finite_or_not_in_0_1_is_refused_naming_its_row(bad):
    from pipelines.scoring.rows import InvalidScores

    with pytest.raises(InvalidScores, match=r"1 of 3 rows .* \(a="):
        prediction_rows(_features(), np.array([0.2, bad, 0.9]), PINNED, 0.35, "c", "r")


def test_a_day_with_an_invalid_probability_is_not_published(tmp_path: Path):
    """Through the scoring loop: the first batch is fine, the second has a NaN; the day's file
    is never published, and a file published before stays as it was."""
    from features.build import day_schedule_counts
    from pipelines.scoring.rows import InvalidScores
    from pipelines.scoring.shards import DayContext, ScoringModel, score_batches
    from tests.factories import repository_params, scheduled_flights, weather

    class NanOnSecondBatch:
        calls = 0

        def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
            NanOnSecondBatch.calls += 1
            p = np.full(len(inputs), 0.3 if NanOnSecondBatch.calls == 1 else np.nan)
            return np.column_stack([1 - p, p])

    params = repository_params()
    flights = scheduled_flights(6)
    target = tmp_path / "predictions" / "part-0.parquet"
    target.parent.mkdir()
    target.write_bytes(b"yesterday's run")
    context = DayContext(weather(), day_schedule_counts(flights), "code-1")
    with pytest.raises(InvalidScores, match="nothing was published"):
        score_batches(
            [flights.iloc[:3], flights.iloc[3:]],
            context,
            params,
            ScoringModel(PINNED, NanOnSecondBatch()),
            "run-x",
            str(target),
        )
    assert target.read_bytes() == b"yesterday's run"
    assert [p.name for p in target.parent.iterdir()] == ["part-0.parquet"]


def test_a_replanned_day_never_names_a_part_like_the_published_ones():
    from pipelines.scoring.shards import Shard, shard_file_name

    first = Shard("2013-02-20", 0, 0, 10, "aaaa")
    again = Shard("2013-02-20", 0, 0, 10, "bbbb")  # the same Airflow run cleared: a new plan
    assert shard_file_name("scheduled__x", first) != shard_file_name("scheduled__x", again)
    assert shard_file_name("scheduled__x", first) == shard_file_name("scheduled__x", first)
    assert Shard.from_dict(first.as_dict()) == first


@pytest.mark.parametrize("cuts", [[], [3], [1, 4, 5], [2, 3, 7]])
def test_the_sampled_rows_are_every_nth_of_the_day_whatever_the_batches(cuts):
    from pipelines.scoring.shards import sampled_positions

    bounds = [0, *cuts, 9]
    picked = [
        start + p
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
        for p in sampled_positions(start, stop - start, 3)
    ]
    assert picked == [0, 3, 6]
    assert len(sampled_positions(0, 9, 0)) == 0  # 0: none kept
    assert list(sampled_positions(4, 3, 1)) == [0, 1, 2]  # 1: every row


def test_the_batch_keeps_the_features_it_scored_every_nth_flight_with(tmp_path: Path):
    """Through the scoring loop in two batches of 3, at a stride of 2: the day's rows 0, 2 and
    4, with the model inputs they were scored on, the version, the run and the probability."""
    import dataclasses

    from features.build import build_features, day_schedule_counts, model_inputs
    from pipelines.scoring.shards import DayContext, ScoringModel, score_batches
    from tests.factories import repository_params, scheduled_flights, weather

    class Constant:
        def predict_proba(self, inputs: pd.DataFrame) -> np.ndarray:
            p = np.linspace(0.1, 0.6, len(inputs))
            return np.column_stack([1 - p, p])

    base = repository_params()
    params = dataclasses.replace(
        base, scoring=dataclasses.replace(base.scoring, served_features_every=2)
    )
    flights = scheduled_flights(6)
    context = DayContext(weather(), day_schedule_counts(flights), "code-1")
    rows, _, served = score_batches(
        [flights.iloc[:3], flights.iloc[3:]],
        context,
        params,
        ScoringModel(PINNED, Constant()),
        "run-x",
        str(tmp_path / "part.parquet"),
    )
    assert rows == 6 and served is not None
    assert list(served["flight_id"]) == list(flights["flight_id"].iloc[[0, 2, 4]])
    assert set(served["served_by"]) == {"batch"} and set(served["request_id"]) == {"run-x"}
    assert set(served["model_version"]) == {"7"}
    expected = model_inputs(
        build_features(flights, context.weather, params.features, context.schedule_counts),
        params.features,
    ).iloc[[0, 2, 4]]
    pd.testing.assert_frame_equal(
        served.loc[:, list(expected.columns)], expected.reset_index(drop=True)
    )
    # batch 1 (3 rows): positions 0 and 2 of linspace(0.1, 0.6, 3); batch 2: its row 1
    assert served["late_probability"].tolist() == pytest.approx([0.1, 0.6, 0.35])
