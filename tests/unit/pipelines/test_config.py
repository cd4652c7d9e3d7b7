from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from pipelines.config import REPO_ROOT, load_params, params_from_dict


def _raw() -> dict:
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def test_repository_params_load_into_typed_objects():
    params = load_params(REPO_ROOT / "params.yaml")
    assert params.train.holdout_start == date(2013, 11, 1)
    assert params.features.weather_columns[0] == "temp"
    assert params.snapshot_dir == REPO_ROOT / "data" / "snapshot"
    assert params.train.hyperparameters["max_iter"] > 0


def test_uris_pass_through_and_paths_resolve_against_the_workspace(tmp_path: Path):
    raw = _raw()
    raw["data"]["landing_root"] = "s3://bucket/landing"
    params = params_from_dict(raw, workspace=tmp_path)
    assert params.landing_root == "s3://bucket/landing"
    assert params.artifacts_root == str(tmp_path / "data" / "runs")


def test_mlflow_uri_from_environment_wins(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    assert (
        load_params(REPO_ROOT / "params.yaml").mlflow.resolved_tracking_uri == "http://127.0.0.1:1"
    )


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("train", "model", "xgboost", "train.model"),
        ("features", "unobserved_arrival", "drop", "unobserved_arrival"),
        ("train", "holdout_start", "2015-01-01", "holdout_start"),
        ("train", "learning_rate", 0.1, "unexpected keyword"),
    ],
)
def test_bad_params_are_refused_with_the_key_named(
    tmp_path: Path, section: str, key: str, value, message: str
):
    raw = _raw()
    raw[section][key] = value
    with pytest.raises((ValueError, TypeError), match=message):
        params_from_dict(raw, workspace=tmp_path)
