"""The pull request's model report as the workflow makes it: `mlops sample-run`, then
`mlops pr-report`; real data, no server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.config import REPO_ROOT

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
WINDOW = ["--start", "2013-01-01", "--holdout-start", "2013-01-22", "--end", "2013-01-31"]


def _mlops(*args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own CLI
        [str(VENV_BIN / "mlops"), *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_a_sample_run_and_the_report_on_it(tmp_path):
    """One side fitted for real; the other is the same run, as a pull request that changes
    nothing about the model would give: the report refuses it on the improvement check."""
    said = _mlops("sample-run", "--out", str(tmp_path / "head"), *WINDOW)
    assert "holdout flights: ROC AUC 0." in said
    diff = "| Path | Param | base | head |\n| params.yaml | train.seed | 41 | 42 |"
    (tmp_path / "diff.md").write_text(diff)
    _mlops(
        "pr-report",
        "--base",
        str(tmp_path / "head"),
        "--head",
        str(tmp_path / "head"),
        "--params-diff",
        str(tmp_path / "diff.md"),
        "--out",
        str(tmp_path / "report.md"),
    )
    report = (tmp_path / "report.md").read_text()
    assert "training 2013-01-01 to the day before 2013-01-22, holdout to 2013-01-31" in report
    assert diff in report and "| holdout_roc_auc |" in report and "| +0.0000 |" in report
    assert "would be refused" in report and "| primary_metric_improvement | no |" in report
    assert "| slices:carrier | yes |" in report
