"""Champion vs challenger: a promotion decision you can defend (pure functions, no MLflow).

`decide(...)` compares two models' probabilities on the same holdout:
* the primary metric's improvement is judged on a confidence interval of the paired
  difference (DeLong for ROC AUC, a paired bootstrap for losses), never on a point estimate;
* no slice that matters may get worse by more than the tolerance;
* calibration may not get worse beyond its tolerance;
* batch inference speed must stay within a budget of the champion's;
* on every decision, logistic regression and the base rate may not be significantly better
  (`simpler_models`; or must be significantly worse, with `rule: beat`).
With no champion, the challenger must clear an absolute floor, a floor on every sized slice
and beat the naive baselines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import (
    HIGHER_IS_BETTER,  # noqa: E402
    PromotionPolicy,
    SliceRule,
)
from pipelines.promotion.statistics import (
    compare_with_simpler_models,
    metric_difference,
    slice_table,
)
from pipelines.training.evaluate import classification_metrics, with_slice_columns


@dataclass(frozen=True)
class ModelScores:
    """One model's holdout probabilities and its measured batch inference speed."""

    label: str
    version: str | None
    probability: np.ndarray
    seconds_per_million_rows: float | None = None


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    promote: bool
    challenger_version: str | None
    champion_version: str | None
    checks: tuple[Check, ...]

    @property
    def reasons(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.passed]

    @property
    def summary(self) -> str:
        verdict = "PROMOTE" if self.promote else "REJECT"
        against = f"champion v{self.champion_version}" if self.champion_version else "no champion"
        why = "all checks passed" if self.promote else "; ".join(self.reasons)
        return f"{verdict} challenger v{self.challenger_version} against {against}: {why}"

    def as_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["summary"] = self.summary
        raw["reasons"] = self.reasons
        return raw


def _signed(metric: str, value: float) -> float:
    """Orient a metric difference so that positive always means 'challenger better'."""
    return value if HIGHER_IS_BETTER[metric] else -value


def improvement_check(y, challenger, champion, policy) -> Check:
    interval = metric_difference(
        policy.primary_metric, y, challenger.probability, champion.probability, policy
    )
    # Orient so that `low` is the pessimistic improvement of the challenger.
    if HIGHER_IS_BETTER[policy.primary_metric]:
        improvement_low, improvement_high = interval.low, interval.high
        estimate = interval.estimate
    else:
        improvement_low, improvement_high = -interval.high, -interval.low
        estimate = -interval.estimate
    passed = improvement_low > policy.min_improvement
    return Check(
        "primary_metric_improvement",
        passed,
        f"{policy.primary_metric} improvement {estimate:+.4f}, {policy.confidence:.0%} CI lower "
        f"bound {improvement_low:+.4f} ({interval.method}) "
        + ("exceeds" if passed else "does not exceed")
        + f" min_improvement {policy.min_improvement:+.4f}",
        {
            "interval": asdict(interval),
            "improvement_low": improvement_low,
            "improvement_high": improvement_high,
        },
    )


def judged_slice_columns(holdout: pd.DataFrame, policy: PromotionPolicy) -> pd.DataFrame:
    """The columns the policy's slice rules judge, the derived ones (`dest_region`,
    `dep_hour_band`) included."""
    return with_slice_columns(holdout).loc[:, [rule.column for rule in policy.slices]]


def slice_regression_check(
    rule: SliceRule,
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    values: pd.Series,
    policy: PromotionPolicy,
    note: str = "",
) -> Check:
    """No value of `rule.column` with at least `min_size` rows may get worse than
    `slice_tolerance` (`note`, if given, says how the rows were gathered)."""
    metric = policy.primary_metric
    new = slice_table(y, challenger, values, metric, rule.min_size)
    old = slice_table(y, champion, values, metric, rule.min_size)
    regressions = {}
    for value in sorted(set(new) & set(old)):
        change = _signed(metric, new[value][metric] - old[value][metric])
        if change < -policy.slice_tolerance:
            regressions[value] = round(change, 4)
    return Check(
        f"slices:{rule.column}",
        not regressions,
        f"{len(new)} slices of >= {rule.min_size} rows{note}; "
        + (
            f"worse by more than {policy.slice_tolerance}: {regressions}"
            if regressions
            else f"none worse by more than {policy.slice_tolerance}"
        ),
        {"challenger": new, "champion": old, "regressions": regressions},
    )


