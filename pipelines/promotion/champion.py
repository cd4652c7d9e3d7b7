"""Deciding and acting on promotion (the edge: MLflow models in, decision record out).

`evaluate_challenger` scores challenger and champion on the same holdout, runs the pure
`promotion.decide`, and logs the decision record (JSON + Markdown) on the challenger's run.
`apply_decision` puts a challenger that passed into shadow (`challenger` alias; `shadow_period`
promotes it after its shadow nights), or moves `champion` with compare-and-set for a first model,
and decides again if the champion moved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipelines import registry
from pipelines.config import Params
from pipelines.data.versioning import git_revision
from pipelines.promotion import aliases
from pipelines.promotion.aliases import ChampionMoved, PromotionLog
from pipelines.promotion.compare import Contender, HoldoutComparison, compare
from pipelines.promotion.record import render_markdown
from pipelines.promotion.shadow import holdout_rows
from pipelines.registry import CHALLENGER, CHAMPION
from pipelines.storage import read_parquet
from pipelines.training import evaluate, train
from pipelines.training_window import TrainingWindow, fixed_window, in_window

METRICS_ORDER = ["roc_auc", "pr_auc", "log_loss", "brier"]
#: Both models' scores of the common holdout, on the challenger's run (`_log_holdout_scores`).
HOLDOUT_SCORES = "decision/holdout_scores.parquet"
#: Slices smaller than this are listed in the decision record without a ROC AUC.
SLICE_MIN_ROWS = 500


@dataclass(frozen=True)
class ChallengerVerdict:
    """The decision on one challenger, small enough to hand between tasks (the full record,
    every number and interval, is `record_uri` on the challenger's run)."""

    challenger_version: str
    champion_version: str | None
    promote: bool
    summary: str
    record_uri: str
    features_uri: str
    window: dict[str, Any] | None = None  # the challenger's training window (a re-decision uses it)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ChallengerVerdict:
        return cls(**{key: raw[key] for key in cls.__dataclass_fields__ if key in raw})


@dataclass(frozen=True)
class PromotionOutcome:
    """What acting on a verdict did: `promoted` (with its promotion-log entry), `challenger`
    (into shadow) or `rejected`."""

    action: str
    verdict: ChallengerVerdict
    log_entry: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, **self.verdict.as_dict()}


def promotion_log(params: Params) -> PromotionLog:
    return PromotionLog(params.workspace_path(params.promotion.log_path))


def registry_client(params: Params) -> Any:
    return registry.client(params.mlflow)


def _load(params: Params, client: Any, name: str, version: str) -> Any:
    ref = registry.version_ref(client, name, version, alias=None)
    return registry.load_model(params.mlflow, ref)


def evaluate_challenger(
    params: Params,
    challenger_version: str,
    features_uri: str,
    window: TrainingWindow | None = None,
) -> ChallengerVerdict:
    """Decide challenger vs the current champion on the holdout of the challenger's training
    window (default: the fixed one); log the record; return a small summary."""
    client = registry_client(params)
    name = params.mlflow.registered_model
    aliases.reconcile(client, name, promotion_log(params))
    champion_version = registry.alias_version(client, name, CHAMPION)
    window = window or fixed_window(params)
    labelled = in_window(read_parquet(features_uri), window)
    split = train.temporal_split(labelled, window.holdout_start)
    challenger_run = client.get_run(client.get_model_version(name, challenger_version).run_id)
    champion_run = (
        client.get_run(client.get_model_version(name, champion_version).run_id)
        if champion_version
        else None
    )
    challenger = Contender(
        str(challenger_version),
        _load(params, client, name, challenger_version),
        challenger_run.data.tags.get("split.train_end", ""),
        dict(challenger_run.data.tags),
    )
    champion = (
        Contender(
            champion_version,
            _load(params, client, name, champion_version),
            champion_run.data.tags.get("split.train_end", ""),
        )
        if champion_version and champion_run
        else None
    )
    compared = compare(challenger, champion, split, params)
    return _record_decision(
        params, client, challenger_run, champion_run, compared, features_uri, window
    )


