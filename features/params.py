"""The feature parameters (`features:` in params.yaml): features/ owns its own type."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureParams:
    timezone: str
    cutoff_hours_before_day: int
    weather_columns: tuple[str, ...]
    weather_lookback_hours: int
    holiday_window_days: int
    label_delay_minutes: int
    unobserved_arrival: str

    def __post_init__(self) -> None:
        if self.unobserved_arrival not in ("exclude", "positive"):
            raise ValueError(
                f"features.unobserved_arrival must be 'exclude' or 'positive', "
                f"got {self.unobserved_arrival!r}"
            )
        if not 0 <= self.cutoff_hours_before_day <= 24 * 7:
            raise ValueError("features.cutoff_hours_before_day must be within 0..168")
