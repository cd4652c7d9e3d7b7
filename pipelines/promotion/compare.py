"""Challenger against champion on the holdout neither was fit on: the promotion step every
caller runs (models and data in, a decision out; no MLflow, no files).

The training DAG and `mlops decide` (`champion.evaluate_challenger`, which loads both models from
the registry and logs the record) and the year replay (models in memory) call `compare`: the
same common holdout, the same minimum of rows, the same measured inference speed, the same
simpler models made as the challenger was, and `rules.decide` on all of it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.build import model_inputs
from pipelines.config import Params
from pipelines.promotion import rules
from pipelines.training import evaluate, train
from pipelines.training.candidate import fit_simpler_model

#: Fewer labelled holdout rows unseen by both models than this: no comparison, no promotion.
MIN_COMMON_HOLDOUT_ROWS = 100


@dataclass(frozen=True)
class Contender:
    """A model in the decision: its version, the model, the newest day it was fit on."""

    version: str
    model: Any
    train_end: str
    tags: Mapping[str, str] = field(default_factory=dict)  # its run's (provenance)


@dataclass(frozen=True)
class HoldoutComparison:
    """The decision and what it was made on (the decision record lists all of it)."""

    decision: rules.Decision
    holdout: pd.DataFrame  # the common holdout: rows neither model was fit on
    y: np.ndarray
    scores: dict[str, np.ndarray]  # challenger, champion (if any) and the simpler models


def seconds_per_million_rows(model: Any, inputs: pd.DataFrame, repeats: int = 3) -> float:
    """Batch `predict_proba` time, best of `repeats`, per million rows."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict_proba(inputs)
        timings.append(time.perf_counter() - started)
    return min(timings) / max(len(inputs), 1) * 1e6


def inputs_for(model: Any, holdout: pd.DataFrame, params: Params) -> pd.DataFrame:
    """The columns this model was trained on (an older champion may predate a new feature)."""
    wanted = list(
        getattr(model, "feature_names_in_", model_inputs(holdout, params.features).columns)
    )
    missing = [c for c in wanted if c not in holdout.columns]
    if missing:
        raise ValueError(f"cannot score the model on today's feature table: missing {missing}")
    return holdout.loc[:, wanted]


def _scores(
    label: str, contender: Contender, holdout: pd.DataFrame, params: Params
) -> rules.ModelScores:
    inputs = inputs_for(contender.model, holdout, params)
    return rules.ModelScores(
        label,
        contender.version,
        contender.model.predict_proba(inputs)[:, 1],
        seconds_per_million_rows(contender.model, inputs),
    )


def _too_small(
    holdout: pd.DataFrame, y: np.ndarray, trained_until: str, split: train.Split
) -> rules.Check:
    return rules.Check(
        "common_holdout",
        False,
        f"{len(holdout)} labelled holdout rows after {trained_until} (the newest day either "
        f"model trained on; window holdout {split.holdout_dates[0]}..{split.holdout_dates[1]}): "
        f"fewer than {MIN_COMMON_HOLDOUT_ROWS} or one class only, nothing to compare on",
        {"rows": int(len(holdout)), "classes": int(len(np.unique(y)))},
    )


def decide_on_holdout(
    y: np.ndarray,
    challenger: rules.ModelScores,
    champion: rules.ModelScores | None,
    baselines: dict[str, np.ndarray],
    slice_columns: pd.DataFrame,
    policy: Any,
    challenger_tags: Mapping[str, str],
) -> rules.Decision:
    """The decision on scored holdout rows: `rules.decide`, and the challenger's provenance
    (`committed_tree_check`). `compare` and the pull request's report both decide here."""
    decision = rules.decide(y, challenger, champion, baselines, slice_columns, policy)
    return rules.with_check(decision, rules.committed_tree_check(challenger_tags))


def compare(
    challenger: Contender, champion: Contender | None, split: train.Split, params: Params
) -> HoldoutComparison:
    """Decide on the rows of the challenger's holdout that neither model was fit on."""
    trained_until = max(c.train_end for c in (challenger, champion) if c is not None)
    holdout = split.holdout.loc[split.holdout["flight_date"] > trained_until]
    y = holdout["label"].astype(int).to_numpy()
    champion_version = champion.version if champion else None
    if len(holdout) < MIN_COMMON_HOLDOUT_ROWS or len(np.unique(y)) < 2:
        check = _too_small(holdout, y, trained_until, split)
        decision = rules.Decision(False, challenger.version, champion_version, (check,))
        return HoldoutComparison(decision, holdout, y, {})
    challenger_scores = _scores("challenger", challenger, holdout, params)
    champion_scores = _scores("champion", champion, holdout, params) if champion else None
    # The simpler models, on every decision, made as the challenger was (its training days).
    baselines = {
        "base_rate": evaluate.base_rate_probability(split.train["label"].to_numpy(), len(y)),
        "logistic_regression": train.predict_late_probability(
            fit_simpler_model(split.train, params), holdout, params.features
        ),
    }
    decision = decide_on_holdout(
        y,
        challenger_scores,
        champion_scores,
        baselines,
        rules.judged_slice_columns(holdout, params.promotion),
        params.promotion,
        challenger.tags,
    )
    scores = {"challenger": challenger_scores.probability, **baselines}
    if champion_scores is not None:
        scores["champion"] = champion_scores.probability
    return HoldoutComparison(decision, holdout, y, scores)
