"""What started a training run, and therefore which window it trains on (pure).

* a `retraining_requested` event from monitoring: the moving window of the event's day, and
  the event's reason recorded on the run and the model version;
* a manual run with `{"as_of": "YYYY-MM-DD"}` in its conf, or the time-based fallback: the
  moving window of that day (a manual run may shorten its holdout with `"holdout_days": n`, as
  the replay's first model does);
* a manual run without conf (`make demo`, like `dvc repro`): the fixed window of params.yaml."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipelines.config import Params
from pipelines.training_window import TrainingWindow, fixed_window, moving_window


@dataclass(frozen=True)
class TrainingTrigger:
    kind: str  # retraining_requested | manual | fallback | fixed
    window: TrainingWindow
    event: dict[str, Any]  # the triggering event's extra (empty otherwise)

    def tags(self) -> dict[str, str]:
        """MLflow run tags: the window and, for a requested retraining, why."""
        tags = {"retraining.trigger": self.kind}
        if self.event:
            tags.update(
                {
                    "retraining.day": str(self.event.get("day", "")),
                    "retraining.act_days": ",".join(self.event.get("act_days", [])),
                    "retraining.triggers": ",".join(self.event.get("triggers", [])),
                    "retraining.reason": str(self.event.get("reason", ""))[:4000],
                }
            )
        return tags

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "window": self.window.as_dict(), "event": self.event}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainingTrigger:
        return cls(raw["kind"], TrainingWindow.from_dict(raw["window"]), dict(raw["event"]))


def training_trigger(
    params: Params,
    events: list[dict[str, Any]],
    conf: dict[str, Any] | None,
    fallback_day: date | None,
) -> TrainingTrigger:
    """`events`: extras of the `retraining_requested` events that triggered the run (the newest
    day wins: several queued requests are one retraining); `fallback_day`: the day of a
    time-scheduled run."""
    requested = [e for e in events if e.get("day")]
    if requested:
        newest = max(requested, key=lambda e: str(e["day"]))
        as_of = date.fromisoformat(str(newest["day"]))
        return TrainingTrigger(
            "retraining_requested", moving_window(as_of, params.retraining), newest
        )
    if conf and conf.get("as_of"):
        as_of = date.fromisoformat(str(conf["as_of"]))
        policy = params.retraining
        if conf.get("holdout_days"):
            policy = dataclasses.replace(policy, holdout_days=int(conf["holdout_days"]))
        return TrainingTrigger("manual", moving_window(as_of, policy), {})
    if fallback_day is not None:
        return TrainingTrigger("fallback", moving_window(fallback_day, params.retraining), {})
    return TrainingTrigger("fixed", fixed_window(params), {})
