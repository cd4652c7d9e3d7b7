"""The day's sample by flight id: the same flights every run, whatever the batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.monitoring.current import sample_fraction, sampled

IDS = pd.Series([f"2024-03-04_B6_{n}_JFK" for n in range(100_000)])


def test_sample_is_the_same_whatever_the_batches():
    whole = sampled(IDS, 0.2)
    cuts = [0, 1, 17_000, 17_001, 60_000, 99_999, len(IDS)]
    # each batch keeps its slice of the index
    batches = [IDS.iloc[start:end] for start, end in zip(cuts[:-1], cuts[1:], strict=True)]
    assert np.array_equal(np.concatenate([sampled(b, 0.2) for b in batches]), whole)


def test_sample_is_decided_by_the_id_not_its_position():
    shuffled = IDS.sample(frac=1.0, random_state=0)
    kept = set(IDS[sampled(IDS, 0.2)])
    assert set(shuffled[sampled(shuffled.reset_index(drop=True), 0.2)]) == kept


def test_sample_does_not_depend_on_the_string_dtype():
    """Predictions and outcomes are sampled separately and joined: their ids must hash alike."""
    head = IDS.head(5000)
    assert np.array_equal(sampled(head.astype("string"), 0.3), sampled(head, 0.3))


@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.5])
def test_sample_keeps_about_the_fraction(fraction):
    assert sampled(IDS, fraction).mean() == pytest.approx(fraction, abs=0.01)


@pytest.mark.parametrize("fraction", [1.0, 1.5])
def test_fraction_of_one_keeps_every_row(fraction):
    mask = sampled(IDS.head(1000), fraction)
    assert mask.dtype == bool and mask.all() and len(mask) == 1000


def test_fraction_of_zero_keeps_no_row():
    assert not sampled(IDS.head(1000), 0.0).any()


def test_sample_of_an_empty_batch_is_empty():
    assert len(sampled(pd.Series([], dtype=object), 0.5)) == 0


@pytest.mark.parametrize(
    ("rows", "cap", "fraction"),
    [
        (0, 20_000, 1.0),
        (19_999, 20_000, 1.0),
        (20_000, 20_000, 1.0),
        (40_000, 20_000, 0.5),
        (80_000, 20_000, 0.25),
    ],
)
def test_sample_fraction_caps_the_rows(rows, cap, fraction):
    assert sample_fraction(rows, cap) == pytest.approx(fraction)
