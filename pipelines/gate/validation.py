"""The data-quality gate: Great Expectations validates a batch against its contract.

Types of the verdict are in `report.py`, Great Expectations itself in `runner.py`.

`validate_frame` is the decision (GX run → passed / passed_with_quarantine / rejected, with
the clean and the quarantined rows); the functions in `pipelines/quarantine.py` act on it.
A blocking failure raises `DataGateError`, whose message names every failed expectation, its
column and the observed value, and links the Data Docs page.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from pipelines.gate.contracts import Contract
from pipelines.gate.report import (
    PASSED,
    QUARANTINED_ROWS,
    REJECTED,
    ExpectationFailure,
    GateReport,
)
from pipelines.gate.runner import runner

#: Column-map expectations whose failures are single rows (only without `mostly`).
ROW_LEVEL = frozenset(
    {
        "expect_column_values_to_be_unique",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_match_regex",
        "expect_compound_columns_to_be_unique",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_route_distance_to_match_reference",
    }
)


@dataclass(frozen=True)
class Validation:
    report: GateReport
    clean: pd.DataFrame | None
    quarantined: pd.DataFrame | None


def _columns_named(expectation: str, kwargs: Any) -> str | None:
    """The column(s) a failure is about, as the report names them ("a>b" for an ordering)."""
    if kwargs.get("column"):
        return str(kwargs["column"])
    if "column_list" in kwargs:
        return ",".join(kwargs["column_list"]) or None
    if "column_A" in kwargs:
        between = ">" if "greater_than" in expectation else ","
        return f"{kwargs['column_A']}{between}{kwargs['column_B']}"
    return None


def _failure(result: Any, columns: set[str]) -> ExpectationFailure:
    config = result.expectation_config
    kwargs = config.kwargs
    details = result.result or {}
    row_level = config.type in ROW_LEVEL and kwargs.get("mostly", 1) in (None, 1, 1.0)
    column = _columns_named(config.type, kwargs)
    observed = details.get("observed_value")
    if observed is None and result.exception_info and result.exception_info.get("raised_exception"):
        observed = f"error: {result.exception_info.get('exception_message')}"
    if observed is None and column and column in kwargs.values() and column not in columns:
        observed = "the column is missing"
    if config.type == "expect_table_columns_to_match_set" and "details" in details:
        mismatched = details["details"].get("mismatched", {})
        observed = f"{observed} (mismatched: {mismatched})"
    return ExpectationFailure(
        expectation=config.type,
        column=column,
        severity=str(getattr(config.severity, "value", config.severity)),
        observed=observed,
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=details.get("unexpected_percent"),
        examples=tuple(str(v) for v in (details.get("partial_unexpected_list") or [])[:5]),
        row_level=row_level and details.get("unexpected_count") is not None,
    )


def _split_failures(
    validation: Any, columns: set[str]
) -> tuple[list[ExpectationFailure], list[ExpectationFailure]]:
    return _split_results(validation.results, columns)


def _split_results(
    results: Iterable[Any], columns: set[str]
) -> tuple[list[ExpectationFailure], list[ExpectationFailure]]:
    blocking: list[ExpectationFailure] = []
    warnings: list[ExpectationFailure] = []
    for result in results:
        if result.success:
            continue
        failure = _failure(result, columns)
        (warnings if failure.severity in ("warning", "info") else blocking).append(failure)
    return blocking, warnings


def _unexpected_rows(validation: Any) -> set[int]:
    rows: set[int] = set()
    for result in validation.results:
        if not result.success:
            rows.update(int(i) for i in (result.result or {}).get("unexpected_index_list") or [])
    return rows


def _severity_split(contract: Contract) -> tuple[Contract, Contract]:
    blocking = tuple(e for e in contract.expectations if str(e.severity.value) == "critical")
    warnings = tuple(e for e in contract.expectations if str(e.severity.value) != "critical")
    return (
        Contract(contract.name, blocking),
        Contract(f"{contract.name}_warnings", warnings),
    )


def _verdict(
    contract: Contract,
    batch: str,
    status: str,
    rows: int,
    evaluated: int,
    blocking: list[ExpectationFailure],
    warnings: list[ExpectationFailure],
    docs_url: str | None,
    parameters: dict[str, Any],
) -> GateReport:
    """The report of a whole batch (no row quarantined yet), in-memory or streamed alike."""
    return GateReport(
        contract=contract.name,
        batch=batch,
        status=status,
        rows=rows,
        quarantined_rows=0,
        evaluated_expectations=evaluated,
        failures=tuple(blocking),
        warnings=tuple(warnings),
        data_docs_url=docs_url,
        parameters=parameters,
    )


def validate_frame(
    contract: Contract,
    frame: pd.DataFrame,
    parameters: dict[str, Any],
    batch: str,
    data_docs_uri: str | None,
    row_quarantine_budget: float,
    allow_row_quarantine: bool = True,
    warning_sample_rows: int = 200_000,
) -> Validation:
    """Validate `frame`; quarantine single rows when every blocking failure is row-level and
    their share is within the budget, else reject the whole batch.

    Blocking expectations see every row. Warning-level ones (signals, never verdicts) see a
    fixed-seed sample of at most `warning_sample_rows` rows, which keeps the gate's cost
    close to one pass over the batch on large days."""
    if not frame.index.equals(pd.RangeIndex(len(frame))):
        frame = frame.reset_index(drop=True)  # positions name quarantined rows
    gx_runner = runner(data_docs_uri)
    blocking_contract, warning_contract = _severity_split(contract)
    prepared = frame  # validated as is: any rebuilt or converted copy measured slower in GX
    validation, docs_url = gx_runner.run(
        blocking_contract, prepared, parameters, "SUMMARY", bool(data_docs_uri), batch
    )
    blocking, _ = _split_failures(validation, set(frame.columns))
    warnings: list[ExpectationFailure] = []
    evaluated = len(validation.results)
    if warning_contract.expectations:
        sample = (
            prepared.sample(n=warning_sample_rows, random_state=0)
            if len(prepared) > warning_sample_rows
            else prepared
        )
        warned, _ = gx_runner.run(warning_contract, sample, parameters, "SUMMARY", False)
        _, warnings = _split_failures(warned, set(frame.columns))
        evaluated += len(warned.results)
    report = _verdict(
        contract, batch, PASSED, len(frame), evaluated, blocking, warnings, docs_url, parameters
    )
    if not blocking:
        return Validation(report, frame, None)
    if not (allow_row_quarantine and all(f.row_level for f in blocking)):
        return Validation(replace(report, status=REJECTED), None, None)
    failed_types = {f.expectation for f in blocking}
    row_contract = Contract(
        contract.name + "_rows",
        tuple(e for e in blocking_contract.expectations if e.expectation_type in failed_types),
    )
    detailed, _ = gx_runner.run(row_contract, prepared, parameters, "COMPLETE", False)
    bad_rows = sorted(_unexpected_rows(detailed))
    if not bad_rows or len(bad_rows) > row_quarantine_budget * len(frame):
        return Validation(replace(report, status=REJECTED), None, None)
    clean = frame.drop(index=bad_rows).reset_index(drop=True)
    recheck, recheck_docs = gx_runner.run(
        blocking_contract,
        clean,
        parameters,
        "SUMMARY",
        bool(data_docs_uri),
        batch,
    )
    still_blocking, _ = _split_failures(recheck, set(clean.columns))
    if still_blocking:
        return Validation(replace(report, status=REJECTED), None, None)
    return Validation(
        replace(
            report,
            status=QUARANTINED_ROWS,
            quarantined_rows=len(bad_rows),
            data_docs_url=recheck_docs or docs_url,
        ),
        clean,
        frame.loc[bad_rows],
    )


def _names_columns(expectation: Any) -> bool:
    return bool(getattr(expectation, "column", None) or getattr(expectation, "column_list", None))


def validate_parquet(
    contract: Contract,
    uri: str,
    parameters: dict[str, Any],
    batch: str,
    data_docs_uri: str | None,
    row_quarantine_budget: float,
    *,
    chunk_rows: int,
    workers: int,
    key_bucket_rows: int = 2_000_000,
    allow_row_quarantine: bool = True,
    warning_sample_rows: int = 200_000,
) -> Validation:
    """Validate a parquet batch too large to hold, chunk by chunk (`pipelines.gate.chunked`).

    A passing or rejected batch is never loaded whole: `clean` is None and the file stands as
    it is. Only when every blocking failure is row-level and could fit the quarantine budget is
    the batch read and handed to `validate_frame`, which finds and splits off the bad rows."""
    import pyarrow.parquet as pq

    from pipelines.gate import chunked as chunked_gate
    from pipelines.storage import filesystem, read_parquet, row_ranges

    fs, path = filesystem(uri)
    with fs.open(path, "rb") as handle:
        metadata = pq.ParquetFile(handle).metadata
    schema_columns = set(metadata.schema.names)
    rows = int(metadata.num_rows)
    blocking_contract, warning_contract = _severity_split(contract)
    chunk_contract, batch_contract = chunked_gate.split_contract(blocking_contract)
    chunks = row_ranges(rows, chunk_rows) if rows else []
    chunk_sizes = [stop - start for start, stop in chunks]
    share = min(1.0, warning_sample_rows / rows) if rows else 1.0
    gx_runner = runner(data_docs_uri)

    def whole_batch_pass() -> tuple[list[Any], str | None]:
        """Row count and key uniqueness; keys in hash buckets of `key_bucket_rows` at most."""
        columns = [
            c for c in chunked_gate.whole_batch_columns(batch_contract) if c in schema_columns
        ]
        counted = Contract(
            batch_contract.name,
            tuple(e for e in batch_contract.expectations if not _names_columns(e)),
        )
        keyed = Contract(
            f"{batch_contract.name}_keys",
            tuple(e for e in batch_contract.expectations if _names_columns(e)),
        )
        no_columns = pd.DataFrame(index=pd.RangeIndex(rows))
        counts, docs = gx_runner.run(
            counted, no_columns, parameters, "SUMMARY", bool(data_docs_uri), batch
        )
        if not keyed.expectations:
            return list(counts.results), docs
        with tempfile.TemporaryDirectory(prefix="gate-keys-") as scratch:
            buckets: list[str | None] = (
                [*chunked_gate.spill_key_buckets(uri, columns, rows, key_bucket_rows, scratch)]
                if columns
                else []
            )
            per_bucket, bucket_rows = [], []
            for bucket in [*buckets] or [None]:
                keys = read_parquet(bucket, arrow_backed=True) if bucket else no_columns
                checked, _ = gx_runner.run(keyed, keys, parameters, "SUMMARY", False)
                per_bucket.append(chunked_gate.compact_results(checked))
                bucket_rows.append(len(keys))
        merged_keys = chunked_gate.merge_chunk_results(per_bucket, bucket_rows)
        return [*counts.results, *merged_keys], docs

    outcomes, (batch_results, docs_url) = chunked_gate.validate_chunks(
        chunk_contract,
        uri,
        chunks,
        parameters,
        [round(size * share) for size in chunk_sizes],
        workers,
        meanwhile=whole_batch_pass,
    )
    merged = chunked_gate.merge_chunk_results(
        [outcome.results for outcome in outcomes], [outcome.rows for outcome in outcomes]
    )
    blocking, _ = _split_results([*batch_results, *merged], schema_columns)
    warnings: list[ExpectationFailure] = []
    evaluated = len(batch_results) + len(merged)
    if warning_contract.expectations and outcomes:
        sample = pd.concat([outcome.sample for outcome in outcomes], ignore_index=True)
        warned, _ = gx_runner.run(warning_contract, sample, parameters, "SUMMARY", False)
        _, warnings = _split_failures(warned, schema_columns)
        evaluated += len(warned.results)
    report = _verdict(
        contract,
        batch,
        PASSED if not blocking else REJECTED,
        rows,
        evaluated,
        blocking,
        warnings,
        docs_url,
        parameters,
    )
    fits_budget = all(
        f.row_level and (f.unexpected_count or 0) <= row_quarantine_budget * rows for f in blocking
    )
    if blocking and allow_row_quarantine and fits_budget:
        return validate_frame(
            contract,
            read_parquet(uri),
            parameters,
            batch,
            data_docs_uri,
            row_quarantine_budget,
            warning_sample_rows=warning_sample_rows,
        )
    return Validation(report, None, None)
