"""The shadow period in production (the edge: stores and registry in, alias moves out).

`judge_challenger` gathers the `challenger`'s labelled shadow nights (its scores in
`shadow/date=D/` beside the champion's in `predictions/date=D/`, D's validated outcomes and
flights) and its offline holdout scores (`decision/holdout_scores.parquet` on its run), and
calls the pure `shadow.decide_shadow`; the verdict is logged on the challenger's run
(`decision/shadow.json`, `.md`). `apply_shadow_verdict` acts on it: `promote` moves `champion`
with compare-and-set and the promotion log, `retire` removes the `challenger` alias and tags the
version with the reason, `wait` records how many nights it has. The monitoring DAG runs both
every night (`judge_challenger`, in the `promotion` pool); `mlops judge-challenger` too."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from features import calendar
from pipelines import registry
from pipelines.config import Params
from pipelines.data.landing import validated_uri
from pipelines.monitoring import performance
from pipelines.promotion.aliases import ChampionMoved
from pipelines.promotion.champion import HOLDOUT_SCORES, jsonable, promote, registry_client
from pipelines.promotion.shadow import (
    PROMOTE,
    RETIRE,
    SHADOW_COLUMNS,
    WAIT,
    ShadowVerdict,
    decide_shadow,
)
from pipelines.registry import CHALLENGER, CHAMPION
from pipelines.scoring.publish import read_published
from pipelines.storage import exists, read_parquet

#: The version tag naming the newest labelled day the challenger was trained or held out on:
#: its shadow nights are the days after it.
SHADOW_AFTER_TAG = "shadow.after"


@dataclass(frozen=True)
class ShadowOutcome:
    action: str  # promoted | retired | waiting | champion_moved
    verdict: ShadowVerdict
    log_entry: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, **self.verdict.as_dict()}


def night_rows(params: Params, day: date, challenger: str, champion: str) -> pd.DataFrame | None:
    """Night D's shadow rows: both models' scores of D, D's labels and slice columns; None if D
    was not scored by both these versions or its outcomes are not validated yet."""
    outcomes_uri = validated_uri(params, "outcomes", day)
    if not exists(outcomes_uri):
        return None
    columns = ["flight_id", "late_probability", "model_version"]
    shadow = read_published(params, day, columns, folder="shadow")
    served = read_published(params, day, columns)
    if shadow is None or served is None:
        return None
    if set(shadow["model_version"].astype(str)) != {challenger} or set(
        served["model_version"].astype(str)
    ) != {champion}:
        return None
    outcomes = read_parquet(outcomes_uri, columns=["flight_id", "arr_delay", "dep_time"])
    flights = read_parquet(
        validated_uri(params, "flights", day),
        columns=["flight_id", "origin", "carrier", "dest", "sched_dep_time"],
    )
    # the training label, as the nightly delayed-label join makes it (unobserved arrivals out)
    labelled = performance.join_labels(
        served.loc[:, ["flight_id", "late_probability"]], outcomes, params.features
    ).labelled
    rows = (
        labelled.rename(columns={"late_probability": "champion"})
        .merge(
            shadow.loc[:, ["flight_id", "late_probability"]].rename(
                columns={"late_probability": "challenger"}
            ),
            on="flight_id",
            validate="one_to_one",
        )
        .merge(flights, on="flight_id", validate="one_to_one")
    )
    rows["flight_date"] = day.isoformat()
    rows["dep_hour"] = calendar.dep_hour(rows["sched_dep_time"])
    return rows.loc[:, list(SHADOW_COLUMNS)]


def shadow_rows(
    params: Params, challenger: str, champion: str, after: date, until: date
) -> pd.DataFrame:
    """The labelled shadow nights after `after` up to `until`, at most `max_nights` of them."""
    nights: list[pd.DataFrame] = []
    day = after + timedelta(days=1)
    while day <= until and len(nights) < params.promotion.shadow.max_nights:
        rows = night_rows(params, day, challenger, champion)
        if rows is not None and len(rows):
            nights.append(rows)
        day += timedelta(days=1)
    if not nights:
        return pd.DataFrame(columns=list(SHADOW_COLUMNS))
    return pd.concat(nights, ignore_index=True)


def _holdout_of(client: Any, run_id: str) -> pd.DataFrame:
    with tempfile.TemporaryDirectory(prefix="shadow-holdout-") as folder:
        try:
            path = client.download_artifacts(run_id, HOLDOUT_SCORES, folder)
        except Exception:  # noqa: BLE001 - a version decided before holdout scores were logged
            return pd.DataFrame(columns=list(SHADOW_COLUMNS))
        return pd.read_parquet(path)


def judge_challenger(params: Params, day: date) -> ShadowVerdict | None:
    """The `challenger`'s verdict on night `day` (labels up to the day before), logged on its
    run; None when there is no challenger in shadow."""
    client = registry_client(params)
    name = params.mlflow.registered_model
    challenger = registry.alias_version(client, name, CHALLENGER)
    champion = registry.alias_version(client, name, CHAMPION)
    if challenger is None or champion is None or challenger == champion:
        return None
    version = client.get_model_version(name, challenger)
    after = version.tags.get(SHADOW_AFTER_TAG)
    if after is None:  # set by hand, not by a decision: judged on the nights after its training
        after = client.get_run(version.run_id).data.tags.get("split.holdout_end", day.isoformat())
    rows = shadow_rows(params, challenger, champion, date.fromisoformat(after), day)
    verdict = decide_shadow(
        rows, _holdout_of(client, version.run_id), challenger, champion, params.promotion
    )
    record = jsonable(verdict.as_dict())
    client.log_dict(version.run_id, {**record, "night": day.isoformat()}, "decision/shadow.json")
    client.log_text(version.run_id, render_markdown(verdict, day), "decision/shadow.md")
    print(verdict.summary)
    return verdict


def apply_shadow_verdict(params: Params, verdict: ShadowVerdict) -> ShadowOutcome:
    """Promote (compare-and-set), retire (alias removed, reason tagged) or keep waiting."""
    client = registry_client(params)
    name = params.mlflow.registered_model
    version = verdict.challenger_version
    client.set_model_version_tag(name, version, "shadow.nights", str(len(verdict.nights)))
    if verdict.action == WAIT:
        return ShadowOutcome("waiting", verdict)
    run_id = client.get_model_version(name, version).run_id
    if verdict.action == RETIRE:
        if registry.alias_version(client, name, CHALLENGER) == version:
            client.delete_registered_model_alias(name, CHALLENGER)
        registry.record_decision(client, name, version, "retired", verdict.summary)
        return ShadowOutcome("retired", verdict)
    if verdict.action != PROMOTE:
        raise ValueError(f"unknown shadow verdict {verdict.action!r}")
    try:
        entry = promote(
            params,
            version,
            verdict.champion_version,
            verdict.summary,
            f"runs:/{run_id}/decision/shadow.json",
        )
    except ChampionMoved:  # its nights were scored beside another champion: judged again
        return ShadowOutcome("champion_moved", verdict)
    return ShadowOutcome("promoted", verdict, entry)


def render_markdown(verdict: ShadowVerdict, night: date) -> str:
    lines = [
        f"# Shadow period of v{verdict.challenger_version}: {verdict.action.upper()}",
        "",
        f"Night {night}; champion v{verdict.champion_version}; labelled shadow nights: "
        f"{', '.join(verdict.nights) or 'none yet'} ({verdict.rows} flights).",
        "",
        verdict.why,
        "",
        "| check | passed | detail |",
        "| --- | --- | --- |",
        *[f"| {c.name} | {'yes' if c.passed else 'no'} | {c.detail} |" for c in verdict.checks],
    ]
    if verdict.pending_slices:
        lines += ["", f"Slices still below their minimum, pooled: {verdict.pending_slices}"]
    return "\n".join(lines) + "\n"
