"""Typed view of `params.yaml`: read once, frozen, passed to the stage functions.

The workspace (where `params.yaml`, `dvc.yaml` and the DVC-tracked data live) defaults to the
repository root and can be moved with `MLOPS_WORKSPACE` (a deployed checkout, a test's clone),
so the same installed code runs against any checkout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


def workspace_dir() -> Path:
    """The DVC workspace: `MLOPS_WORKSPACE` if set; else the current directory when it holds
    `dvc.yaml` and `params.yaml` (as under `dvc repro`); else the repository root."""
    if os.environ.get("MLOPS_WORKSPACE"):
        return Path(os.environ["MLOPS_WORKSPACE"]).resolve()
    cwd = Path.cwd()
    if (cwd / "dvc.yaml").exists() and (cwd / "params.yaml").exists():
        return cwd.resolve()
    return REPO_ROOT


@dataclass(frozen=True)
class DataParams:
    landing_root: str
    snapshot_dir: str
    snapshot_start: date
    snapshot_end: date
    artifacts_root: str


@dataclass(frozen=True)
class FeatureParams:
    timezone: str = "America/New_York"
    cutoff_hours_before_day: int = 4
    weather_columns: tuple[str, ...] = (
        "temp",
        "dewp",
        "humid",
        "wind_speed",
        "wind_gust",
        "precip",
        "pressure",
        "visib",
    )
    weather_lookback_hours: int = 24
    holiday_window_days: int = 30
    label_delay_minutes: int = 15
    unobserved_arrival: str = "exclude"

    def __post_init__(self) -> None:
        if self.unobserved_arrival not in ("exclude", "positive"):
            raise ValueError(
                f"features.unobserved_arrival must be 'exclude' or 'positive', "
                f"got {self.unobserved_arrival!r}"
            )
        if not 0 <= self.cutoff_hours_before_day <= 24 * 7:
            raise ValueError("features.cutoff_hours_before_day must be within 0..168")


@dataclass(frozen=True)
class TrainParams:
    holdout_start: date
    model: str = "hist_gradient_boosting"
    seed: int = 42
    hist_gradient_boosting: dict[str, Any] = field(default_factory=dict)
    logistic_regression: dict[str, Any] = field(default_factory=dict)
    importance_sample_rows: int = 20_000
    importance_repeats: int = 3

    def __post_init__(self) -> None:
        if self.model not in ("hist_gradient_boosting", "logistic_regression"):
            raise ValueError(
                f"train.model must be 'hist_gradient_boosting' or 'logistic_regression', "
                f"got {self.model!r}"
            )

    @property
    def hyperparameters(self) -> dict[str, Any]:
        return dict(getattr(self, self.model))


@dataclass(frozen=True)
class GateParams:
    """The data-quality gate: budgets, bounds and where rejected data and reports go."""

    quarantine_root: str = "data/quarantine"
    validations_dir: str = "reports/validations"
    data_docs_dir: str = "reports/data_docs"
    gx_dir: str = "data/gx"
    row_quarantine_budget: float = 0.01
    unknown_carrier_budget: float = 0.01
    unknown_airport_budget: float = 0.05
    min_distance: float = 1
    max_distance: float = 6000
    max_delay_minutes: float = 1800
    row_count_history_days: int = 28
    row_count_min_history_days: int = 7
    row_count_tolerance: float = 0.5
    row_count_prior: tuple[int, int] = (100, 3000)
    null_share_ceilings: dict[str, dict[str, float]] = field(default_factory=dict)
    build_data_docs: bool = True
    warning_sample_rows: int = 200_000
    stream_above_rows: int = 500_000
    chunk_rows: int = 250_000
    key_bucket_rows: int = 1_000_000
    workers: int = 2

    def __post_init__(self) -> None:
        for name in ("row_quarantine_budget", "unknown_carrier_budget", "unknown_airport_budget"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"gate.{name} must be a share in [0, 1)")
        if self.row_count_prior[0] > self.row_count_prior[1]:
            raise ValueError("gate.row_count_prior must be [low, high]")
        if self.chunk_rows < 1 or self.workers < 1:
            raise ValueError("gate.chunk_rows and gate.workers must be positive")


@dataclass(frozen=True)
class ScoringParams:
    output_root: str = "data"  # predictions/ and shadow/ live under it; s3://… in production
    threshold: float = 0.35
    batch_rows: int = 100_000
    shard_rows: int = 500_000
    workers: int = 2  # shards scored at once by `mlops score` (the DAG maps tasks instead)
    wait_for_data_hours: float = 6.0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("scoring.threshold must be a probability in (0, 1)")
        if self.batch_rows < 1 or self.shard_rows < 1:
            raise ValueError("scoring.batch_rows and scoring.shard_rows must be positive")


HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "log_loss": False, "brier": False}


@dataclass(frozen=True)
class SliceRule:
    column: str
    min_size: int


@dataclass(frozen=True)
class PromotionPolicy:
    primary_metric: str = "roc_auc"
    min_improvement: float = 0.0
    confidence: float = 0.95
    bootstrap_samples: int = 1000
    seed: int = 42
    slices: tuple[SliceRule, ...] = ()
    log_path: str = "data/registry/promotion_log.jsonl"
    slice_tolerance: float = 0.02
    calibration_metric: str = "brier"
    calibration_tolerance: float = 0.002
    max_latency_ratio: float = 2.0
    absolute_floor: float = 0.55
    baseline_metric: str = "log_loss"

    def __post_init__(self) -> None:
        for name in (self.primary_metric, self.calibration_metric, self.baseline_metric):
            if name not in HIGHER_IS_BETTER:
                raise ValueError(
                    f"unknown metric {name!r}; expected one of {list(HIGHER_IS_BETTER)}"
                )
        if not 0.5 < self.confidence < 1:
            raise ValueError("promotion.confidence must be in (0.5, 1)")


@dataclass(frozen=True)
class MlflowParams:
    tracking_uri: str
    experiment: str
    registered_model: str

    @property
    def resolved_tracking_uri(self) -> str:
        return os.environ.get("MLFLOW_TRACKING_URI", self.tracking_uri)


@dataclass(frozen=True)
class Params:
    data: DataParams
    features: FeatureParams
    train: TrainParams
    mlflow: MlflowParams
    workspace: Path
    gate: GateParams = field(default_factory=GateParams)
    promotion: PromotionPolicy = field(default_factory=lambda: PromotionPolicy())
    scoring: ScoringParams = field(default_factory=ScoringParams)

    def workspace_path(self, relative_or_uri: str) -> str:
        """Resolve a params path against the workspace; URIs (s3://…) pass through."""
        if "://" in relative_or_uri:
            return relative_or_uri
        path = Path(relative_or_uri)
        return str(path if path.is_absolute() else self.workspace / path)

    @property
    def landing_root(self) -> str:
        """`MLOPS_LANDING_ROOT` (a deployment's bucket) overrides params."""
        return self.workspace_path(os.environ.get("MLOPS_LANDING_ROOT", self.data.landing_root))

    @property
    def snapshot_dir(self) -> Path:
        return Path(self.workspace_path(self.data.snapshot_dir))

    @property
    def artifacts_root(self) -> str:
        """`MLOPS_ARTIFACTS_ROOT` (shared storage for several workers) overrides params."""
        return self.workspace_path(os.environ.get("MLOPS_ARTIFACTS_ROOT", self.data.artifacts_root))


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def params_from_dict(raw: dict[str, Any], workspace: Path) -> Params:
    """Build typed params from the parsed YAML; unknown keys are an error, not ignored."""
    data = dict(raw["data"])
    train = dict(raw["train"])
    features = dict(raw.get("features", {}))
    gate = dict(raw.get("gate", {}))
    promotion = dict(raw.get("promotion", {}))
    promotion["slices"] = tuple(SliceRule(**rule) for rule in promotion.get("slices", []))
    if "row_count_prior" in gate:
        gate["row_count_prior"] = tuple(gate["row_count_prior"])
    if "weather_columns" in features:
        features["weather_columns"] = tuple(features["weather_columns"])
    params = Params(
        data=DataParams(
            landing_root=str(data["landing_root"]),
            snapshot_dir=str(data["snapshot_dir"]),
            snapshot_start=_as_date(data["snapshot_start"]),
            snapshot_end=_as_date(data["snapshot_end"]),
            artifacts_root=str(data["artifacts_root"]),
        ),
        features=FeatureParams(**features),
        train=TrainParams(**{**train, "holdout_start": _as_date(train["holdout_start"])}),
        mlflow=MlflowParams(**raw["mlflow"]),
        workspace=workspace,
        gate=GateParams(**gate),
        promotion=PromotionPolicy(**promotion),
        scoring=ScoringParams(**raw.get("scoring", {})),
    )
    if not params.data.snapshot_start <= params.train.holdout_start <= params.data.snapshot_end:
        raise ValueError("train.holdout_start must fall inside the snapshot window")
    return params


def load_params(path: Path | str | None = None) -> Params:
    """Read `params.yaml` (default: the workspace's) into frozen typed objects."""
    params_path = Path(path) if path else workspace_dir() / "params.yaml"
    with open(params_path) as handle:
        raw = yaml.safe_load(handle)
    return params_from_dict(raw, workspace=params_path.resolve().parent)
