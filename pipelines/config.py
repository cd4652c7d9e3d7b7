"""Typed view of `params.yaml`: read once, frozen, passed to the stage functions.

The workspace (where `params.yaml`, `dvc.yaml` and the DVC-tracked data live) defaults to the
repository root and can be moved with `MLOPS_WORKSPACE` (a deployed checkout, a test's clone),
so the same installed code runs against any checkout.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from features.params import FeatureParams

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


FAMILIES = ("hist_gradient_boosting", "logistic_regression")


@dataclass(frozen=True)
class SearchParams:
    """Family and hyperparameters chosen on time-aware folds (pipelines/training/search.py)."""

    enabled: bool
    families: tuple[str, ...]
    folds: int  # expanding monthly folds inside the training days (the newest ones)
    min_train_days: int  # a fold trains on at least this many days before its month
    candidates: int  # sampled configurations per family (successive halving keeps the best)
    halving_factor: int
    metric: str  # what the folds are scored on
    space: dict[str, dict[str, list[Any]]]  # per family: hyperparameter -> values to try

    def __post_init__(self) -> None:
        unknown = [f for f in (*self.families, *self.space) if f not in FAMILIES]
        if unknown:
            raise ValueError(f"train.search: unknown model families {unknown}")


@dataclass(frozen=True)
class CalibrationParams:
    """Probabilities calibrated on the newest training days, fit on the days before them
    (pipelines/training/calibration.py); the decision threshold is chosen on the same days."""

    days: int  # the calibration fold: the newest training days (the model never fits on them)
    max_share: float  # … at most this share of the training days
    method: str  # sigmoid (keeps the ranking, so ROC AUC) | isotonic
    missed_delay_cost: float  # cost of a late flight not flagged, in units of a false alarm

    def __post_init__(self) -> None:
        if self.method not in ("sigmoid", "isotonic"):
            raise ValueError(
                f"train.calibration.method must be sigmoid or isotonic, got {self.method!r}"
            )
        if self.days < 1 or self.missed_delay_cost <= 0 or not 0 < self.max_share < 1:
            raise ValueError(
                "train.calibration: days >= 1, missed_delay_cost > 0, max_share in (0, 1)"
            )


@dataclass(frozen=True)
class TrainParams:
    holdout_start: date
    model: str
    seed: int
    hist_gradient_boosting: dict[str, Any]
    logistic_regression: dict[str, Any]
    importance_sample_rows: int
    importance_repeats: int
    group_importance_repeats: int  # joint shuffles per feature group (its interval)
    group_budget_seconds_per_million_rows: float  # a group dearer than this must say why
    search: SearchParams
    calibration: CalibrationParams

    def __post_init__(self) -> None:
        if self.model not in FAMILIES:
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

    validated_root: str
    quarantine_root: str
    validations_dir: str
    data_docs_dir: str
    row_quarantine_budget: float
    unknown_carrier_budget: float
    unknown_airport_budget: float
    min_distance: float
    max_distance: float
    route_distance_tolerance: float
    max_delay_minutes: float
    row_count_history_days: int
    row_count_min_history_days: int
    row_count_tolerance: float
    row_count_prior: tuple[int, int]
    null_share_ceilings: dict[str, dict[str, float]]
    build_data_docs: bool
    warning_sample_rows: int
    stream_above_rows: int
    chunk_rows: int
    key_bucket_rows: int
    workers: int

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
    output_root: str
    batch_rows: int
    shard_rows: int
    workers: int
    wait_for_data_hours: float
    served_features_every: int  # every n-th row's served features kept (0: none)

    def __post_init__(self) -> None:
        if self.batch_rows < 1 or self.shard_rows < 1:
            raise ValueError("scoring.batch_rows and scoring.shard_rows must be positive")
        if self.served_features_every < 0:
            raise ValueError("scoring.served_features_every must be 0 (none) or positive")


@dataclass(frozen=True)
class ServingParams:
    host: str
    port: int
    max_flights_per_request: int
    max_body_bytes: int
    request_timeout_seconds: float
    rate_limit: str
    reload_seconds: float
    fallback_days: int
    fallback_min_flights: int
    served_log_dir: str = "data/served"  # every served flight with its inputs, by day (or s3://)
    served_log_flush_seconds: float = 30.0  # how often the buffered rows are written
    canary_share: float = 0.0  # of requests answered by the `challenger` while there is one
    max_weather_age_hours: float = 3.0  # older at the cutoff (or none): the fallback answers

    def __post_init__(self) -> None:
        if self.max_flights_per_request < 1 or self.max_body_bytes < 1:
            raise ValueError("serving.max_flights_per_request and max_body_bytes must be positive")
        if self.request_timeout_seconds <= 0 or self.reload_seconds <= 0:
            raise ValueError("serving.request_timeout_seconds and reload_seconds must be positive")
        if not 0.0 <= self.canary_share <= 1.0:
            raise ValueError("serving.canary_share must be in [0, 1]")


HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "log_loss": False, "brier": False}


@dataclass(frozen=True)
class SliceRule:
    column: str
    min_size: int
    pool: bool = (
        False  # in shadow, a value below min_size is pooled over days (promotion/shadow.py)
    )


@dataclass(frozen=True)
class SimplerModelsRule:
    """Every decision: the challenger against logistic regression and the base rate."""

    metrics: tuple[str, ...]  # each judged on the CI of the paired difference
    rule: str  # not_worse: no simpler model significantly better | beat: significantly better

    def __post_init__(self) -> None:
        if self.rule not in ("not_worse", "beat"):
            raise ValueError("promotion.simpler_models.rule must be 'not_worse' or 'beat'")


@dataclass(frozen=True)
class ShadowPolicy:
    """A challenger that passed offline serves in shadow (and canary) before it is champion."""

    min_nights: int  # labelled shadow nights before it is judged (0: promoted at once)
    max_nights: int  # not proven by then: retired

    def __post_init__(self) -> None:
        if self.min_nights < 0 or self.max_nights < self.min_nights:
            raise ValueError("promotion.shadow needs 0 <= min_nights <= max_nights")


@dataclass(frozen=True)
class PromotionPolicy:
    primary_metric: str
    min_improvement: float
    confidence: float
    bootstrap_samples: int
    seed: int
    slices: tuple[SliceRule, ...]
    log_path: str
    slice_tolerance: float
    calibration_metric: str
    calibration_tolerance: float
    max_latency_ratio: float
    absolute_floor: float
    baseline_metric: str
    slice_floor: float  # of the primary metric, on every sized slice, for the first model
    simpler_models: SimplerModelsRule
    shadow: ShadowPolicy

    def __post_init__(self) -> None:
        for name in (self.primary_metric, self.calibration_metric, self.baseline_metric):
            if name not in HIGHER_IS_BETTER:
                raise ValueError(
                    f"unknown metric {name!r}; expected one of {list(HIGHER_IS_BETTER)}"
                )
        if not 0.5 < self.confidence < 1:
            raise ValueError("promotion.confidence must be in (0.5, 1)")


#: The triggers `monitoring.verdict.act_triggers` may make `act` (the others are always
#: `watch`: an outage, a NaN input, too few rows or late labels say nothing about retraining).
ACTIONABLE_TRIGGERS = (
    "important_drift",
    "important_drift_mild",
    "severe_drift",
    "minor_drift",
    "out_of_range",
    "prediction_drift",
    "performance_drop",
    "performance_dip",
    "estimate_drop",
)


@dataclass(frozen=True)
class VerdictPolicy:
    """How the nightly signals become `ok` / `watch` / `act` (pipelines/monitoring/verdict.py)."""

    important_features: int
    minor_drift_min_columns: int
    performance_tolerance: float
    estimate_tolerance: float
    labels_late_days: int
    feature_missing_reference_share: float
    performance_reference: str = "estimate"  # the bar observed ROC AUC is held to: estimate|holdout
    min_labelled_days: int = 3  # fewer labelled days in the window: performance not judged
    severe_drift_factor: float = 2.0  # score at or above factor × threshold: severe drift
    out_of_range_share: float = 0.05  # share of rows outside the reference's range: `watch`
    out_of_range_margin: float = 0.5  # the range widened by this share of its span each side
    max_model_age_days: int = 120  # the model's training data older than this: `model_stale`
    act_triggers: tuple[str, ...] = (
        "important_drift",
        "severe_drift",
        "minor_drift",
        "prediction_drift",
    )  # the triggers that are `act` (page, feed the guard); every other is `watch`

    def __post_init__(self) -> None:
        unknown = sorted(set(self.act_triggers) - set(ACTIONABLE_TRIGGERS))
        if unknown:
            raise ValueError(
                f"monitoring.verdict.act_triggers: {unknown} cannot be `act` "
                f"(one of {list(ACTIONABLE_TRIGGERS)})"
            )
        if self.performance_reference not in ("estimate", "holdout"):
            raise ValueError(
                f"monitoring.verdict.performance_reference: {self.performance_reference!r} "
                "is not one of estimate, holdout"
            )


@dataclass(frozen=True)
class MonitoringParams:
    reports_dir: str
    alerts_path: str
    reference_rows: int
    reference_seed: int
    current_sample_rows: int
    min_rows: int
    numeric_method: str
    categorical_method: str
    per_column_method: dict[str, str]
    threshold_quantile: float
    prediction_threshold_quantile: float
    exempt_columns: tuple[str, ...]
    rolling_days: int
    confidence: float
    top_columns: int
    history_days_on_page: int
    alert_repeat_days: int
    page_clear_nights: int
    drift_by_day_type: bool
    verdict: VerdictPolicy
    skew_tolerance: float = 1e-9  # relative: online and batch share the feature code to the bit
    skew_max_share: float = 0.01  # a model input differing on more of its served rows: skewed

    def __post_init__(self) -> None:
        for name in ("threshold_quantile", "prediction_threshold_quantile"):
            if not 0.5 <= getattr(self, name) <= 1.0:
                raise ValueError(f"monitoring.{name} must be in [0.5, 1]")
        if self.reference_rows < 1000 or self.current_sample_rows < 100:
            raise ValueError("monitoring.reference_rows >= 1000, current_sample_rows >= 100")


@dataclass(frozen=True)
class GuardPolicy:
    """When monitoring may request a retraining (pipelines/retraining/guard.py)."""

    act_nights: int
    of_last_nights: int
    cooldown_days: int
    min_new_labelled_flights: int

    def __post_init__(self) -> None:
        if not 1 <= self.act_nights <= self.of_last_nights:
            raise ValueError("retraining.guard: need 1 <= act_nights <= of_last_nights")


@dataclass(frozen=True)
class RetrainingParams:
    """The moving training window of a retraining run, and its guard."""

    window_days: int
    holdout_days: int
    earliest_day: date
    windows_dir: str
    fallback_cron: str | None
    guard: GuardPolicy
    alert_after_refusals: int = 3  # this many challengers refused in a row: the notifier fires

    def __post_init__(self) -> None:
        if not 7 <= self.holdout_days < self.window_days:
            raise ValueError("retraining: need 7 <= holdout_days < window_days")


SIMULATED_POLICIES = ("frozen", "scheduled", "guarded")


#: What `mlops simulate` may choose each verdict threshold among (`simulation.threshold_candidates`)
THRESHOLD_CANDIDATES: dict[str, tuple[float, ...]] = {
    "severe_drift_factor": (1.5, 2.0, 3.0, 4.0),
    "minor_drift_min_columns": (2, 3, 4, 6),
    "out_of_range_share": (0.02, 0.05, 0.1),
    "out_of_range_margin": (0.25, 0.5, 1.0),
    "min_labelled_days": (1, 2, 3, 5, 7),
    "max_model_age_days": (60, 90, 120, 150, 180),
}
#: … and the retraining guard's `k` of `n` nights and cooldown (`simulation.guard_candidates`)
GUARD_CANDIDATES: dict[str, tuple[int, ...]] = {
    "act_nights": (1, 2, 3),
    "of_last_nights": (3, 5, 7),
    "cooldown_days": (7, 14, 28),
}


@dataclass(frozen=True)
class SimulationParams:
    """The year replay (`mlops simulate`, pipelines/replay/)."""

    start: date
    end: date
    first_model_days: int
    search: bool  # tune at every retraining of the replay too (train.search; costly)
    report_from: date
    bootstrap_samples: int
    seed: int
    output_dir: str
    policies: tuple[str, ...] = ("frozen", "scheduled", "guarded")
    guard_variants: dict[str, dict[str, int]] = field(default_factory=dict)
    benefit_every_days: int = 7  # the nights whose retraining benefit is measured
    benefit_horizon_days: int = 14  # the labelled days after a night the benefit is scored on
    block_days: int = 28  # the block bootstrap's block (neighbouring days are alike)
    # signal quality is reported separately before this day (where a threshold, `k`, `n` or a
    # cooldown may be chosen) and from it (where it is reported, on days it was not chosen on)
    choose_before: date = date(2013, 7, 1)
    # monitoring.page_clear_nights is the smallest of these that keeps the production guard's
    # serving model within this many pages a month on the nights before `choose_before`
    page_budget_per_month: float = 2.0
    page_budget_safety: float = 0.5  # choose within this share of the budget before the cut
    page_clear_candidates: tuple[int, ...] = (3, 5, 7, 10, 14)
    # the verdict's thresholds and the guard's `k`, `n`, cooldown are chosen among these on the
    # nights before `choose_before` (pipelines/replay/thresholds.py); every night records
    # what a verdict under each needs (out-of-range shares at each margin among them)
    threshold_candidates: dict[str, tuple[float, ...]] = field(
        default_factory=lambda: dict(THRESHOLD_CANDIDATES)
    )
    guard_candidates: dict[str, tuple[int, ...]] = field(
        default_factory=lambda: dict(GUARD_CANDIDATES)
    )

    def __post_init__(self) -> None:
        for name, known in (
            ("threshold_candidates", THRESHOLD_CANDIDATES),
            ("guard_candidates", GUARD_CANDIDATES),
        ):
            unknown = sorted(set(getattr(self, name)) - set(known))
            if unknown:
                raise ValueError(f"simulation.{name}: unknown {unknown} (one of {list(known)})")


@dataclass(frozen=True)
class CostParams:
    """What a run costs (`pipelines/run_cost.py` records it, `mlops cost` sums a month)."""

    ledger_dir: str  # stage=S/day=D/part=P.json per measured run (or s3://…)
    cpu_hour_usd: float  # the price of one CPU-hour on the machines that run the loop
    storage_gb_month_usd: float  # of one GB kept for a month (object storage)


@dataclass(frozen=True)
class ExplainParams:
    """`mlops explain` (pipelines/scoring/explain.py) and the on-call page's flights to explain."""

    background_rows: int  # the day's flights the feature values are masked with (shap's background)
    max_evals: int  # model calls per flight (shap's permutation budget; raised to 2 × features + 1)
    seed: int  # which background flights, and the permutations: the same answer every run
    page_flights: int  # the labelled flights with the largest log loss listed on the on-call page

    def __post_init__(self) -> None:
        if self.background_rows < 1 or self.max_evals < 1 or self.page_flights < 0:
            raise ValueError(
                "explain.background_rows and explain.max_evals must be positive, "
                "explain.page_flights 0 (none) or positive"
            )


