"""A challenger in shadow, judged on its shadow nights' outcomes (pure: frames in, a verdict out).

A challenger that passed the offline decision does not serve yet: it scores every night beside
the champion (batch shadow, online canary). Once `promotion.shadow.min_nights` of its nights are
labelled, the offline rules are applied again on those flights only, both models' scores of the
same night (`rules.improvement_check`, `slice_regression_check`, `calibration_check`):

* every check passes: `promote`;
* the primary metric is significantly worse (its interval lies below zero): `retire`;
* otherwise `wait` for more nights, and `retire` once `max_nights` are labelled without proof.

In a slice rule marked `pool` (`dest_region`: the island airports, about 20 flights a day and
435 in a 21-day holdout, below its 500), a value with fewer shadow flights than `min_size` is
pooled with the same value's rows of the offline holdout, on which both models were also
scored; a value still too small keeps the decision waiting until `max_nights`, where it is
listed as not judged. Other rules skip small values, as offline.

The production step (`shadow_period.py`) and the year replay build the frames and call
`decide_shadow`; neither decides anything itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import PromotionPolicy, ShadowPolicy, SliceRule
from pipelines.promotion import rules
from pipelines.training.evaluate import with_slice_columns

#: A shadow night's rows: both models' scores of the same flights, the label, and what the
#: slices are derived from. The offline holdout's rows have the same columns.
SHADOW_COLUMNS = (
    "flight_id",
    "flight_date",
    "label",
    "champion",
    "challenger",
    "origin",
    "carrier",
    "dest",
    "dep_hour",
)
PROMOTE, RETIRE, WAIT = "promote", "retire", "wait"


@dataclass(frozen=True)
class ShadowVerdict:
    action: str  # promote | retire | wait
    challenger_version: str
    champion_version: str
    nights: tuple[str, ...]  # the labelled shadow nights it was judged on
    rows: int
    why: str
    checks: tuple[rules.Check, ...] = ()
    pending_slices: dict[str, list[str]] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return (
            f"{self.action.upper()} challenger v{self.challenger_version} against champion "
            f"v{self.champion_version} after {len(self.nights)} labelled shadow nights "
            f"({self.rows} flights): {self.why}"
        )

    def as_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["summary"] = self.summary
        raw["checks_passed"] = rules.check_outcomes(self.checks)
        return raw


def holdout_rows(holdout: pd.DataFrame, y: Any, scores: dict[str, Any]) -> pd.DataFrame:
    """The offline decision's common holdout as shadow rows (both models' scores), for the
    slices the shadow period pools; empty without a champion."""
    if "champion" not in scores:
        return pd.DataFrame(columns=list(SHADOW_COLUMNS))
    rows = holdout.loc[:, ["flight_id", "flight_date", "origin", "carrier", "dest", "dep_hour"]]
    return rows.assign(label=y, champion=scores["champion"], challenger=scores["challenger"]).loc[
        :, list(SHADOW_COLUMNS)
    ]


def labelled_nights(rows: pd.DataFrame) -> tuple[str, ...]:
    return tuple(sorted(rows.loc[rows["label"].notna(), "flight_date"].astype(str).unique()))


def _pooled(
    rule: SliceRule, shadow: pd.DataFrame, holdout: pd.DataFrame
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """For a `pool` rule: the shadow rows plus the holdout's rows of every value below
    `min_size` in shadow; the values pooled, and those still below it. Other rules judge the
    shadow rows alone, and skip small values as the offline decision does."""
    if not rule.pool:
        return shadow, [], []
    counts = shadow[rule.column].astype(str).value_counts()
    in_holdout = holdout[rule.column].astype(str)
    small = sorted(
        v for v in set(counts.index) | set(in_holdout.unique()) if counts.get(v, 0) < rule.min_size
    )
    pooled = pd.concat([shadow, holdout.loc[in_holdout.isin(small)]], ignore_index=True)
    totals = pooled[rule.column].astype(str).value_counts()
    pooled_values = [v for v in small if totals.get(v, 0) > counts.get(v, 0)]
    still_small = [v for v in small if totals.get(v, 0) < rule.min_size]
    return pooled, pooled_values, still_small


def pooled_slice_checks(
    shadow: pd.DataFrame, holdout: pd.DataFrame, policy: PromotionPolicy
) -> tuple[list[rules.Check], dict[str, list[str]]]:
    """Each slice rule on the shadow rows (a `pool` rule's small values pooled with the
    holdout's); the values too small even pooled, by column."""
    shadow = with_slice_columns(shadow)
    holdout = with_slice_columns(holdout)
    checks, pending = [], {}
    for rule in policy.slices:
        pooled, pooled_values, still_small = _pooled(rule, shadow, holdout)
        note = (
            f" (pooled with the offline holdout: {', '.join(pooled_values)})"
            if pooled_values
            else ""
        )
        checks.append(
            rules.slice_regression_check(
                rule,
                pooled["label"].astype(int).to_numpy(),
                pooled["challenger"].to_numpy(dtype=float),
                pooled["champion"].to_numpy(dtype=float),
                pooled[rule.column].astype(str),
                policy,
                note,
            )
        )
        if still_small:
            pending[rule.column] = still_small
    return checks, pending


def _scores(label: str, version: str, rows: pd.DataFrame) -> rules.ModelScores:
    return rules.ModelScores(label, version, rows[label].to_numpy(dtype=float))


def decide_shadow(
    shadow_rows: pd.DataFrame,
    holdout: pd.DataFrame,
    challenger_version: str,
    champion_version: str,
    policy: PromotionPolicy,
) -> ShadowVerdict:
    """Promote, retire or wait, from the labelled shadow nights (see the module docstring)."""
    rule: ShadowPolicy = policy.shadow
    labelled = shadow_rows.loc[shadow_rows["label"].notna()].reset_index(drop=True)
    nights = labelled_nights(labelled)
    y = labelled["label"].astype(int).to_numpy()

    def verdict(action: str, why: str, checks=(), pending=None) -> ShadowVerdict:  # type: ignore[no-untyped-def]
        return ShadowVerdict(
            action,
            str(challenger_version),
            str(champion_version),
            nights,
            len(labelled),
            why,
            tuple(checks),
            pending or {},
        )

    final = len(nights) >= rule.max_nights
    if len(nights) < rule.min_nights or len(np.unique(y)) < 2:
        why = f"{len(nights)} of {rule.min_nights} labelled shadow nights"
        return verdict(RETIRE if final else WAIT, why + (" by max_nights" if final else ""))
    challenger = _scores("challenger", str(challenger_version), labelled)
    champion = _scores("champion", str(champion_version), labelled)
    improvement = rules.improvement_check(y, challenger, champion, policy)
    slice_checks, pending = pooled_slice_checks(labelled, holdout, policy)
    checks = [improvement, *slice_checks, rules.calibration_check(y, challenger, champion, policy)]
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.passed]
    if not failed and (not pending or final):
        unjudged = f" (not judged, too few flights even pooled: {pending})" if pending else ""
        return verdict(PROMOTE, "every check passed on the shadow nights" + unjudged, checks)
    if improvement.numbers["improvement_high"] < 0:
        return verdict(RETIRE, "significantly worse in shadow: " + improvement.detail, checks)
    if final:
        why = "; ".join(failed) or f"slices still too small: {pending}"
        return verdict(RETIRE, f"not proven after {rule.max_nights} nights: {why}", checks)
    waiting = "; ".join(failed) if failed else f"slices still too small: {pending}"
    return verdict(WAIT, waiting, checks, pending)
