"""Window snapshots really go through DVC: added, pushed to a local-folder remote, and pulled
back by their md5 alone (no `.dvc` file committed) after the folder and the cache are gone.

A small git + DVC workspace of its own (a few real days, validated as the gate publishes them)
rather than the session's clone of the repository: this module runs in about 10 s alone."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import dvc.repo  # noqa: F401  (imported first here, see below)
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import Params, load_params
from pipelines.data import landing
from pipelines.data.snapshot import MissingLandedData, read_snapshot
from pipelines.data.versioning import DataVersionError
from pipelines.data.windows import collect_validated_window, directory_md5, pull_window_snapshot
from pipelines.data.windows import publish_window_snapshot as publish
from pipelines.storage import copy
from pipelines.training_window import moving_window
from pipelines.upstream import delivery
from tests.conftest import REPO_ROOT
from tests.support.local_server import VENV_BIN

pytestmark = pytest.mark.integration

FIRST_DAY, VALIDATED_UNTIL, AS_OF = date(2013, 1, 1), date(2013, 1, 9), date(2013, 1, 10)


def git(workspace: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@localhost", *args],
        cwd=workspace,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


# `import dvc` binds DVC's log handlers to the sys.stdout of that moment. Imported at collection
# it is pytest's; imported inside `CliRunner.invoke` it would be the runner's, closed after the
# call, and DVC's next warning would raise `LoggingException` instead of the real error.


def run_dvc(workspace: Path, *args: str) -> None:
    subprocess.run([f"{VENV_BIN}/dvc", *args], cwd=workspace, check=True, capture_output=True)


@pytest.fixture(scope="module")
def params(tmp_path_factory: pytest.TempPathFactory) -> Params:
    """A git + DVC workspace (local-folder remote) whose days up to VALIDATED_UNTIL passed
    the gate; an 8-day window (7 of them holdout) so a few days are enough."""
    root = tmp_path_factory.mktemp("windows")
    workspace = root / "workspace"
    workspace.mkdir()
    git(workspace, "init", "--quiet")
    run_dvc(workspace, "init", "--quiet")
    run_dvc(workspace, "remote", "add", "--default", "local", str(root / "dvc-remote"))
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    raw["retraining"].update(window_days=8, holdout_days=7)
    (workspace / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    (workspace / ".gitignore").write_text("/data/landing/\n/data/validated/\n")
    git(workspace, "add", ".")
    git(workspace, "commit", "--quiet", "-m", "workspace")
    loaded = load_params(workspace / "params.yaml")
    delivery.land_days(loaded.landing_root, landing.days(FIRST_DAY, AS_OF))
    for day in landing.days(FIRST_DAY, VALIDATED_UNTIL):
        for dataset in ("flights", "outcomes"):  # published as the gate publishes a clean batch
            source = landing.partition_uri(loaded.landing_root, dataset, day)
            copy(source, landing.validated_uri(loaded, dataset, day))
    return loaded


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_a_window_is_published_deterministically_and_pulled_back_by_md5(
    params: Params, tmp_path: Path
):
    runner = CliRunner()
    published = runner.invoke(
        app, ["data", "window", "--as-of", AS_OF.isoformat(), "--params", _params_file(params)]
    )
    assert published.exit_code == 0, published.output
    window = moving_window(AS_OF, params.retraining)
    folder = params.workspace / "data" / "windows" / "as_of=2013-01-10"
    built = file_bytes(folder)
    version = publish(params, window)  # again: same bytes, same md5, nothing new to push
    assert version.md5 in published.output and version.md5.endswith(".dir")
    assert version.path == "data/windows/as_of=2013-01-10" and version.remote == "local"
    assert file_bytes(folder) == built and directory_md5(folder) == version.md5
    assert not version.git_dirty, "an untracked .dvc file and .gitignore leave git clean"
    assert version.git_rev == git(params.workspace, "rev-parse", "HEAD").strip()

    shutil.rmtree(folder)
    shutil.rmtree(params.workspace / ".dvc" / "cache")
    out = tmp_path / "model-7-data"
    pulled = runner.invoke(
        app,
        ["data", "pull-snapshot", "--md5", version.md5, "--out", str(out)]
        + ["--params", _params_file(params)],
    )
    assert pulled.exit_code == 0, pulled.output
    assert file_bytes(out) == built
    tables = read_snapshot(out)
    expected = collect_validated_window(params, window)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(tables[name], frame)
    assert tables["outcomes"]["flight_date"].max() == "2013-01-09"  # the window ends at T-1
    assert not list(params.workspace.glob(".pull-*")), "the staging folder is removed"


def test_an_unknown_md5_names_the_md5_and_the_remote(params: Params, tmp_path: Path):
    unknown = "0123456789abcdef0123456789abcdef.dir"
    with pytest.raises(DataVersionError, match=unknown) as raised:
        pull_window_snapshot(params.workspace, unknown, tmp_path / "out")
    assert "remote 'local'" in str(raised.value)
    assert not (tmp_path / "out").exists()
    assert not list(params.workspace.glob(".pull-*"))


def test_a_corrupt_remote_copy_is_refused(params: Params, tmp_path: Path):
    version = publish(params, moving_window(AS_OF, params.retraining))
    corrupt = tmp_path / "corrupt-remote"
    shutil.copytree(params.workspace.parent / "dvc-remote", corrupt)
    a_file = next(p for p in corrupt.rglob("*") if p.is_file() and p.suffix != ".dir")
    a_file.chmod(0o644)
    a_file.write_bytes(b"not the published bytes")
    run_dvc(params.workspace, "remote", "add", "--local", "--force", "corrupt", str(corrupt))
    shutil.rmtree(params.workspace / ".dvc" / "cache")
    with pytest.raises(DataVersionError, match=rf"{version.md5} hashes to .*'corrupt'"):
        pull_window_snapshot(params.workspace, version.md5, tmp_path / "out", remote="corrupt")
    assert not (tmp_path / "out").exists()


def test_a_day_that_has_not_passed_the_gate_is_named(params: Params):
    window = moving_window(date(2013, 1, 12), params.retraining)  # ends on 2013-01-11
    with pytest.raises(MissingLandedData, match="not passed the gate") as raised:
        publish(params, window)
    assert "flights/date=2013-01-10" in str(raised.value)
    assert "outcomes/date=2013-01-11" in str(raised.value)
    assert not (params.workspace / "data" / "windows" / window.name).exists()


def _params_file(params: Params) -> str:
    return str(params.workspace / "params.yaml")
