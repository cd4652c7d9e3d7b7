"""One night's verdict from its signals: a pure function, its policy in `params.yaml`.

* `act`: drift on an important feature (the top ones by permutation importance), a breach of
  prediction drift, or a confirmed performance drop (the rolling window's ROC AUC interval
  lies entirely below the holdout's figure, by more than the tolerance at its point).
* `watch`: drift on enough minor features, a drop inside its interval, or an estimated ROC
  AUC below the holdout's by more than its tolerance.
* `ok` otherwise. Missing labels are said ("labels pending for D"), never an error; missing
  for `labels_late_days` days of the window, they are `watch` (the label feed is broken).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pipelines.config import VerdictPolicy
from pipelines.monitoring.drift import SCORE_COLUMN

OK, WATCH, ACT = "ok", "watch", "act"
_RANK = {OK: 0, WATCH: 1, ACT: 2}


@dataclass(frozen=True)
class ObservedWindow:
    """Delayed-label ROC AUC over the rolling window, with its interval."""

    roc_auc: float
    low: float
    high: float
    days: int
    rows: int


@dataclass(frozen=True)
class Signals:
    drifted: tuple[str, ...]  # drifted columns, the score column included
    important: tuple[str, ...]  # the model's most important features
    rows: int
    min_rows: int
    holdout_roc_auc: float
    estimated_roc_auc: float | None
    observed: ObservedWindow | None  # None: no labelled day in the window yet
    labels_missing: tuple[str, ...] = ()  # days of the window whose outcomes have not landed


@dataclass(frozen=True)
class Verdict:
    level: str
    reasons: tuple[str, ...]
    triggers: tuple[str, ...] = field(default_factory=tuple)  # stable names, worst first

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide_verdict(signals: Signals, policy: VerdictPolicy) -> Verdict:
    findings: list[tuple[str, str, str]] = []  # (level, trigger, reason)
    if signals.rows < signals.min_rows:
        findings.append(
            (
                WATCH,
                "too_few_rows",
                f"only {signals.rows} scored rows (< {signals.min_rows}): drift not judged",
            )
        )
    else:
        important = [c for c in signals.drifted if c in signals.important]
        minor = [c for c in signals.drifted if c not in signals.important and c != SCORE_COLUMN]
        if SCORE_COLUMN in signals.drifted:
            findings.append(
                (ACT, "prediction_drift", "the champion's scores drifted from its reference")
            )
        if important:
            findings.append(
                (ACT, "important_drift", f"drift on important features: {', '.join(important)}")
            )
        if len(minor) >= policy.minor_drift_min_columns:
            findings.append((WATCH, "minor_drift", f"drift on minor features: {', '.join(minor)}"))
    holdout = signals.holdout_roc_auc
    observed = signals.observed
    if observed is None:
        findings.append(
            (OK, "performance_pending", "performance pending: no labels in the window yet")
        )
    elif observed.high < holdout and observed.roc_auc < holdout - policy.performance_tolerance:
        findings.append(
            (
                ACT,
                "performance_drop",
                f"ROC AUC {observed.roc_auc:.3f} [{observed.low:.3f}, {observed.high:.3f}] over "
                f"{observed.days} labelled days is below the holdout's {holdout:.3f}",
            )
        )
    elif observed.roc_auc < holdout - policy.performance_tolerance:
        findings.append(
            (
                WATCH,
                "performance_dip",
                f"ROC AUC {observed.roc_auc:.3f} over {observed.days} days is below the holdout's "
                f"{holdout:.3f}, inside its interval [{observed.low:.3f}, {observed.high:.3f}]",
            )
        )
    if len(signals.labels_missing) >= policy.labels_late_days:
        findings.append(
            (
                WATCH,
                "labels_late",
                f"labels missing for {len(signals.labels_missing)} days: "
                + ", ".join(signals.labels_missing),
            )
        )
    elif signals.labels_missing:
        findings.append(
            (OK, "labels_pending", f"labels pending for {', '.join(signals.labels_missing)}")
        )
    estimate = signals.estimated_roc_auc
    if estimate is not None and estimate < holdout - policy.estimate_tolerance:
        findings.append(
            (WATCH, "estimate_drop", f"estimated ROC AUC {estimate:.3f} (holdout {holdout:.3f})")
        )
    level = max((f[0] for f in findings), key=_RANK.__getitem__, default=OK)
    reasons = tuple(f[2] for f in sorted(findings, key=lambda f: -_RANK[f[0]]))
    triggers = tuple(
        f[1] for f in sorted(findings, key=lambda f: (-_RANK[f[0]], f[1])) if f[0] != OK
    )
    return Verdict(level, reasons or ("no signal",), triggers)


def important_features(importance: dict[str, float], count: int) -> tuple[str, ...]:
    ranked = sorted(importance.items(), key=lambda kv: -kv[1])
    return tuple(name for name, value in ranked[:count] if value > 0)
