"""DVC-versioned snapshots of a moving training window, and pulling one back by its md5.

A retraining run for day T trains on the validated days of its window (`TrainingWindow`). The
window's tables go to `<retraining.windows_dir>/as_of=T/`, are `dvc add`ed and pushed; the
folder's DVC md5 is the data version the model carries (its `data.dvc_md5` tag). No `.dvc`
file has to be committed: `pull_window_snapshot` brings the folder back from the remote by
that md5 alone, so "which data did model version N train on?" is always answerable.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipelines.config import Params
from pipelines.data import landing
from pipelines.data.snapshot import MissingLandedData, shown, snapshot_tables, write_snapshot
from pipelines.data.versioning import DataVersion, DataVersionError, git_revision
from pipelines.storage import exists, read_parquet
from pipelines.training_window import TrainingWindow

LABELLED_DATASETS = ("flights", "outcomes")
#: DVC's directory hash: the md5 of its listing, with the `.dir` suffix DVC gives it.
DIR_MD5 = re.compile(r"^[0-9a-f]{32}\.dir$")


def missing_validated_days(params: Params, days: list[date]) -> list[str]:
    return [
        f"{dataset}/date={day.isoformat()}"
        for day in days
        for dataset in LABELLED_DATASETS
        if not exists(landing.validated_uri(params, dataset, day))
    ]


def collect_validated_window(params: Params, window: TrainingWindow) -> dict[str, pd.DataFrame]:
    """The window's validated flights and outcomes and the reference tables, shaped as
    `snapshot.collect_snapshot` shapes them (so `read_snapshot` reads the result).

    Validated partitions only: a model never trains on a day the gate has not passed."""
    days = landing.days(window.train_start, window.end)
    missing = missing_validated_days(params, days)
    if missing:
        raise MissingLandedData(
            f"{len(missing)} partitions of the window {window.train_start}..{window.end} "
            f"({window.name}) have not passed the gate yet (nothing under "
            f"{params.workspace_path(params.gate.validated_root)}): {shown(missing)}. "
            "Land and validate those days first (outcomes of a day arrive the day after)."
        )
    return snapshot_tables(
        lambda dataset, day: read_parquet(landing.validated_uri(params, dataset, day)),
        days,
        params.landing_root,
    )


def window_folder(params: Params, window: TrainingWindow) -> Path:
    """`<workspace>/<windows_dir>/<window.name>`: a local folder, since DVC tracks it."""
    if "://" in params.retraining.windows_dir:
        raise ValueError(
            f"retraining.windows_dir must be a folder of the DVC workspace, not "
            f"{params.retraining.windows_dir!r}: the remote is where windows are shared"
        )
    return Path(params.workspace_path(params.retraining.windows_dir)) / window.name


def write_window(tables: dict[str, pd.DataFrame], folder: Path, window: TrainingWindow) -> None:
    """Write the snapshot beside `folder` and swap it in, so no stale or half-written file is
    ever hashed, and a file linked into the DVC cache is never written through."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex}"
    try:
        write_snapshot(tables, building, window.train_start, window.end)
        (building / "window.json").write_text(
            json.dumps(window.as_dict(), indent=2, sort_keys=True)
        )
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(building, folder)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def publish_window_snapshot(
    params: Params, window: TrainingWindow, remote: str | None = None
) -> DataVersion:
    """Build the window's snapshot, `dvc add` it and `dvc push` it; its data version.

    Re-publishing a window rewrites identical bytes: same md5, nothing new to push."""
    folder = window_folder(params, window)
    write_window(collect_validated_window(params, window), folder, window)
    md5, chosen_remote = _add_and_push(params.workspace, folder, remote)
    code = git_revision(params.workspace)
    return DataVersion(
        path=folder.relative_to(params.workspace).as_posix(),
        md5=md5,
        git_rev=code.git_rev,
        git_dirty=code.git_dirty,
        remote=chosen_remote,
    )


