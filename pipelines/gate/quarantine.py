"""The gate at the edges: read a landed batch, validate it, publish or hold it, store the verdict.

The landing zone belongs to the upstream system: nothing here moves, rewrites or deletes
anything under it. A batch that passes is copied to its validated partition
(`validated/<dataset>/date=D/part-0.parquet`, what training and scoring read); a rejected batch
is *copied* to `quarantine/<contract>/date=D/part-0.parquet` beside `validation.json`; rows
quarantined one by one go to `quarantine/<contract>/date=D/rows.parquet` and the clean rows are
what is validated. The verdict (`validations/<contract>/date=D.json`) records the sha256 of the
landed content it judged: the gate of the same content again returns that verdict and writes
nothing new; new content is validated afresh. `release` re-validates a fixed batch and
publishes it to the validated partition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from pipelines.config import Params
from pipelines.data import landing
from pipelines.data.landing import validated_uri
from pipelines.gate import contracts
from pipelines.gate.chunked import READ_ERRORS, UnreadableBatch
from pipelines.gate.report import (
    QUARANTINED_ROWS,
    REJECTED,
    DataGateError,
    ExpectationFailure,
    GateReport,
    unreadable_report,
)
from pipelines.gate.validation import Validation, validate_frame, validate_parquet
from pipelines.storage import (
    content_sha256,
    copy,
    exists,
    join_uri,
    list_files,
    move,
    parquet_row_count,
    read_parquet,
    read_text,
    write_parquet,
    write_text,
)

UNREADABLE: tuple[type[Exception], ...] = (UnreadableBatch, *READ_ERRORS)
DATASET_OF = {"scheduled_flights": "flights", "outcomes": "outcomes"}
LANDED_CONTRACTS = tuple(DATASET_OF)


@dataclass(frozen=True)
class RowCountBounds:
    low: int
    high: int
    source: str


def learned_row_count_bounds(history: list[int], params: Params) -> RowCountBounds:
    """Bounds from the previous landed days' sizes, or the prior until enough have landed."""
    gate = params.gate
    if len(history) < gate.row_count_min_history_days:
        low, high = gate.row_count_prior
        return RowCountBounds(low, high, f"prior ({len(history)} days of history)")
    low = int((1 - gate.row_count_tolerance) * min(history))
    high = int((1 + gate.row_count_tolerance) * max(history)) + 1
    return RowCountBounds(max(1, low), high, f"learned from {len(history)} previous days")


def landed_history(params: Params, dataset: str, day: date) -> list[int]:
    counts = []
    for offset in range(1, params.gate.row_count_history_days + 1):
        uri = landing.partition_uri(params.landing_root, dataset, day - timedelta(days=offset))
        if exists(uri):
            counts.append(parquet_row_count(uri))
    return counts


def reference_codes(params: Params) -> dict[str, list[str]]:
    return contracts.reference_code_parameters(
        landing.read_reference(params.landing_root, "airlines"),
        landing.read_reference(params.landing_root, "airports"),
    )


def batch_parameters(params: Params, contract_name: str, day: date) -> dict[str, Any]:
    bounds = learned_row_count_bounds(
        landed_history(params, DATASET_OF[contract_name], day), params
    )
    values: dict[str, Any] = {
        **contracts.date_parameters([day.isoformat()]),
        "min_rows": bounds.low,
        "max_rows": bounds.high,
        "row_count_bounds_source": bounds.source,
    }
    if contract_name == "scheduled_flights":
        values.update(reference_codes(params))
    return values


def quarantine_dir(params: Params, contract_name: str, batch: str) -> str:
    return join_uri(params.workspace_path(params.gate.quarantine_root), contract_name, batch)


def result_uri(params: Params, contract_name: str, batch: str) -> str:
    return join_uri(
        params.workspace_path(params.gate.validations_dir), contract_name, f"{batch}.json"
    )


def _docs_uri(params: Params) -> str | None:
    return params.workspace_path(params.gate.data_docs_dir) if params.gate.build_data_docs else None


