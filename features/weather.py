"""Weather at the origin as observed up to the prediction cutoff (point-in-time, as-of join).

Nightly scoring of day D runs before D starts, so each flight sees only observations made at
or before its cutoff: local midnight of its day minus `cutoff_hours_before_day`. Nothing
observed after the cutoff can reach a feature; `wx_observed_at` records which hour was used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def prediction_cutoff(flight_date: pd.Series, timezone: str, hours_before_day: int) -> pd.Series:
    """The UTC instant up to which data may be used for a flight on `flight_date` (local)."""
    codes, dates = pd.factorize(flight_date, sort=True)
    if len(dates) == 0:
        return pd.Series(dtype="datetime64[ns, UTC]", index=flight_date.index)
    local_midnight = pd.to_datetime(pd.Series(dates, dtype="object")).dt.tz_localize(timezone)
    cutoffs = (local_midnight - pd.Timedelta(hours=hours_before_day)).dt.tz_convert("UTC")
    return pd.Series(cutoffs.array.take(codes), index=flight_date.index)


def weather_with_history(weather: pd.DataFrame, lookback_hours: int) -> pd.DataFrame:
    """Add precipitation summed over the `lookback_hours` up to each observation (inclusive)."""
    ordered = weather.sort_values(["origin", "time_hour"]).reset_index(drop=True)
    rolled = (
        ordered.set_index("time_hour")
        .groupby("origin")["precip"]
        .rolling(f"{lookback_hours}h")
        .sum()
        .reset_index(drop=True)
    )
    ordered[f"precip_sum_{lookback_hours}h"] = rolled.to_numpy()
    return ordered


def weather_at_cutoff(
    origin: pd.Series,
    cutoff_at: pd.Series,
    weather: pd.DataFrame,
    columns: tuple[str, ...],
    lookback_hours: int,
) -> pd.DataFrame:
    """Latest observation at each origin at or before the cutoff, at most `lookback_hours` old."""
    history = weather_with_history(weather, lookback_hours)
    value_columns = [*columns, f"precip_sum_{lookback_hours}h"]
    observations = (
        history.loc[:, ["origin", "time_hour", *value_columns]]
        .rename(columns={c: f"wx_{c}" for c in value_columns})
        .assign(wx_observed_at=lambda frame: frame["time_hour"])
        .sort_values("time_hour")
    )
    # Join the distinct (origin, cutoff) pairs only (a day has three), then spread to rows.
    origin_codes, origins = pd.factorize(origin, sort=True)
    cutoff_codes, cutoffs = pd.factorize(cutoff_at, sort=True)
    pair_codes = origin_codes.astype("int64") * max(len(cutoffs), 1) + cutoff_codes
    pairs, row_pair = np.unique(pair_codes, return_inverse=True)
    unique_keys = pd.DataFrame(
        {
            "origin": np.asarray(origins, dtype=object)[pairs // max(len(cutoffs), 1)],
            "cutoff_at": cutoffs.take(pairs % max(len(cutoffs), 1)),
        }
    )
    order = np.argsort(unique_keys["cutoff_at"].to_numpy(), kind="stable")
    joined = pd.merge_asof(
        unique_keys.iloc[order],
        observations,
        left_on="cutoff_at",
        right_on="time_hour",
        by="origin",
        direction="backward",
        allow_exact_matches=True,
        tolerance=pd.Timedelta(hours=lookback_hours),
    ).drop(columns=["time_hour", "origin", "cutoff_at"])
    by_pair = joined.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
    result = by_pair.take(row_pair.ravel())
    result.index = origin.index
    return result
