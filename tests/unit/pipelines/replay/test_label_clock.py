from datetime import date

import numpy as np
import pandas as pd
import pytest

from pipelines.replay.deliveries import LabelLeak, LabelledDays
from pipelines.replay.nights import check_label_clock


def _scored(labels: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"label": labels, "late_probability": np.linspace(0.1, 0.9, len(labels))})


def test_night_d_sees_the_labels_landed_by_d_and_never_its_own():
    known = LabelledDays()
    known.landed_on["2013-05-01"] = date(2013, 5, 2)
    scored = {"2013-05-01": _scored([1.0, 0.0]), "2013-05-02": _scored([np.nan, np.nan])}
    check_label_clock(scored, date(2013, 5, 2), known)  # fine
    scored["2013-05-02"] = _scored([1.0, np.nan])  # D's own outcome, a day early
    with pytest.raises(LabelLeak, match="night 2013-05-02 would see labels of 2013-05-02"):
        check_label_clock(scored, date(2013, 5, 2), known)


def test_labels_that_land_after_the_night_are_refused():
    known = LabelledDays()
    known.landed_on["2013-05-01"] = date(2013, 5, 4)  # a late delivery
    scored = {"2013-05-01": _scored([1.0, 0.0])}
    with pytest.raises(LabelLeak):
        check_label_clock(scored, date(2013, 5, 2), known)