def _slice_checks(y, challenger, champion, slice_columns: pd.DataFrame, policy) -> list[Check]:
    return [
        slice_regression_check(
            rule,
            y,
            challenger.probability,
            champion.probability,
            slice_columns[rule.column],
            policy,
        )
        for rule in policy.slices
    ]


def calibration_check(y, challenger, champion, policy) -> Check:
    metric = policy.calibration_metric
    new = classification_metrics(y, challenger.probability)[metric]
    old = classification_metrics(y, champion.probability)[metric]
    worsening = -_signed(metric, new - old)
    passed = worsening <= policy.calibration_tolerance
    return Check(
        "calibration",
        passed,
        f"{metric} {old:.4f} -> {new:.4f} (worse by {max(worsening, 0):.4f}, tolerance "
        f"{policy.calibration_tolerance})",
        {"challenger": new, "champion": old},
    )


def _latency_check(challenger: ModelScores, champion: ModelScores, policy) -> Check:
    if not challenger.seconds_per_million_rows or not champion.seconds_per_million_rows:
        unmeasured = [m.label for m in (challenger, champion) if not m.seconds_per_million_rows]
        return Check(
            "inference_speed",
            False,
            f"not measured for the {' and the '.join(unmeasured)}: a speed nobody measured "
            "cannot be within budget",
            {},
        )
    ratio = challenger.seconds_per_million_rows / champion.seconds_per_million_rows
    return Check(
        "inference_speed",
        ratio <= policy.max_latency_ratio,
        f"{challenger.seconds_per_million_rows:.2f} s vs {champion.seconds_per_million_rows:.2f} s "
        f"per million rows (ratio {ratio:.2f}, budget {policy.max_latency_ratio})",
        {"ratio": ratio},
    )


def _slice_floor_checks(
    y, challenger: ModelScores, slice_columns: pd.DataFrame, policy
) -> list[Check]:
    """A first model must clear `slice_floor` on every slice of at least `min_size` rows: no
    sized carrier or airport is served by a model no better than the floor."""
    metric = policy.primary_metric
    checks = []
    for rule in policy.slices:
        table = slice_table(
            y, challenger.probability, slice_columns[rule.column], metric, rule.min_size
        )
        below = {
            value: round(row[metric], 4)
            for value, row in sorted(table.items())
            if _signed(metric, row[metric] - policy.slice_floor) < 0
        }
        weakest = min(table.items(), key=lambda kv: _signed(metric, kv[1][metric]), default=None)
        checks.append(
            Check(
                f"slice_floor:{rule.column}",
                not below,
                f"{len(table)} slices of >= {rule.min_size} rows; "
                + (
                    f"below the {metric} floor {policy.slice_floor}: {below}"
                    if below
                    else f"none below the {metric} floor {policy.slice_floor}"
                    + (f" (weakest {weakest[0]} {weakest[1][metric]:.4f})" if weakest else "")
                ),
                {"challenger": table, "below": below},
            )
        )
    return checks


def _first_model_checks(
    y,
    challenger: ModelScores,
    baselines: dict[str, np.ndarray],
    slice_columns: pd.DataFrame,
    policy,
) -> list[Check]:
    primary = classification_metrics(y, challenger.probability)[policy.primary_metric]
    floor_ok = _signed(policy.primary_metric, primary - policy.absolute_floor) >= 0
    checks = [
        Check(
            "absolute_floor",
            floor_ok,
            f"{policy.primary_metric} {primary:.4f} vs floor {policy.absolute_floor}",
            {"value": primary},
        )
    ]
    checks.extend(_slice_floor_checks(y, challenger, slice_columns, policy))
    metric = policy.baseline_metric
    mine = classification_metrics(y, challenger.probability)[metric]
    for name, probability in baselines.items():
        theirs = classification_metrics(y, probability)[metric]
        checks.append(
            Check(
                f"beats_baseline:{name}",
                _signed(metric, mine - theirs) > 0,
                f"{metric} {mine:.4f} vs {name} {theirs:.4f}",
                {"challenger": mine, "baseline": theirs},
            )
        )
    return checks


