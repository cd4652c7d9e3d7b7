"""Data and code versions: DVC for the snapshot, git for the code.

The data version of a model is the md5 DVC recorded for the snapshot in `dvc.lock`, plus the
git revision of the workspace that holds that `dvc.lock`. Tasks fetch the snapshot with
`dvc pull`, so they train on exactly that version and never on files left lying around.
"""

from __future__ import annotations

import subprocess  # nosec B404
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class DataVersion:
    path: str
    md5: str
    git_rev: str
    git_dirty: bool
    remote: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DataVersion:
        return cls(**raw)


@dataclass(frozen=True)
class CodeVersion:
    git_rev: str
    git_dirty: bool


class DataVersionError(RuntimeError):
    """The snapshot is not versioned, not pushed, or differs from its recorded version."""


def _git(directory: Path, *args: str) -> str:
    # bandit B404/B603: git from PATH with our own arguments and no shell.
    command = ["git", *args]
    return subprocess.run(  # nosec B603
        command, cwd=directory, check=True, capture_output=True, text=True
    ).stdout.strip()


def git_revision(directory: Path) -> CodeVersion:
    """HEAD of the git checkout holding `directory`, and whether tracked files changed."""
    try:
        revision = _git(directory, "rev-parse", "HEAD")
        dirty = bool(_git(directory, "status", "--porcelain", "--untracked-files=no"))
    except (subprocess.CalledProcessError, FileNotFoundError):
        return CodeVersion(git_rev="unknown", git_dirty=True)
    return CodeVersion(git_rev=revision, git_dirty=dirty)


def file_uncommitted(directory: Path, *names: str) -> bool:
    """Whether any of `names` (files or folders of the git checkout holding `directory`)
    differs from HEAD or is untracked; True when it cannot be told (no checkout, no git)."""
    try:
        return bool(_git(directory, "status", "--porcelain", "--", *names))
    except (subprocess.CalledProcessError, FileNotFoundError):
        return True


def locked_md5(workspace: Path, out_path: str) -> str:
    """The md5 `dvc.lock` records for one stage output."""
    lock_file = workspace / "dvc.lock"
    if not lock_file.exists():
        raise DataVersionError(
            f"{lock_file} does not exist: the snapshot has never been versioned. "
            "Run `mlops data publish` (dvc repro snapshot && dvc push) first."
        )
    lock = yaml.safe_load(lock_file.read_text()) or {}
    for stage in lock.get("stages", {}).values():
        for out in stage.get("outs", []):
            if out.get("path") == out_path:
                return str(out["md5"])
    raise DataVersionError(f"dvc.lock has no output {out_path!r}; run `dvc repro snapshot`")


def default_remote(workspace: Path) -> str:
    from dvc.repo import Repo

    with Repo(str(workspace)) as repo:
        return str(repo.config["core"].get("remote", ""))


def pull_snapshot(workspace: Path, snapshot_path: str, remote: str | None = None) -> DataVersion:
    """`dvc pull` the snapshot recorded in `dvc.lock` and check the workspace now matches it."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    md5 = locked_md5(workspace, snapshot_path)
    target = str(workspace / snapshot_path)  # DVC resolves targets against the cwd, not the repo
    with Repo(str(workspace)) as repo:
        chosen_remote = remote or str(repo.config["core"].get("remote", ""))
        try:
            repo.pull(targets=[target], remote=remote)
        except DvcException as error:
            raise DataVersionError(
                f"dvc pull of {snapshot_path} (md5 {md5}) from remote {chosen_remote!r} failed: "
                f"{error}. Was it pushed (`dvc push`)?"
            ) from error
        changed = _changed_outputs(repo, target)
    if changed:
        raise DataVersionError(
            f"{snapshot_path} in {workspace} differs from dvc.lock after pull: {changed}"
        )
    code = git_revision(workspace)
    return DataVersion(
        path=snapshot_path,
        md5=md5,
        git_rev=code.git_rev,
        git_dirty=code.git_dirty,
        remote=chosen_remote,
    )


def _changed_outputs(repo: Any, target: str) -> list[str]:
    """Outputs of the snapshot stage whose workspace content differs from dvc.lock."""
    status = repo.status(targets=[target])
    changed: list[str] = []
    for entries in status.values():
        for entry in entries:
            if isinstance(entry, dict) and "changed outs" in entry:
                changed.extend(str(item) for item in entry["changed outs"])
    return changed


def publish_snapshot(
    workspace: Path, snapshot_stage: str = "snapshot", remote: str | None = None
) -> str:
    """`dvc repro` the snapshot stage and `dvc push` its output; returns the md5."""
    from dvc.repo import Repo

    with Repo(str(workspace)) as repo:
        repo.reproduce(str(workspace / "dvc.yaml") + ":" + snapshot_stage)
        outputs = [
            out.def_path
            for stage in repo.stage.collect(str(workspace / "dvc.yaml") + ":" + snapshot_stage)
            for out in stage.outs
        ]
        repo.push(targets=[str(workspace / out) for out in outputs], remote=remote)
    return locked_md5(workspace, outputs[0])
