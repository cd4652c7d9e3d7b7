"""A landed template (real 2013 days) copied into each test's own workspace."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from pipelines.config import REPO_ROOT, Params, params_from_dict
from pipelines.data import landing
from pipelines.upstream import delivery

TARGET_DAY = date(2013, 1, 12)  # eleven days of history before it: learned row-count bounds


def workspace_params(root: Path, **gate_overrides) -> Params:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["data"].update(snapshot_start="2013-01-01", snapshot_end="2013-01-14")
    raw["train"]["holdout_start"] = "2013-01-10"
    raw["gate"].update(gate_overrides)
    return params_from_dict(raw, workspace=root)


@pytest.fixture(scope="session")
def landed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("landed-template")
    params = workspace_params(root)
    delivery.land_days(params.landing_root, landing.days(date(2013, 1, 1), date(2013, 1, 15)))
    return root


@pytest.fixture
def landed(landed_template: Path, tmp_path: Path) -> Params:
    """A fresh copy of the landed days for one test: it may corrupt and quarantine freely."""
    shutil.copytree(landed_template, tmp_path, dirs_exist_ok=True)
    return workspace_params(tmp_path)
