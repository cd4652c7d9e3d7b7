"""May monitoring request a retraining tonight? A pure function of what is known at night D.

Every rule is checked and every failing one is said (on-call reads why nothing happened):
* `act` on at least `act_nights` of the last `of_last_nights` monitored nights (one bad night,
  a holiday, is not a reason to retrain);
* not within `cooldown_days` of the last retraining (requested or run);
* at least `min_new_labelled_flights` labelled flights after the newest day the last training
  run saw (a retraining on the same data would only repeat it);
* no training run active (queued or running);
* no challenger in its shadow period (a new one would replace it before it is judged).
Retraining never promotes: the challenger still goes through the champion/challenger decision."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from pipelines.config import GuardPolicy


@dataclass(frozen=True)
class NightVerdict:
    day: date
    level: str  # ok | watch | act
    triggers: tuple[str, ...] = ()


@dataclass(frozen=True)
class GuardInputs:
    day: date
    nights: tuple[NightVerdict, ...]  # the monitored nights up to and including `day`
    last_retraining: date | None  # the day the last retraining was requested or ran
    last_training_end: date | None  # the newest labelled day the last training run saw
    new_labelled_flights: int  # labelled flights after `last_training_end`, up to D-1
    training_active: bool
    challenger_in_shadow: str | None = None  # its version, while it serves in shadow


@dataclass(frozen=True)
class GuardDecision:
    request: bool
    day: date
    reasons: tuple[str, ...]  # why (all rules passed) or why not (each failing rule)
    act_days: tuple[str, ...] = ()
    triggers: tuple[str, ...] = field(default_factory=tuple)  # most frequent first

    def event_extra(self) -> dict[str, Any]:
        """What the `retraining_requested` Asset event carries (and the training run records)."""
        return {
            "day": self.day.isoformat(),
            "act_days": list(self.act_days),
            "triggers": list(self.triggers),
            "reason": "; ".join(self.reasons),
        }

    def as_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["day"] = self.day.isoformat()
        return raw


def recent_nights(
    nights: tuple[NightVerdict, ...], day: date, count: int
) -> tuple[NightVerdict, ...]:
    """The nights of the `count` calendar days ending on `day` (a night not monitored is not
    `act`)."""
    first = day - timedelta(days=count - 1)
    return tuple(n for n in nights if first <= n.day <= day)


def decide_retraining(inputs: GuardInputs, policy: GuardPolicy) -> GuardDecision:
    recent = recent_nights(inputs.nights, inputs.day, policy.of_last_nights)
    acting = [n for n in recent if n.level == "act"]
    act_days = tuple(n.day.isoformat() for n in acting)
    counted = Counter(trigger for n in acting for trigger in n.triggers)
    triggers = tuple(t for t, _ in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])))
    refusals: list[str] = []
    if inputs.training_active:
        refusals.append("a training run is active")
    if inputs.challenger_in_shadow is not None:
        refusals.append(f"challenger v{inputs.challenger_in_shadow} is still in its shadow period")
    if len(acting) < policy.act_nights:
        refusals.append(
            f"`act` on {len(acting)} of the last {policy.of_last_nights} nights "
            f"(needs {policy.act_nights})"
        )
    if inputs.last_retraining is not None:
        since = (inputs.day - inputs.last_retraining).days
        if since < policy.cooldown_days:
            refusals.append(
                f"cooldown: last retraining {inputs.last_retraining} was {since} days ago "
                f"(< {policy.cooldown_days})"
            )
    if inputs.new_labelled_flights < policy.min_new_labelled_flights:
        after = inputs.last_training_end or "the last training"
        refusals.append(
            f"only {inputs.new_labelled_flights} labelled flights after {after} "
            f"(needs {policy.min_new_labelled_flights})"
        )
    if refusals:
        return GuardDecision(False, inputs.day, tuple(refusals), act_days, triggers)
    why = (
        f"`act` on {len(acting)} of the last {policy.of_last_nights} nights "
        f"({', '.join(act_days)}); triggers: {', '.join(triggers) or 'none'}; "
        f"{inputs.new_labelled_flights} new labelled flights"
    )
    return GuardDecision(True, inputs.day, (why,), act_days, triggers)