@dataclass(frozen=True)
class MlflowParams:
    tracking_uri: str
    experiment: str
    registered_model: str


@dataclass(frozen=True)
class Params:
    data: DataParams
    features: FeatureParams
    train: TrainParams
    mlflow: MlflowParams
    workspace: Path
    gate: GateParams
    promotion: PromotionPolicy
    scoring: ScoringParams
    serving: ServingParams
    monitoring: MonitoringParams
    retraining: RetrainingParams
    simulation: SimulationParams
    cost: CostParams
    explain: ExplainParams

    def workspace_path(self, relative_or_uri: str) -> str:
        """Resolve a params path against the workspace; URIs (s3://…) pass through."""
        if "://" in relative_or_uri:
            return relative_or_uri
        path = Path(relative_or_uri)
        return str(path if path.is_absolute() else self.workspace / path)

    @property
    def landing_root(self) -> str:
        return self.workspace_path(self.data.landing_root)

    @property
    def snapshot_dir(self) -> Path:
        return Path(self.workspace_path(self.data.snapshot_dir))

    @property
    def artifacts_root(self) -> str:
        return self.workspace_path(self.data.artifacts_root)


#: Environment variables a deployment sets instead of editing params.yaml (a bucket, a server):
#: applied once, in `load_params`, to the key they name.
ENV_OVERRIDES = {
    "MLFLOW_TRACKING_URI": ("mlflow", "tracking_uri"),
    "MLOPS_LANDING_ROOT": ("data", "landing_root"),
    "MLOPS_ARTIFACTS_ROOT": ("data", "artifacts_root"),
    "MLOPS_OUTPUT_ROOT": ("scoring", "output_root"),
    "MLOPS_VALIDATED_ROOT": ("gate", "validated_root"),
    "MLOPS_QUARANTINE_ROOT": ("gate", "quarantine_root"),
    "MLOPS_DATA_DOCS": ("gate", "data_docs_dir"),
    "MLOPS_VALIDATIONS": ("gate", "validations_dir"),
    "MLOPS_PROMOTION_LOG": ("promotion", "log_path"),
    "MLOPS_MONITORING_REPORTS": ("monitoring", "reports_dir"),
    "MLOPS_ALERTS": ("monitoring", "alerts_path"),
    "MLOPS_COST_LEDGER": ("cost", "ledger_dir"),
}