def validate_batch(
    params: Params,
    contract_name: str,
    data: pd.DataFrame | str,
    parameters: dict[str, Any],
    batch: str,
    *,
    build_docs: bool = True,
    allow_row_quarantine: bool = False,
) -> Validation:
    """Validate a frame, or a parquet file above `gate.stream_above_rows` in chunks (never loaded
    whole), with this workspace's contract, Data Docs and budgets."""
    contract = contracts.contract_for(contract_name, params.gate, params.features)
    docs = _docs_uri(params) if build_docs else None
    settings = params.gate
    common = (parameters, batch, docs, settings.row_quarantine_budget)
    if isinstance(data, str):
        return validate_parquet(
            contract,
            data,
            *common,
            chunk_rows=settings.chunk_rows,
            workers=settings.workers,
            key_bucket_rows=settings.key_bucket_rows,
            warning_sample_rows=settings.warning_sample_rows,
        )
    return validate_frame(
        contract,
        data,
        *common,
        allow_row_quarantine=allow_row_quarantine,
        warning_sample_rows=settings.warning_sample_rows,
    )


def store_result(params: Params, report: GateReport) -> GateReport:
    uri = result_uri(params, report.contract, report.batch)
    stored = replace(report, result_path=uri)
    write_text(json.dumps(stored.summary(), indent=2, sort_keys=True), uri)
    return stored


def read_verdict(uri: str) -> GateReport | None:
    """The verdict stored at `uri`, or None if there is none (yet)."""
    return report_from_summary(json.loads(read_text(uri))) if exists(uri) else None


def stored_verdict(params: Params, contract_name: str, day: date) -> GateReport | None:
    """The verdict stored for the day's batch, or None if it has not been gated."""
    return read_verdict(result_uri(params, contract_name, f"date={day.isoformat()}"))


def _verdict_stands(report: GateReport | None, digest: str) -> bool:
    """A stored verdict stands for the same landed content, with its outputs in place."""
    if report is None or report.content_sha256 != digest:
        return False
    kept = report.validated_path if report.passed else report.quarantine_path
    return kept is None or exists(kept)


def gate_landed_batch(
    params: Params, contract_name: str, day: date, dry_run: bool = False
) -> GateReport:
    """Validate the landed batch of `day` once per content; raise `DataGateError` if it is held.

    With `dry_run` nothing is written and nothing raises: the report says what would happen."""
    dataset = DATASET_OF[contract_name]
    batch = f"date={day.isoformat()}"
    source = landing.partition_uri(params.landing_root, dataset, day)
    if not exists(source):
        raise FileNotFoundError(f"no landed {dataset} batch for {day}: {source}")
    digest = content_sha256(source)
    stored = None if dry_run else stored_verdict(params, contract_name, day)
    if stored is not None and _verdict_stands(stored, digest):
        if not stored.passed:
            raise DataGateError(stored)
        return stored
    parameters = batch_parameters(params, contract_name, day)
    try:
        large = parquet_row_count(source) > params.gate.stream_above_rows
        frame = None if large else read_parquet(source)
        if frame is None:  # validated in chunks, never loaded whole
            validation = validate_batch(
                params, contract_name, source, parameters, batch, build_docs=not dry_run
            )
    except UNREADABLE as error:  # corrupt, truncated, not parquet
        unreadable = replace(unreadable_report(contract_name, batch, error), content_sha256=digest)
        return unreadable if dry_run else _reject(params, unreadable, source)
    if frame is not None:
        validation = validate_batch(
            params,
            contract_name,
            frame,
            parameters,
            batch,
            build_docs=not dry_run,
            allow_row_quarantine=True,
        )
    report = replace(validation.report, content_sha256=digest)
    if dry_run:
        return report
    if report.status == REJECTED:
        return _reject(params, report, source)
    target = validated_uri(params, dataset, day)
    if report.status == QUARANTINED_ROWS:
        if validation.quarantined is None or validation.clean is None:
            raise RuntimeError("a row-level quarantine without its rows: the gate's bug")
        rows_uri = join_uri(quarantine_dir(params, contract_name, batch), "rows.parquet")
        write_parquet(validation.quarantined, rows_uri)  # replaced, never appended to
        report = replace(report, quarantine_path=rows_uri)
        write_validation_beside(params, report, rows_uri)
        write_parquet(validation.clean, target)
    else:
        copy(source, target)
    return store_result(params, replace(report, validated_path=target))


def write_validation_beside(params: Params, report: GateReport, data_uri: str) -> None:
    folder = data_uri.rsplit("/", 1)[0]
    write_text(
        json.dumps(report.summary(), indent=2, sort_keys=True), join_uri(folder, "validation.json")
    )


