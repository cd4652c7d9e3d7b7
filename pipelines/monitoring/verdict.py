"""One night's verdict from its signals: a pure function, its policy in `params.yaml`.

`act` is the page and the retraining guard's input, so it must say "a retraining would help",
not "something moved". Which triggers are `act` is a measured choice (`act_triggers`): each
signal's precision and recall against the benefit a retraining would have had, measured by
`make simulate` on the nights before `simulation.choose_before` and reported on those after
(README). Every other trigger is `watch`: logged, on the page, named in the verdict.

Triggers (the default level each gets when it is in `act_triggers`, `watch` otherwise):
* `important_drift`: severe drift on an important feature (score at or above
  `severe_drift_factor` × its threshold: far past any normal day of its kind);
  `important_drift_mild`: past its threshold but under that factor; `severe_drift`: a minor
  column that far past; `minor_drift`: drift on at least `minor_drift_min_columns` minor
  columns; `out_of_range`: values outside what the reference has (a unit change, a recoding),
  whatever the column's importance; `prediction_drift`: the scores drifted.
* `performance_drop`: over at least `min_labelled_days` labelled days, the rolling window's
  ROC AUC interval lies entirely below the bar, by more than the tolerance at its point; the
  bar (`performance_reference`) is by default what the model's own calibrated scores predict
  on those same flights (the CBPE estimate), so a harder season is not a drop.
  `performance_dip`: below the bar inside its interval; `estimate_drop`: the estimate below
  the holdout's figure by more than its tolerance.
* `model_stale`: the serving model's training data ends more than `max_model_age_days` before
  D (`watch`: in 2013 a retraining helps mostly because the model is old; a schedule acts on
  it, `retraining.fallback_cron`).
* `serving_skew`: model inputs served (online, or in the night batch's sample) that differ from
  the features the validated store gives the same flights the next night on more than
  `monitoring.skew_max_share` of the served rows (`watch`).
* `upstream_changed` / `packages_changed`: a column of the upstream's files added, removed or
  retyped, or an installed package changed, since the previous monitored night (`watch`).
* `feature_missing` (a watched column empty tonight that the reference has: an outage is not
  "no drift"), `input_invalid` (an input of the verdict NaN or missing, named: a NaN never
  compares to `ok`), `too_few_rows`, `labels_late`: always `watch`.
* `ok` otherwise. Missing labels are said ("labels pending for D"), never an error; missing
  for `labels_late_days` days of the window, they are `watch` (the label feed is broken).

Performance is judged only on the serving version's own scores, since the night it started
serving (`version`, `judged_since`): a new champion is never judged on its predecessor's.
"""

from __future__ import annotations

import math
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
    expected_roc_auc: float | None = None  # the CBPE estimate on the same labelled flights


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
    missing_features: tuple[
        str, ...
    ] = ()  # watched columns empty tonight, present in the reference
    invalid_inputs: tuple[str, ...] = ()  # drift scores of non-empty columns that came out NaN
    version: str | None = None  # the version that scored D (its own scores only are judged)
    judged_since: str | None = None  # the first night of the window that version scored
    severe: tuple[str, ...] = ()  # columns at or above `severe_drift_factor` × their threshold
    out_of_range: tuple[str, ...] = ()  # numeric columns leaving the reference's range
    serving_skew: tuple[str, ...] = ()  # model inputs served unlike the store's next night
    upstream_changes: tuple[str, ...] = ()  # upstream schema changes since the previous night
    package_changes: tuple[str, ...] = ()  # installed packages changed since the previous night
    data_end: str | None = None  # the newest day the serving model's training data holds
    model_age_days: int | None = None  # nights from `data_end` to D


@dataclass(frozen=True)
class Verdict:
    level: str
    reasons: tuple[str, ...]
    triggers: tuple[str, ...] = field(default_factory=tuple)  # stable names, worst first
    version: str | None = None
    judged_since: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Finding = tuple[str, str, str]  # (level, trigger, reason)


