"""The model online: the registry's `champion`, loaded at start and again when the alias moves.

`reload()` resolves the alias; a new version is loaded beside the old one and swapped in only
once it has loaded, so a version that fails to load (a broken artifact, an untrusted type, the
registry down) leaves the previous one serving, and the failure is kept for `/health`.

A holder of the `challenger` alias (the canary) serves nothing when the alias is not set or
points at the champion's version: an unset challenger is the normal state, not a failure."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from pipelines.config import MlflowParams
from pipelines.registry import CHAMPION, ModelVersionRef, load_model, resolve_alias
from pipelines.scoring.rows import decision_threshold


@dataclass(frozen=True)
class ServedModel:
    ref: ModelVersionRef
    model: Any
    threshold: float


@dataclass(frozen=True)
class ReloadOutcome:
    status: str  # "loaded", "unchanged", "failed", "unset" (a canary with no challenger)
    version: str | None
    error: str | None = None


class ChampionHolder:
    """The served model (None until the first load) and what the last reload said."""

    def __init__(
        self,
        params: MlflowParams,
        missed_delay_cost: float,
        alias: str = CHAMPION,
        unless_same_as: ChampionHolder | None = None,
    ):
        self._params = params
        self._cost = missed_delay_cost
        self._alias = alias
        self._unless_same_as = unless_same_as  # the canary's champion: the same version is none
        self._lock = threading.Lock()  # one reload at a time; reading `current` needs none
        self.current: ServedModel | None = None
        self.last_reload: ReloadOutcome | None = None
        self.last_checked: float | None = None

    def reload(self) -> ReloadOutcome:
        with self._lock:
            self.last_checked = time.time()
            try:
                ref = resolve_alias(self._params, self._alias)
                if self._alias != CHAMPION and (ref is None or self._same_as_champion(ref)):
                    self.current = None
                    self.last_reload = ReloadOutcome("unset", None)
                    return self.last_reload
                if ref is None:
                    raise LookupError(f"{self._params.registered_model} has no {self._alias}")
                if self.current is not None and self.current.ref.version == ref.version:
                    outcome = ReloadOutcome("unchanged", ref.version)
                else:
                    model = load_model(self._params, ref)
                    self.current = ServedModel(ref, model, decision_threshold(ref, self._cost))
                    outcome = ReloadOutcome("loaded", ref.version)
            except Exception as error:  # noqa: BLE001 - any failure keeps the previous model
                served = self.current.ref.version if self.current else None
                outcome = ReloadOutcome("failed", served, f"{type(error).__name__}: {error}")
            self.last_reload = outcome
            return outcome

    def _same_as_champion(self, ref: ModelVersionRef) -> bool:
        champion = self._unless_same_as.current if self._unless_same_as else None
        return champion is not None and champion.ref.version == ref.version
