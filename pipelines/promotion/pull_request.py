"""What merging a pull request would do to the model, decided before it merges.

CI fits the model of each side (the base branch and the pull request, each in its own
checkout and environment) on the same small sample window with no server (`sample_run`), and
writes the holdout scores keyed by flight. `pull_request_report` then joins the two on the
flights both scored and applies the promotion's own `rules.decide` (DeLong interval, slices,
calibration, speed, the simpler models), with the pull request's model as challenger and the
base branch's as champion: the decision merging would produce on this sample, in Markdown for
the pull request's page. Neither side unpickles the other's model, so a change to the model's
code cannot break the comparison."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.build import model_inputs
from pipelines.config import Params
from pipelines.promotion import rules
from pipelines.promotion.compare import decide_on_holdout, seconds_per_million_rows
from pipelines.promotion.holdout import labelled_snapshot_window
from pipelines.training.candidate import fit_candidate
from pipelines.training.evaluate import with_slice_columns
from pipelines.training_window import TrainingWindow

SCORES_FILE = "holdout_scores.parquet"
RUN_FILE = "sample_run.json"
#: Metrics shown side by side (the fitted model's holdout figures)
REPORTED_METRICS = ("holdout_roc_auc", "holdout_pr_auc", "holdout_log_loss", "holdout_brier")


@dataclass(frozen=True)
class SampleRun:
    """One side's model on the sample: its holdout figures and where its scores are."""

    window: dict[str, str]
    family: str
    metrics: dict[str, float]
    seconds_per_million_rows: float
    rows: int


def sample_params(params: Params, window: TrainingWindow, search: bool) -> Params:
    """The params with the sample window and the search as asked (off: a CI-sized fit)."""
    data = dataclasses.replace(
        params.data, snapshot_start=window.train_start, snapshot_end=window.end
    )
    tuning = dataclasses.replace(params.train.search, enabled=search)
    train = dataclasses.replace(params.train, holdout_start=window.holdout_start, search=tuning)
    return dataclasses.replace(params, data=data, train=train)


def sample_run(params: Params, window: TrainingWindow, landing_root: str, out: Path) -> SampleRun:
    """Land the window (the snapshot window of `sample_params`) from the upstream source into
    `landing_root`, then features, split, fit and score exactly as training does
    (`fit_candidate`); write the holdout scores (with
    the baselines and the slice columns) and the run's summary into `out`."""
    labelled, _, _ = labelled_snapshot_window(params, landing_root)  # `sample_params`' window
    candidate = fit_candidate(labelled, window, params)
    holdout, fitted = candidate.split.holdout, candidate.fitted
    scores = with_slice_columns(holdout).loc[
        :, ["flight_id", "flight_date", *[rule.column for rule in params.promotion.slices]]
    ]
    scores = scores.assign(
        label=holdout["label"].astype(int).to_numpy(),
        probability=fitted.curves[fitted.family],
        logistic_regression=fitted.curves["logistic_regression_baseline"],
        base_rate=fitted.curves["base_rate"],
    )
    out.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(out / SCORES_FILE, index=False)
    speed = seconds_per_million_rows(fitted.model, model_inputs(holdout, params.features))
    run = SampleRun(
        window={k: str(v) for k, v in window.as_dict().items()},
        family=fitted.family,
        metrics={k: float(v) for k, v in fitted.metrics.items()},
        seconds_per_million_rows=speed,
        rows=len(scores),
    )
    (out / RUN_FILE).write_text(json.dumps(dataclasses.asdict(run), indent=2, sort_keys=True))
    return run


def read_sample_run(folder: Path) -> tuple[SampleRun, pd.DataFrame]:
    raw = json.loads((folder / RUN_FILE).read_text())
    return SampleRun(**raw), pd.read_parquet(folder / SCORES_FILE)


def merge_decision(
    base: tuple[SampleRun, pd.DataFrame],
    head: tuple[SampleRun, pd.DataFrame],
    policy: Any,
) -> rules.Decision:
    """`rules.decide` with the pull request's model as challenger and the base branch's as
    champion, on the holdout flights both scored (labels and slices as the pull request
    defines them; the simpler models fitted by the pull request's code)."""
    (base_run, base_scores), (head_run, head_scores) = base, head
    joined = head_scores.merge(
        base_scores.loc[:, ["flight_id", "probability"]],
        on="flight_id",
        suffixes=("", "_base"),
        validate="one_to_one",
    )
    y = joined["label"].to_numpy()
    if len(joined) < 100 or len(np.unique(y)) < 2:
        check = rules.Check(
            "common_holdout",
            False,
            f"{len(joined)} holdout flights scored by both sides: nothing to compare on",
            {"rows": int(len(joined))},
        )
        return rules.Decision(False, "pull request", "base", (check,))
    return decide_on_holdout(
        y,
        rules.ModelScores(
            "challenger",
            "pull request",
            joined["probability"].to_numpy(),
            head_run.seconds_per_million_rows,
        ),
        rules.ModelScores(
            "champion",
            "base",
            joined["probability_base"].to_numpy(),
            base_run.seconds_per_million_rows,
        ),
        {
            "logistic_regression": joined["logistic_regression"].to_numpy(),
            "base_rate": joined["base_rate"].to_numpy(),
        },
        joined.loc[:, [rule.column for rule in policy.slices]],
        policy,
        {},  # both sides are commits: the forge checked them out
    )


def _number(value: float) -> str:
    return f"{value:.4f}"


def pull_request_report(
    base_folder: Path, head_folder: Path, policy: Any, params_diff: str = ""
) -> str:
    """The pull request's model report in Markdown: the params diff (as `dvc params diff
    --md` printed it), the metrics of both sides and their difference, and the decision."""
    base, head = read_sample_run(base_folder), read_sample_run(head_folder)
    decision = merge_decision(base, head, policy)
    window = head[0].window
    lines = [
        "## What merging this would do to the model",
        "",
        f"Both branches fitted on the same sample: training {window['train_start']} to the day "
        f"before {window['holdout_start']}, holdout to {window['end']} "
        f"({head[0].rows} labelled flights), no server.",
        "",
        "### Parameters changed",
        "",
        params_diff.strip() or "No parameter changed.",
        "",
        "### Holdout metrics",
        "",
        "| metric | base | pull request | change |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in REPORTED_METRICS:
        old, new = base[0].metrics.get(name), head[0].metrics.get(name)
        if old is None or new is None:
            continue
        lines.append(f"| {name} | {_number(old)} | {_number(new)} | {new - old:+.4f} |")
    lines.append(f"| model family | {base[0].family} | {head[0].family} | |")
    verdict = "would be promoted" if decision.promote else "would be refused"
    lines += [
        "",
        f"### Decision: the pull request's model {verdict}",
        "",
        "`rules.decide`, the promotion's own rule (`promotion:` in this branch's "
        "`params.yaml`), with this branch's model as challenger and the base branch's as "
        "champion: "
        + ("every check passed." if decision.promote else "; ".join(decision.reasons) + "."),
        "",
        "| check | passed | detail |",
        "| --- | --- | --- |",
    ]
    for check in decision.checks:
        detail = check.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {check.name} | {'yes' if check.passed else 'no'} | {detail} |")
    lines += [
        "",
        "A sample decides nothing: after merging, training on the full window and the "
        "shadow period decide. This says which way the change points.",
        "",
    ]
    return "\n".join(lines)


def parse_window(start: str, holdout_start: str, end: str) -> TrainingWindow:
    return TrainingWindow(
        date.fromisoformat(start), date.fromisoformat(holdout_start), date.fromisoformat(end)
    )
