"""Weather at the origin as observed up to the prediction cutoff (point-in-time, as-of join).

Nightly scoring of day D runs before D starts, so each flight sees only observations made at
or before its cutoff: local midnight of its day minus `cutoff_hours_before_day`. Nothing
observed after the cutoff can reach a feature; `wx_observed_at` records which hour was used.
"""

from __future__ import annotations

import pandas as pd


def prediction_cutoff(flight_date: pd.Series, timezone: str, hours_before_day: int) -> pd.Series:
    """The UTC instant up to which data may be used for a flight on `flight_date` (local)."""
    local_midnight = pd.to_datetime(flight_date).dt.tz_localize(timezone)
    return (local_midnight - pd.Timedelta(hours=hours_before_day)).dt.tz_convert("UTC")


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
    keys = pd.DataFrame({"origin": origin.to_numpy(), "cutoff_at": cutoff_at.to_numpy()})
    unique_keys = keys.drop_duplicates().sort_values("cutoff_at")
    joined = pd.merge_asof(
        unique_keys,
        observations,
        left_on="cutoff_at",
        right_on="time_hour",
        by="origin",
        direction="backward",
        allow_exact_matches=True,
        tolerance=pd.Timedelta(hours=lookback_hours),
    ).drop(columns="time_hour")
    result = keys.merge(joined, on=["origin", "cutoff_at"], how="left")
    result.index = origin.index
    return result.drop(columns=["origin", "cutoff_at"])
