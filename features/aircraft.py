"""Aircraft features from the `planes` reference table (unknown tail numbers stay missing)."""

from __future__ import annotations

import pandas as pd


def _plane_attribute(tailnum: pd.Series, planes: pd.DataFrame, column: str) -> pd.Series:
    lookup = planes.drop_duplicates("tailnum").set_index("tailnum")[column]
    return tailnum.map(lookup)


def plane_age(tailnum: pd.Series, year: pd.Series, planes: pd.DataFrame) -> pd.Series:
    built = _plane_attribute(tailnum, planes, "year").astype("float64")
    return (year.astype("float64") - built).clip(lower=0)


def plane_seats(tailnum: pd.Series, planes: pd.DataFrame) -> pd.Series:
    return _plane_attribute(tailnum, planes, "seats").astype("float64")


def plane_engine(tailnum: pd.Series, planes: pd.DataFrame) -> pd.Series:
    return _plane_attribute(tailnum, planes, "engine").astype("object")
