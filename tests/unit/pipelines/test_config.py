from __future__ import annotations

import ast
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
    assert load_params(REPO_ROOT / "params.yaml").mlflow.tracking_uri == "http://127.0.0.1:1"


def test_environment_overrides_are_resolved_once_at_load(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLOPS_LANDING_ROOT", "s3://deployed/landing")
    params = load_params(REPO_ROOT / "params.yaml")
    monkeypatch.setenv("MLOPS_LANDING_ROOT", "s3://changed/later")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:2")
    assert params.landing_root == "s3://deployed/landing"
    assert params.mlflow.tracking_uri != "http://127.0.0.1:2"


@pytest.mark.parametrize("section", ["data", "features", "train", "gate", "promotion", "scoring"])
def test_every_tunable_is_required_from_params_yaml(tmp_path: Path, section: str):
    """No dataclass default can silently disagree with params.yaml: dropping any key fails."""
    for key in list(_raw()[section]):
        raw = _raw()
        del raw[section][key]
        with pytest.raises((TypeError, KeyError)):
            params_from_dict(raw, workspace=tmp_path)


#: Keys whose values are read as a whole by the field that holds them.
READ_AS_A_WHOLE = {"hist_gradient_boosting", "logistic_regression", "null_share_ceilings", "slices"}


def _leaf_keys(raw: dict) -> list[tuple[str, str]]:
    return [(section, key) for section, values in raw.items() for key in values]


def _attributes_read(folders: tuple[str, ...]) -> set[str]:
    """Every `x.name` read in the code of these folders (docstrings and comments do not count)."""
    names: set[str] = set()
    for folder in folders:
        for path in (REPO_ROOT / folder).rglob("*.py"):
            if path.name in ("config.py", "params.py"):
                continue
            tree = ast.parse(path.read_text())
            names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    return names


def test_every_params_yaml_key_is_read_by_some_code():
    """A key nothing reads is a knob that does nothing: it fails here until wired or removed."""
    read = _attributes_read(("pipelines", "features", "dags", "orchestration"))
    dvc_params = {
        entry
        for stage in yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"].values()
        for entry in stage.get("params", [])
    }
    unread = [
        f"{section}.{key}"
        for section, key in _leaf_keys(_raw())
        if key not in READ_AS_A_WHOLE and key not in read and f"{section}.{key}" not in dvc_params
    ]
    assert unread == []