def _record_decision(
    params: Params,
    client: Any,
    challenger_run: Any,
    champion_run: Any,
    compared: HoldoutComparison,
    features_uri: str,
    window: TrainingWindow,
) -> ChallengerVerdict:
    """Log the decision record (JSON + Markdown) on the challenger's run; the small summary."""
    decision, holdout, y, scored = compared.decision, compared.holdout, compared.y, compared.scores
    record = {
        "registered_model": params.mlflow.registered_model,
        "decision": decision.as_dict(),
        "challenger_run_id": challenger_run.info.run_id,
        "champion_run_id": champion_run.info.run_id if champion_run else None,
        "window": window.as_dict(),
        "holdout": {
            "start": holdout["flight_date"].min() if len(holdout) else None,
            "end": holdout["flight_date"].max() if len(holdout) else None,
            "rows": int(len(holdout)),
            "late_share": float(y.mean()) if len(y) else None,
        },
        "data_version": {
            "md5": challenger_run.data.tags.get("data.dvc_md5"),
            "git_rev": challenger_run.data.tags.get("data.git_rev"),
        },
        "code_version": git_revision(Path(__file__).resolve().parents[1]).git_rev,
        "policy": asdict(params.promotion),
        "metrics": {k: evaluate.classification_metrics(y, p) for k, p in scored.items()},
        "metrics_order": METRICS_ORDER,
        "slices": {
            name: evaluate.slice_quality(holdout, y, scored[name], SLICE_MIN_ROWS).to_dict(
                "records"
            )
            for name in ("challenger", "champion")
            if name in scored
        },
    }
    record_json = jsonable(record)
    client.log_dict(challenger_run.info.run_id, record_json, "decision/decision.json")
    _log_holdout_scores(client, challenger_run.info.run_id, compared)
    markdown = render_markdown(record_json)
    client.log_text(challenger_run.info.run_id, markdown, "decision/decision.md")
    print(markdown)  # lands in the Airflow task log
    return ChallengerVerdict(
        challenger_version=str(decision.challenger_version),
        champion_version=decision.champion_version,
        promote=bool(decision.promote),
        summary=decision.summary,
        record_uri=f"runs:/{challenger_run.info.run_id}/decision/decision.json",
        features_uri=features_uri,
        window=window.as_dict(),
    )


def _log_holdout_scores(client: Any, run_id: str, compared: HoldoutComparison) -> None:
    """Both models' scores of the common holdout: a shadow period pools its small slices
    with them (`shadow_period`)."""
    import tempfile

    rows = holdout_rows(compared.holdout, compared.y, compared.scores)
    if rows.empty:
        return
    with tempfile.TemporaryDirectory(prefix="holdout-scores-") as folder:
        path = Path(folder) / HOLDOUT_SCORES.rsplit("/", 1)[1]
        rows.to_parquet(path, index=False)
        client.log_artifact(run_id, str(path), HOLDOUT_SCORES.rsplit("/", 1)[0])


def jsonable(value: Any) -> Any:
    """A record with numpy scalars as plain JSON values (anything else as its text)."""
    import json

    return json.loads(
        json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v))
    )


def promote(
    params: Params, version: str, expected_from: str | None, reason: str, decision_record: str
) -> dict[str, Any]:
    """`champion` to `version` if it is still `expected_from` (else `ChampionMoved`), logged,
    and the version tagged promoted with the reason."""
    client = registry_client(params)
    name = params.mlflow.registered_model
    entry = aliases.set_champion(
        client,
        name,
        promotion_log(params),
        version,
        expected_from,
        reason=reason,
        kind="promotion",
        decision_record=decision_record,
    )
    registry.record_decision(client, name, version, "promoted", reason, decision_record)
    return entry


def _into_shadow(client: Any, name: str, verdict: ChallengerVerdict) -> PromotionOutcome:
    """A challenger that passed offline against a champion earns its place in shadow first:
    it takes the `challenger` alias (an earlier one still in shadow is superseded)."""
    version = verdict.challenger_version
    earlier = registry.alias_version(client, name, CHALLENGER)
    if earlier is not None and earlier != version:
        registry.record_decision(
            client, name, earlier, "superseded", f"v{version} passed offline and took its shadow"
        )
    after = (verdict.window or {}).get("end") or ""
    registry.record_decision(client, name, version, "shadow", verdict.summary, verdict.record_uri)
    client.set_model_version_tag(name, version, "shadow.after", after)
    client.set_registered_model_alias(name, CHALLENGER, version)
    return PromotionOutcome("challenger", verdict)


def apply_decision(
    params: Params, verdict: ChallengerVerdict, attempts: int = 3
) -> PromotionOutcome:
    """Act on a verdict: a challenger that passed against a champion goes into shadow
    (`promotion.shadow`; promoted later by `shadow_period`), a first model or one under
    `shadow.min_nights: 0` moves `champion` (compare-and-set), a refused one is tagged so."""
    client = registry_client(params)
    name = params.mlflow.registered_model
    version = verdict.challenger_version
    for _ in range(attempts):
        if not verdict.promote:
            registry.record_decision(
                client, name, version, "rejected", verdict.summary, verdict.record_uri
            )
            return PromotionOutcome("rejected", verdict)
        if verdict.champion_version is not None and params.promotion.shadow.min_nights > 0:
            return _into_shadow(client, name, verdict)
        try:
            entry = promote(
                params, version, verdict.champion_version, verdict.summary, verdict.record_uri
            )
        except ChampionMoved:
            window = TrainingWindow.from_dict(verdict.window) if verdict.window else None
            verdict = evaluate_challenger(params, version, verdict.features_uri, window)
            continue
        return PromotionOutcome("promoted", verdict, entry)
    raise ChampionMoved(f"the champion kept moving during {attempts} decisions; try again later")