def _reject(params: Params, report: GateReport, source: str) -> GateReport:
    """Copy the whole batch to quarantine beside its validation result, then raise."""
    target = join_uri(quarantine_dir(params, report.contract, report.batch), "part-0.parquet")
    copy(source, target)
    report = replace(report, quarantine_path=target)
    write_validation_beside(params, report, target)
    raise DataGateError(store_result(params, report))


def report_from_summary(raw: dict[str, Any]) -> GateReport:
    """A stored `GateReport.summary()` back as a report (its parameters as stored)."""
    fields = {
        **raw,
        "failures": tuple(_failure_from_dict(f) for f in raw.get("failures", [])),
        "warnings": tuple(_failure_from_dict(f) for f in raw.get("warnings", [])),
    }
    return GateReport(**{k: v for k, v in fields.items() if k in GateReport.__dataclass_fields__})


def _failure_from_dict(raw: dict[str, Any]) -> ExpectationFailure:
    return ExpectationFailure(**{**raw, "examples": tuple(raw.get("examples", ()))})


@dataclass(frozen=True)
class QuarantineEntry:
    contract: str
    batch: str
    kind: str  # "batch" (a whole landed batch), "rows" (single rows), "table" (snapshot copy)
    path: str
    rows: int
    reasons: tuple[str, ...]


def list_quarantine(params: Params) -> list[QuarantineEntry]:
    root = params.workspace_path(params.gate.quarantine_root)
    entries = []
    for data_uri in list_files(root, "*/*/*.parquet"):
        parts = data_uri.rstrip("/").split("/")
        contract_name, batch, file_name = parts[-3], parts[-2], parts[-1]
        if contract_name.startswith("_"):
            continue
        validation_uri = join_uri("/".join(parts[:-1]), "validation.json")
        raw = json.loads(read_text(validation_uri)) if exists(validation_uri) else {}
        reasons = tuple(
            f"{f['expectation']}({f.get('column') or ''})" for f in raw.get("failures", [])
        )
        try:
            rows = parquet_row_count(data_uri)
        except Exception:
            rows = -1  # unreadable: the reason it is here
        kind = {"part-0.parquet": "batch", "rows.parquet": "rows"}.get(file_name, "table")
        entries.append(QuarantineEntry(contract_name, batch, kind, data_uri, rows, reasons))
    return entries


def release(params: Params, contract_name: str, day: date) -> GateReport:
    """Re-validate a fixed batch (or fixed rows) and publish it to the validated partition;
    on failure it stays held. The landed batch is never touched."""
    batch = f"date={day.isoformat()}"
    dataset = DATASET_OF[contract_name]
    folder = quarantine_dir(params, contract_name, batch)
    target = validated_uri(params, dataset, day)
    held_batch, held_rows = join_uri(folder, "part-0.parquet"), join_uri(folder, "rows.parquet")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    archive = join_uri(
        params.workspace_path(params.gate.quarantine_root), "_released", stamp, contract_name, batch
    )
    if exists(held_batch):
        if exists(target):
            raise FileExistsError(f"{target} exists: refusing to overwrite it with {held_batch}")
        restored = held_batch
        frame_parts = [read_parquet(held_batch)]  # raises if still unreadable
    elif exists(held_rows):
        restored = held_rows
        frame_parts = (
            [read_parquet(target), read_parquet(held_rows)]
            if exists(target)
            else [read_parquet(held_rows)]
        )
    else:
        raise FileNotFoundError(f"nothing quarantined for {contract_name} {batch} under {folder}")
    candidate = pd.concat(frame_parts, ignore_index=True)
    validation = validate_batch(
        params, contract_name, candidate, batch_parameters(params, contract_name, day), batch
    )
    if not validation.report.passed:
        raise DataGateError(replace(validation.report, quarantine_path=restored))
    write_parquet(candidate, target)
    for name in ("part-0.parquet", "rows.parquet", "validation.json"):
        uri = join_uri(folder, name)
        if exists(uri):
            move(uri, join_uri(archive, name))
    source = landing.partition_uri(params.landing_root, dataset, day)
    released = replace(
        validation.report,
        quarantine_path=None,
        validated_path=target,
        content_sha256=content_sha256(source) if exists(source) else None,
        released_from=restored,
    )
    return store_result(params, released)