def with_environment_overrides(
    raw: dict[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A copy of the parsed YAML with `ENV_OVERRIDES` applied (only those set)."""
    environ = os.environ if environ is None else environ
    resolved = {section: dict(values) for section, values in raw.items()}
    for variable, (section, key) in ENV_OVERRIDES.items():
        if environ.get(variable):
            resolved[section][key] = environ[variable]
    return resolved


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def params_from_dict(raw: dict[str, Any], workspace: Path) -> Params:
    """Build typed params from the parsed YAML: every key required, unknown keys refused."""
    data = dict(raw["data"])
    train = dict(raw["train"])
    search = dict(train["search"])
    train["search"] = SearchParams(**{**search, "families": tuple(search["families"])})
    train["calibration"] = CalibrationParams(**train["calibration"])
    features = dict(raw["features"])
    gate = dict(raw["gate"])
    promotion = dict(raw["promotion"])
    promotion["slices"] = tuple(SliceRule(**rule) for rule in promotion["slices"])
    simpler = dict(promotion["simpler_models"])
    promotion["simpler_models"] = SimplerModelsRule(
        **{**simpler, "metrics": tuple(simpler["metrics"])}
    )
    promotion["shadow"] = ShadowPolicy(**promotion["shadow"])
    gate["row_count_prior"] = tuple(gate["row_count_prior"])
    features["weather_columns"] = tuple(features["weather_columns"])
    monitoring = dict(raw["monitoring"])
    monitoring["exempt_columns"] = tuple(monitoring["exempt_columns"])
    verdict = dict(monitoring["verdict"])
    if "act_triggers" in verdict:
        verdict["act_triggers"] = tuple(verdict["act_triggers"])
    monitoring["verdict"] = VerdictPolicy(**verdict)
    retraining = dict(raw["retraining"])
    retraining["earliest_day"] = _as_date(retraining["earliest_day"])
    retraining["guard"] = GuardPolicy(**retraining["guard"])
    params = Params(
        data=DataParams(
            **{
                **data,
                "snapshot_start": _as_date(data["snapshot_start"]),
                "snapshot_end": _as_date(data["snapshot_end"]),
            }
        ),
        features=FeatureParams(**features),
        train=TrainParams(**{**train, "holdout_start": _as_date(train["holdout_start"])}),
        mlflow=MlflowParams(**raw["mlflow"]),
        workspace=workspace,
        gate=GateParams(**gate),
        promotion=PromotionPolicy(**promotion),
        scoring=ScoringParams(**raw["scoring"]),
        serving=ServingParams(**raw["serving"]),
        monitoring=MonitoringParams(**monitoring),
        retraining=RetrainingParams(**retraining),
        simulation=SimulationParams(
            **{
                **raw["simulation"],
                **{
                    k: _as_date(raw["simulation"][k])
                    for k in ("start", "end", "report_from", "choose_before")
                    if k in raw["simulation"]
                },
                "policies": tuple(raw["simulation"].get("policies", SIMULATED_POLICIES)),
                "page_clear_candidates": tuple(
                    raw["simulation"].get(
                        "page_clear_candidates", SimulationParams.page_clear_candidates
                    )
                ),
                **{
                    name: {
                        **known,
                        **{k: tuple(v) for k, v in raw["simulation"].get(name, {}).items()},
                    }
                    for name, known in (
                        ("threshold_candidates", THRESHOLD_CANDIDATES),
                        ("guard_candidates", GUARD_CANDIDATES),
                    )
                },
            }
        ),
        cost=CostParams(**raw["cost"]),
        explain=ExplainParams(**raw["explain"]),
    )
    if not params.data.snapshot_start <= params.train.holdout_start <= params.data.snapshot_end:
        raise ValueError("train.holdout_start must fall inside the snapshot window")
    return params


def load_params(path: Path | str | None = None) -> Params:
    """Read `params.yaml` (default: the workspace's) into frozen typed objects, with the
    deployment's environment overrides (`ENV_OVERRIDES`) applied once, here."""
    params_path = Path(path) if path else workspace_dir() / "params.yaml"
    with open(params_path) as handle:
        raw = yaml.safe_load(handle)
    return params_from_dict(with_environment_overrides(raw), workspace=params_path.resolve().parent)


class OverrideError(ValueError):
    """A per-run override that names no key of params.yaml, or the wrong type for its key."""


def with_overrides(
    params: Params, overrides: Mapping[str, Any], sections: tuple[str, ...] | None = None
) -> Params:
    """`params` with dotted params.yaml keys replaced for one run (a manual run's form:
    `{"train.hist_gradient_boosting.max_leaf_nodes": 15}`), each checked first: the key must
    name a value (not a section) of params.yaml inside `sections` (all when None), and the new
    value must have that value's type (an int is a float; a date is an ISO string). Every bad key
    is named in one `OverrideError`. The typed objects are rebuilt, so their own checks run."""
    problems = [
        problem
        for key, value in overrides.items()
        if (problem := _override_problem(params, key, value, sections))
    ]
    if problems:
        raise OverrideError("params overrides refused: " + "; ".join(problems))
    for key, value in overrides.items():
        try:
            params = _replaced(params, key.split("."), _coerced(_current(params, key), value))
        except ValueError as refused:  # a typed object's own check (`train.model`, …)
            raise OverrideError(f"params override {key!r} refused: {refused}") from refused
    return params


def _current(node: Any, key: str) -> Any:
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def _override_problem(
    params: Params, key: str, value: Any, sections: tuple[str, ...] | None
) -> str | None:
    parts = key.split(".")
    node: Any = params
    for depth, part in enumerate(parts):
        known = node if isinstance(node, dict) else _fields(node)
        if part not in known:
            where = ".".join(parts[:depth]) or "params.yaml"
            return f"{key!r} is not a key of params.yaml (no {part!r} in {where})"
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    if sections is not None and parts[0] not in sections:
        return f"{key!r} is outside the sections a run may override ({', '.join(sections)})"
    if isinstance(node, (dict, Path)) or dataclasses.is_dataclass(node):
        return f"{key!r} is a section, not a value: name one of its keys"
    if not _same_type(node, value):
        return f"{key!r} takes {_type_name(node)}, got {value!r}"
    return None


def _fields(node: Any) -> set[str]:
    return {f.name for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else set()


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _type_name(current: Any) -> str:
    if current is None:
        return "a plain value"
    if isinstance(current, date):
        return "a date (YYYY-MM-DD)"
    if isinstance(current, (tuple, list)):
        return "a list"
    return _TYPE_NAMES.get(type(current), type(current).__name__)


def _same_type(current: Any, value: Any) -> bool:
    if current is None:  # unset in params.yaml: any plain value, or unset again
        return value is None or isinstance(value, (str, int, float, bool))
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if isinstance(current, float):
        return isinstance(value, (int, float))
    if isinstance(current, date):
        try:
            _as_date(value)
        except (TypeError, ValueError):
            return False
        return True
    if isinstance(current, (tuple, list)):
        return isinstance(value, (tuple, list)) and all(
            _same_type(current[0], item) for item in value if current
        )
    return isinstance(value, type(current))


def _coerced(current: Any, value: Any) -> Any:
    if isinstance(current, float):
        return float(value)
    if isinstance(current, date):
        return _as_date(value)
    if isinstance(current, tuple):
        return tuple(value)
    return value


def _replaced(node: Any, parts: list[str], value: Any) -> Any:
    head, rest = parts[0], parts[1:]
    if isinstance(node, dict):
        return {**node, head: _replaced(node[head], rest, value) if rest else value}
    inner = _replaced(getattr(node, head), rest, value) if rest else value
    return dataclasses.replace(node, **{head: inner})
