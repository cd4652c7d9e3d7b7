"""The MLflow access layer tells "the alias is not set" from "the registry did not answer"."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2 as codes

from pipelines.registry import ModelVersionRef, RegistryUnavailable, alias_version


class _Version:
    name, version, run_id, tags = "m", "7", "run-7", {"data.dvc_md5": "abc.dir"}


class _Registry:
    def __init__(self, error: Exception | None):
        self.error, self.tracking_uri = error, "http://registry:5000"

    def get_model_version_by_alias(self, name: str, alias: str) -> _Version:
        if self.error is not None:
            raise self.error
        return _Version()


@pytest.mark.parametrize(
    "error",
    [
        MlflowException(
            "Registered model alias champion not found.", codes.INVALID_PARAMETER_VALUE
        ),
        MlflowException("Registered Model with name=m not found", codes.RESOURCE_DOES_NOT_EXIST),
    ],
)
def test_an_alias_or_model_that_is_not_there_means_none(error: Exception):
    assert alias_version(_Registry(error), "m", "champion") is None


@pytest.mark.parametrize(
    "error",
    [
        MlflowException("API request failed with error code 503", codes.TEMPORARILY_UNAVAILABLE),
        MlflowException("internal error", codes.INTERNAL_ERROR),
        MlflowException("bad request", codes.INVALID_PARAMETER_VALUE),
        ConnectionError("Connection refused"),
        TimeoutError("read timed out"),
    ],
)
def test_an_outage_is_never_no_champion(error: Exception):
    with pytest.raises(RegistryUnavailable, match="http://registry:5000"):
        alias_version(_Registry(error), "m", "champion")


def test_a_version_reference_says_what_a_row_needs():
    ref = ModelVersionRef.of(_Version(), "champion")
    assert (ref.version, ref.run_id, ref.data_version, ref.uri) == (
        "7",
        "run-7",
        "abc.dir",
        "models:/m/7",
    )
    assert ModelVersionRef.from_dict(ref.as_dict()) == ref


def test_a_decision_is_appended_to_the_card_once_under_its_heading():
    from pipelines.registry import DECISIONS_HEADING, with_decision

    card = "### Model card\n**Model.** hgb"
    once = with_decision(card, "**shadow**: passed offline")
    assert once == f"{card}\n\n{DECISIONS_HEADING}\n- **shadow**: passed offline"
    assert with_decision(once, "**shadow**: passed offline") == once  # a retried step
    twice = with_decision(once, "**promoted**: better on 3 shadow nights")
    assert twice.endswith("- **shadow**: passed offline\n- **promoted**: better on 3 shadow nights")
    assert twice.count(DECISIONS_HEADING) == 1


def test_the_model_card_sets_the_model_beside_its_baselines_and_says_its_limits():
    from types import SimpleNamespace

    from pipelines.training.tracking import KNOWN_LIMITS, model_card

    tags = {
        "model.family": "hist_gradient_boosting",
        "split.train_start": "2013-01-01",
        "split.train_end": "2013-04-30",
        "split.holdout_start": "2013-05-01",
        "split.holdout_end": "2013-05-31",
        "model.decision_threshold": "0.31",
        "retraining.day": "2013-06-02",
    }
    metrics = {
        "holdout_roc_auc": 0.71,
        "holdout_log_loss": 0.45,
        "baseline_logreg_roc_auc": 0.66,
        "baseline_logreg_log_loss": 0.48,
        "baseline_base_rate_roc_auc": 0.5,
    }
    card = model_card(SimpleNamespace(data=SimpleNamespace(tags=tags)), metrics)
    assert "| holdout | roc_auc | log_loss |" in card
    assert "| model | 0.7100 | 0.4500 |" in card
    assert "| logistic baseline | 0.6600 | 0.4800 |" in card
    assert "| base rate | 0.5000 | – |" in card
    assert "Trained on 2013-01-01..2013-04-30, held out 2013-05-01..2013-05-31" in card
    assert "Retraining requested by monitoring on 2013-06-02" in card
    assert all(f"- {limit}" in card for limit in KNOWN_LIMITS)
