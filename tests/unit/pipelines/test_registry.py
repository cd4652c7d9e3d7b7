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