def _is_number(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def drift_findings(signals: Signals, policy: VerdictPolicy) -> list[Finding]:
    """What drift and the day's size say (the false-alarm rates count these alone)."""
    findings: list[Finding] = []
    if signals.missing_features:
        findings.append(
            (
                WATCH,
                "feature_missing",
                "no values tonight for "
                + ", ".join(signals.missing_features)
                + " (present in the reference): an upstream outage, not drift",
            )
        )
    if signals.rows < signals.min_rows:
        findings.append(
            (
                WATCH,
                "too_few_rows",
                f"only {signals.rows} scored rows (< {signals.min_rows}): drift not judged",
            )
        )
        return findings
    important = [c for c in signals.drifted if c in signals.important]
    minor = [c for c in signals.drifted if c not in signals.important and c != SCORE_COLUMN]
    severe_important = [c for c in important if c in signals.severe]
    mild_important = [c for c in important if c not in signals.severe]
    severe_minor = [c for c in minor if c in signals.severe]
    factor = f"{policy.severe_drift_factor:g}"
    if SCORE_COLUMN in signals.drifted:
        findings.append(
            (ACT, "prediction_drift", "the champion's scores drifted from its reference")
        )
    if severe_important:
        findings.append(
            (
                ACT,
                "important_drift",
                f"severe drift (≥ {factor}× threshold) on important features: "
                + ", ".join(severe_important),
            )
        )
    if mild_important:
        findings.append(
            (
                WATCH,
                "important_drift_mild",
                f"drift on important features: {', '.join(mild_important)} (under {factor}× "
                "threshold: a season or a mix change until performance says otherwise)",
            )
        )
    if severe_minor:
        findings.append(
            (
                WATCH,
                "severe_drift",
                f"far past threshold (≥ {factor}×) on minor features: {', '.join(severe_minor)}"
                " (the next retraining would learn from it)",
            )
        )
    if signals.out_of_range:
        findings.append(
            (
                WATCH,
                "out_of_range",
                "values outside the reference's range: " + ", ".join(signals.out_of_range),
            )
        )
    if len(minor) >= policy.minor_drift_min_columns:
        findings.append((WATCH, "minor_drift", f"drift on minor features: {', '.join(minor)}"))
    return findings


def _invalid_inputs(signals: Signals) -> list[str]:
    """Inputs of the verdict that are NaN or missing, named (each one makes the night `watch`)."""
    invalid = [f"drift score of {name}" for name in signals.invalid_inputs]
    if not _is_number(signals.holdout_roc_auc):
        invalid.append("holdout_roc_auc")
    if not _is_number(signals.estimated_roc_auc):
        invalid.append("estimated_roc_auc")
    observed = signals.observed
    if observed is not None:
        invalid += [
            f"observed {name}"
            for name in ("roc_auc", "low", "high")
            if not _is_number(getattr(observed, name))
        ]
    return invalid


def performance_bar(signals: Signals, policy: VerdictPolicy) -> tuple[float, str]:
    """The figure observed ROC AUC is held to, and its name (see the module docstring)."""
    observed = signals.observed
    if policy.performance_reference == "estimate" and observed is not None:
        expected = observed.expected_roc_auc
        if expected is not None and _is_number(expected):
            return expected, "the estimate on the same flights"
    return signals.holdout_roc_auc, "the holdout's"


def performance_findings(signals: Signals, policy: VerdictPolicy) -> list[Finding]:
    """What the delayed labels and the label-free estimate say; an input that is NaN is left
    out here (`decide_verdict` names it), never compared."""
    findings: list[Finding] = []
    holdout = signals.holdout_roc_auc
    if not _is_number(holdout):
        return findings
    observed = signals.observed
    if observed is not None and not all(
        _is_number(v) for v in (observed.roc_auc, observed.low, observed.high)
    ):
        observed = None
    since = f" (v{signals.version} since {signals.judged_since})" if signals.version else ""
    if observed is None:
        if signals.observed is None:
            findings.append(
                (
                    OK,
                    "performance_pending",
                    f"performance pending: no labels in the window yet{since}",
                )
            )
    elif observed.days < policy.min_labelled_days:
        findings.append(
            (
                OK,
                "performance_pending",
                f"performance pending: {observed.days} labelled days "
                f"(< {policy.min_labelled_days}){since}",
            )
        )
    else:
        bar, bar_name = performance_bar(signals, policy)
        below = observed.roc_auc < bar - policy.performance_tolerance
        if below and observed.high < bar:
            findings.append(
                (
                    ACT,
                    "performance_drop",
                    f"ROC AUC {observed.roc_auc:.3f} [{observed.low:.3f}, {observed.high:.3f}] "
                    f"over {observed.days} labelled days{since} is below {bar_name} {bar:.3f}",
                )
            )
        elif below:
            findings.append(
                (
                    WATCH,
                    "performance_dip",
                    f"ROC AUC {observed.roc_auc:.3f} over {observed.days} days{since} is below "
                    f"{bar_name} {bar:.3f}, inside its interval [{observed.low:.3f}, "
                    f"{observed.high:.3f}]",
                )
            )
    estimate = signals.estimated_roc_auc
    if (
        estimate is not None
        and _is_number(estimate)
        and estimate < holdout - policy.estimate_tolerance
    ):
        drop = f"estimated ROC AUC {estimate:.3f} (holdout {holdout:.3f})"
        findings.append((WATCH, "estimate_drop", drop))
    return findings


def model_findings(signals: Signals, policy: VerdictPolicy) -> list[Finding]:
    """How old the serving model's data is (past `max_model_age_days`, `watch`), and whether
    what it was served online matched the batch's features."""
    found: list[Finding] = []
    if signals.serving_skew:
        found.append(
            (
                WATCH,
                "serving_skew",
                "served with inputs unlike the validated store's for the same flights: "
                + ", ".join(signals.serving_skew),
            )
        )
    for trigger, changes, what in (
        ("upstream_changed", signals.upstream_changes, "the upstream's files changed"),
        ("packages_changed", signals.package_changes, "the installed packages changed"),
    ):
        if changes:
            shown = ", ".join(changes[:5]) + (
                f" (+{len(changes) - 5} more)" if len(changes) > 5 else ""
            )
            found.append((WATCH, trigger, f"{what} since the previous night: {shown}"))
    return found + _age_findings(signals, policy)


def _age_findings(signals: Signals, policy: VerdictPolicy) -> list[Finding]:
    age = signals.model_age_days
    if age is None or age <= policy.max_model_age_days:
        return []
    return [
        (
            WATCH,
            "model_stale",
            f"v{signals.version}'s training data ends {signals.data_end}, {age} days before "
            f"tonight (> {policy.max_model_age_days})",
        )
    ]


def label_findings(signals: Signals, policy: VerdictPolicy) -> list[Finding]:
    if len(signals.labels_missing) >= policy.labels_late_days:
        return [
            (
                WATCH,
                "labels_late",
                f"labels missing for {len(signals.labels_missing)} days: "
                + ", ".join(signals.labels_missing),
            )
        ]
    if signals.labels_missing:
        return [(OK, "labels_pending", f"labels pending for {', '.join(signals.labels_missing)}")]
    return []


def _relevel(findings: list[Finding], policy: VerdictPolicy) -> list[Finding]:
    """`act` for the triggers in `policy.act_triggers`, `watch` for every other one that is
    not `ok` (which signals page is chosen by measurement, not by where they are found)."""
    return [
        (ACT if trigger in policy.act_triggers else WATCH if level != OK else OK, trigger, why)
        for level, trigger, why in findings
    ]


def _level(findings: list[Finding]) -> str:
    return max((f[0] for f in findings), key=_RANK.__getitem__, default=OK)


def drift_level(signals: Signals, policy: VerdictPolicy) -> str:
    """The level drift alone gives (the reference's false-alarm rates, the backtest's alarms)."""
    return _level(_relevel(drift_findings(signals, policy), policy))


def decide_verdict(signals: Signals, policy: VerdictPolicy) -> Verdict:
    findings = drift_findings(signals, policy)
    invalid = _invalid_inputs(signals)
    if invalid:
        findings.append(
            (
                WATCH,
                "input_invalid",
                "NaN or missing: " + ", ".join(invalid) + " (not judged on it)",
            )
        )
    findings += performance_findings(signals, policy)
    findings += label_findings(signals, policy)
    findings += model_findings(signals, policy)
    findings = _relevel(findings, policy)
    reasons = tuple(f[2] for f in sorted(findings, key=lambda f: -_RANK[f[0]]))
    triggers = tuple(
        f[1] for f in sorted(findings, key=lambda f: (-_RANK[f[0]], f[1])) if f[0] != OK
    )
    return Verdict(
        _level(findings),
        reasons or ("no signal",),
        triggers,
        signals.version,
        signals.judged_since,
    )


def important_features(importance: dict[str, float], count: int) -> tuple[str, ...]:
    ranked = sorted(importance.items(), key=lambda kv: -kv[1])
    return tuple(name for name, value in ranked[:count] if value > 0)