def _simpler_model_checks(
    y, challenger: ModelScores, baselines: dict[str, np.ndarray], policy
) -> list[Check]:
    """The challenger against each simpler model on each metric, like against the champion.
    `not_worse` refuses when the simpler model is significantly better; `beat` also when the
    challenger is not significantly better. The detail says which model wins."""
    rule = policy.simpler_models
    checks = []
    for c in compare_with_simpler_models(
        y, challenger.probability, baselines, rule.metrics, policy
    ):
        passed = c.low > 0 if rule.rule == "beat" else c.high >= 0
        checks.append(
            Check(
                f"simpler_model:{c.baseline}:{c.metric}",
                passed,
                f"challenger minus {c.baseline} on {c.metric} {c.estimate:+.4f}, "
                f"{policy.confidence:.0%} CI [{c.low:+.4f}, {c.high:+.4f}] ({c.method}): "
                f"{c.verdict} (rule: {rule.rule})",
                {"comparison": asdict(c), "verdict": c.verdict},
            )
        )
    return checks


#: The run tags that say a model was trained from a tree with uncommitted changes
UNCOMMITTED_TAGS = ("code.source_dirty", "params.git_dirty")
#: The run tag of a manual run's per-run params overrides (the `training` form), as JSON
OVERRIDES_TAG = "params.overrides"


def committed_tree_check(run_tags: Mapping[str, str]) -> Check:
    """A model trained from uncommitted code or params cannot be rebuilt from the revision on
    its run, so it is not promoted; `mlops promote --force --reason` overrides it, logged.
    Per-run overrides (`params.overrides`, from the trigger form) are params.yaml values that
    were never committed either: such a run is an experiment, refused the same way (and its
    features may differ from what scoring computes with the committed params).
    A model whose run records none of these tags (fitted outside `train_and_log`) is not judged."""
    dirty = [tag for tag in UNCOMMITTED_TAGS if run_tags.get(tag) == "true"]
    overrides = run_tags.get(OVERRIDES_TAG, "")
    if overrides not in ("", "{}"):
        dirty.append(OVERRIDES_TAG)
    revision = run_tags.get("code.git_rev", "unknown")
    if dirty:
        overridden = (
            f"; overridden for this run only: {overrides} (an experiment: put the values in "
            "params.yaml, commit and retrain to promote them)"
            if OVERRIDES_TAG in dirty
            else ""
        )
        return Check(
            "committed_tree",
            False,
            f"trained from a tree with uncommitted changes ({', '.join(dirty)} on its run): "
            f"revision {revision} does not rebuild it{overridden}. Commit and retrain, or "
            "`mlops promote --force --reason ...`",
            {"uncommitted": dirty, "code.git_rev": revision},
        )
    return Check(
        "committed_tree",
        True,
        f"trained from committed code and params (revision {revision})",
        {"uncommitted": [], "code.git_rev": revision},
    )


def with_check(decision: Decision, check: Check) -> Decision:
    """The decision with one more check: it promotes only if that passes too."""
    return Decision(
        decision.promote and check.passed,
        decision.challenger_version,
        decision.champion_version,
        (*decision.checks, check),
    )


def check_outcomes(checks: Iterable[Any]) -> str:
    """A decision's checks in one spelling, `name=1|0` sorted (from `Check`s or their dicts)."""
    pairs = []
    for check in checks:
        name, passed = (
            (check["name"], check["passed"])
            if isinstance(check, dict)
            else (check.name, check.passed)
        )
        pairs.append(f"{name}={int(bool(passed))}")
    return ",".join(sorted(pairs))


def decide(
    y_true: np.ndarray,
    challenger: ModelScores,
    champion: ModelScores | None,
    baselines: dict[str, np.ndarray],
    slice_columns: pd.DataFrame,
    policy: PromotionPolicy,
) -> Decision:
    """Promote only if every check passes; the checks carry every number behind the verdict."""
    y = np.asarray(y_true).astype(int)
    if champion is None:
        checks = _first_model_checks(y, challenger, baselines, slice_columns, policy)
    else:
        checks = [
            improvement_check(y, challenger, champion, policy),
            *_slice_checks(y, challenger, champion, slice_columns, policy),
            calibration_check(y, challenger, champion, policy),
            _latency_check(challenger, champion, policy),
        ]
    checks.extend(_simpler_model_checks(y, challenger, baselines, policy))
    return Decision(
        promote=all(check.passed for check in checks),
        challenger_version=challenger.version,
        champion_version=champion.version if champion else None,
        checks=tuple(checks),
    )
