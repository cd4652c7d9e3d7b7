"""Model family and hyperparameters chosen on time-aware folds (`train.search` in params.yaml).

For each configured family, scikit-learn's successive-halving random search
(`HalvingRandomSearchCV`) samples `candidates` configurations from the family's space and
scores them on the expanding monthly folds of `folds.py` (fewer rows for the many, all rows
for the few that survive). The family whose best configuration scores best on the folds is
what the run fits on all its training days, and registers: if logistic regression wins on
validation, logistic regression is the model. Every trial is kept (`Trial`) and logged as a
nested MLflow run under the training run (`tracking.log_trials`).

The holdout is never seen here: it stays for the champion/challenger decision."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.build import model_inputs
from pipelines.config import HIGHER_IS_BETTER, Params, TrainParams
from pipelines.training.folds import Fold, monthly_folds
from pipelines.training.train import build_model

SCORERS = {"roc_auc": "roc_auc", "log_loss": "neg_log_loss", "brier": "neg_brier_score"}


@dataclass(frozen=True)
class Trial:
    family: str
    iteration: int  # successive-halving round (0 = most candidates, fewest rows)
    rows: int  # training rows per fold in that round
    hyperparameters: dict[str, Any]
    fold_scores: tuple[float, ...]
    score: float  # mean over the folds, in the metric's own orientation

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TuningResult:
    metric: str
    family: str  # the winner on validation
    hyperparameters: dict[str, Any]  # its whole configuration (params.yaml's, then the best)
    score: float
    family_scores: dict[str, float]  # each family's best
    folds: tuple[dict[str, Any], ...]
    trials: tuple[Trial, ...] = field(default_factory=tuple)

    def train_params(self, base: TrainParams) -> TrainParams:
        """`base` with the winning family and its configuration."""
        chosen: dict[str, Any] = {self.family: self.hyperparameters}
        return dataclasses.replace(base, model=self.family, **chosen)

    def summary(self) -> str:
        scores = ", ".join(f"{f} {s:.4f}" for f, s in sorted(self.family_scores.items()))
        return f"{self.family} wins on {len(self.folds)} monthly folds ({self.metric}: {scores})"

    def as_dict(self) -> dict[str, Any]:
        raw = dataclasses.asdict(self)
        raw["trials"] = [trial.as_dict() for trial in self.trials]
        return raw


def _oriented(metric: str, sklearn_score: float) -> float:
    """scikit-learn maximises (`neg_log_loss`); report the metric itself."""
    return float(sklearn_score if HIGHER_IS_BETTER[metric] else -sklearn_score)


def _search_family(
    family: str,
    inputs: pd.DataFrame,
    y: np.ndarray,
    folds: list[Fold],
    params: Params,
) -> list[Trial]:
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, cross_val_score

    search = params.train.search
    base = dict(getattr(params.train, family))
    estimator = build_model(family, base, params.features, params.train.seed)
    cv = [(fold.train_index, fold.validate_index) for fold in folds]
    space = {f"classifier__{k}": list(v) for k, v in search.space.get(family, {}).items()}
    if not space:  # nothing to tune: the configured model, scored on the same folds
        scores = cross_val_score(estimator, inputs, y, cv=cv, scoring=SCORERS[search.metric])
        rows = int(np.mean([len(fold.train_index) for fold in folds]))
        oriented = tuple(_oriented(search.metric, s) for s in scores)
        return [Trial(family, 0, rows, base, oriented, float(np.mean(oriented)))]
    size = int(np.prod([len(values) for values in space.values()]))
    searcher = HalvingRandomSearchCV(
        estimator,
        space,
        n_candidates=min(search.candidates, size),
        factor=search.halving_factor,
        resource="n_samples",
        min_resources="exhaust",  # the last round fits on every training row of each fold
        cv=cv,
        scoring=SCORERS[search.metric],
        refit=False,
        random_state=params.train.seed,
        n_jobs=1,
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "n_candidates > grid size" and the like
        searcher.fit(inputs, y)
    results = searcher.cv_results_
    trials = []
    for i in range(len(results["params"])):
        fold_scores = tuple(
            _oriented(search.metric, results[f"split{k}_test_score"][i]) for k in range(len(cv))
        )
        sampled = results["params"][i].items()
        chosen = {key.removeprefix("classifier__"): value for key, value in sampled}
        trials.append(
            Trial(
                family,
                int(results["iter"][i]),
                int(results["n_resources"][i]),
                {**base, **{k: _plain(v) for k, v in chosen.items()}},
                fold_scores,
                float(np.mean(fold_scores)),
            )
        )
    return trials


def _plain(value: Any) -> Any:
    """NumPy scalars as Python ones (for params.yaml-like dicts, JSON and MLflow)."""
    return value.item() if isinstance(value, np.generic) else value


def best_trial(trials: list[Trial], metric: str) -> Trial:
    """The best configuration of the last (full-data) round."""
    last = max(trial.iteration for trial in trials)
    final = [trial for trial in trials if trial.iteration == last]
    sign = 1 if HIGHER_IS_BETTER[metric] else -1
    return max(final, key=lambda trial: sign * trial.score)


def choose_family(best: dict[str, Trial], metric: str) -> str:
    """The family whose best configuration scores best on the folds (pure)."""
    sign = 1 if HIGHER_IS_BETTER[metric] else -1
    return max(sorted(best), key=lambda family: sign * best[family].score)


def tune(train_frame: pd.DataFrame, params: Params) -> TuningResult | None:
    """Search every configured family on the monthly folds of `train_frame` (labelled rows of
    the training days only); None when search is off or the days give no fold."""
    search = params.train.search
    if not search.enabled:
        return None
    frame = train_frame.reset_index(drop=True)
    folds = monthly_folds(frame["flight_date"], search.folds, search.min_train_days)
    if not folds:
        return None
    inputs = model_inputs(frame, params.features)
    y = frame["label"].astype(int).to_numpy()
    trials: list[Trial] = []
    best: dict[str, Trial] = {}
    for family in search.families:
        found = _search_family(family, inputs, y, folds, params)
        trials.extend(found)
        best[family] = best_trial(found, search.metric)
    winner = choose_family(best, search.metric)
    return TuningResult(
        metric=search.metric,
        family=winner,
        hyperparameters=best[winner].hyperparameters,
        score=best[winner].score,
        family_scores={family: trial.score for family, trial in best.items()},
        folds=tuple(fold.as_dict() for fold in folds),
        trials=tuple(trials),
    )