def _add_and_push(workspace: Path, folder: Path, remote: str | None) -> tuple[str, str]:
    """`dvc add` + `dvc push` of one folder: its directory md5 and the remote pushed to."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    with Repo(str(workspace)) as repo:
        repo.scm_context.quiet = True  # the .dvc file need not be committed: the md5 is enough
        chosen_remote = remote or str(repo.config["core"].get("remote", ""))
        (stage,) = repo.add(str(folder))  # absolute: DVC resolves targets against the cwd
        md5 = str(stage.outs[0].hash_info.value)
        try:
            repo.push(targets=[stage.path], remote=remote)
        except DvcException as error:
            raise DataVersionError(
                f"dvc push of {folder} (md5 {md5}) to remote {chosen_remote!r} failed: {error}"
            ) from error
    return md5, chosen_remote


def pointer_file(md5: str, name: str) -> dict[str, Any]:
    """The content of a `.dvc` file naming a directory by its md5 alone.

    `hash: md5` is required: without it DVC 3 reads the md5 as a DVC 2 (`md5-dos2unix`) hash
    and looks for it under the remote's legacy layout, where it is never found."""
    return {"outs": [{"md5": md5, "hash": "md5", "path": name}]}


def directory_md5(folder: Path) -> str:
    """DVC's md5 of a folder, recomputed from its bytes (not from DVC's state database): the
    md5 of the JSON list of its files' md5s and relative paths, sorted by path, then `.dir`."""
    entries = [
        {
            "md5": hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest(),
            "relpath": path.relative_to(folder).as_posix(),
        }
        for path in folder.rglob("*")
        if path.is_file()
    ]
    listing = json.dumps(sorted(entries, key=lambda entry: entry["relpath"]), sort_keys=True)
    return hashlib.md5(listing.encode("utf-8"), usedforsecurity=False).hexdigest() + ".dir"


def _normalized_md5(md5: str) -> str:
    """`abc….dir` as DVC writes it; the bare 32 hex digits are accepted too."""
    normalized = md5.strip().lower()
    normalized = normalized if normalized.endswith(".dir") else f"{normalized}.dir"
    if not DIR_MD5.match(normalized):
        raise DataVersionError(
            f"{md5!r} is not the DVC md5 of a snapshot folder (32 hex digits, then `.dir`)"
        )
    return normalized


def pull_window_snapshot(
    workspace: Path, md5: str, out_path: Path, remote: str | None = None
) -> Path:
    """Bring the snapshot folder with DVC md5 `md5` from the remote into `out_path`.

    Pulled through a throwaway `.dvc` file in the workspace (DVC outputs must lie inside it),
    re-hashed, then moved to `out_path`: a folder that is there is whole and is that version."""
    from dvc.exceptions import CheckoutError, DvcException
    from dvc.repo import Repo

    md5 = _normalized_md5(md5)
    out_path = Path(out_path).resolve()
    if out_path.exists() and any(out_path.iterdir()):
        raise FileExistsError(f"{out_path} exists and is not empty: choose another --out")
    staging = Path(tempfile.mkdtemp(prefix=".pull-", dir=workspace))
    try:
        pointer = staging / "snapshot.dvc"
        pointer.write_text(yaml.safe_dump(pointer_file(md5, "snapshot"), sort_keys=False))
        with Repo(str(workspace)) as repo:
            chosen_remote = remote or str(repo.config["core"].get("remote", ""))
            try:
                repo.pull(targets=[str(pointer)], remote=remote)
            except CheckoutError as error:
                raise DataVersionError(
                    f"DVC remote {chosen_remote!r} does not hold snapshot md5 {md5} (or not all "
                    "of its files, or could not be read): is it the `data.dvc_md5` of a "
                    "published window, pushed to that remote (`mlops data window`)?"
                ) from error
            except DvcException as error:
                raise DataVersionError(
                    f"dvc pull of snapshot md5 {md5} from remote {chosen_remote!r} failed: {error}"
                ) from error
        pulled = staging / "snapshot"
        actual = directory_md5(pulled)
        if actual != md5:
            raise DataVersionError(
                f"the folder pulled for md5 {md5} hashes to {actual}: "
                f"DVC remote {chosen_remote!r} holds corrupt files"
            )
        out_path.parent.mkdir(parents=True, exist_ok=True)
        if out_path.exists():
            out_path.rmdir()
        shutil.move(pulled, out_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_path
