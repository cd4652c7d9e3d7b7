from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.label import is_late

ARR_DELAY = pd.Series([20.0, 14.0, 15.0, np.nan, np.nan])
DEP_TIME = pd.Series([900.0, 900.0, 900.0, np.nan, 905.0])  # row 3 cancelled, row 4 diverted


def test_late_from_fifteen_minutes():
    late = is_late(ARR_DELAY, DEP_TIME, 15, "exclude")
    assert late[:3].tolist() == [1.0, 0.0, 1.0]


def test_cancelled_and_diverted_are_excluded_by_default():
    late = is_late(ARR_DELAY, DEP_TIME, 15, "exclude")
    assert late[3:].isna().all()


def test_cancelled_and_diverted_can_count_as_late():
    assert is_late(ARR_DELAY, DEP_TIME, 15, "positive")[3:].tolist() == [1.0, 1.0]


def test_unknown_policy_is_an_error():
    with pytest.raises(ValueError, match="unobserved"):
        is_late(ARR_DELAY, DEP_TIME, 15, "drop")
