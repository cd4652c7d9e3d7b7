"""The gate on batches too large to hold: Great Expectations over chunks, in parallel.

Most expectations decompose over rows: a batch passes a column-map expectation when the sum of
its chunks' unexpected counts says so (with `mostly` judged on the sums, not per chunk), a
null share is the weighted mean of the chunks' shares, a schema or dtype check holds when it
holds in every chunk. Those run per chunk (row ranges of `gate.chunk_rows` rows) in
`gate.workers` processes, each with its own ephemeral GX context, so memory is a few chunks,
not the batch.

Two kinds do not decompose: the row count and uniqueness. They run once, in this process, on a
frame holding only the columns they name (the flight key): exact uniqueness needs every key,
but not every column. That pass runs through the gate's runner (`gate/runner.py`: this
process's ephemeral context, whose Data Docs site is published to the shared folder), so it
gets a Data Docs page.

Why not one GX run on the whole frame: GX's pandas engine copies the full frame once per
column-map expectation (the null filter of each domain), so its cost grows with columns ×
expectations and its memory with the batch; at 10M rows that was 3.8× the parquet read and a
5.7 GB peak. GX also fingerprints every frame under 1 GB (`hash_pandas_dataframe`, about half
a second per million rows); chunks are identified by their batch and row group instead.

Chunks are read with strings left in Arrow buffers (`string[pyarrow]`: no Python object per
value, nulls as a bitmap) and validated under pandas copy-on-write, so the per-expectation
null filter no longer copies the chunk: together a chunk validates about 4x faster than with
object strings and eager copies. The verdicts are the in-memory gate's (tests/data).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from pyarrow import ArrowException

from pipelines.gate.contracts import Contract
from pipelines.parallel import process_pool

#: Expectations judged on the whole batch at once (they do not decompose over chunks).
WHOLE_BATCH = frozenset(
    {
        "expect_table_row_count_to_be_between",
        "expect_column_values_to_be_unique",
        "expect_compound_columns_to_be_unique",
    }
)
# (`expect_column_pair_values_to_differ`, origin ≠ dest, is judged row by row: it decomposes
# over chunks like any map expectation.)
T = TypeVar("T")
PROPORTION = "expect_column_proportion_of_non_null_values_to_be_between"


#: What reading a file that is not (whole, valid) parquet raises.
READ_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, ArrowException)


class UnreadableBatch(RuntimeError):
    """A chunk of the batch could not be read: the file is corrupt or truncated."""


@dataclass(frozen=True)
class ExpectationConfigView:
    """What `gate._failure` reads from a GX expectation configuration."""

    type: str
    kwargs: dict[str, Any]
    severity: str


@dataclass
class MergedResult:
    """One expectation's result over all chunks, shaped like a GX `ExpectationValidationResult`."""

    expectation_config: ExpectationConfigView
    success: bool
    result: dict[str, Any] = field(default_factory=dict)
    exception_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkOutcome:
    rows: int
    results: list[dict[str, Any]]
    sample: pd.DataFrame


def split_contract(contract: Contract) -> tuple[Contract, Contract]:
    """(per-chunk part, whole-batch part) of a contract."""
    whole = tuple(e for e in contract.expectations if e.expectation_type in WHOLE_BATCH)
    chunked = tuple(e for e in contract.expectations if e.expectation_type not in WHOLE_BATCH)
    return Contract(f"{contract.name}_chunks", chunked), Contract(f"{contract.name}_batch", whole)


def whole_batch_columns(contract: Contract) -> list[str]:
    """The columns the whole-batch expectations name (at least one, for the row count)."""
    columns: list[str] = []
    for expectation in contract.expectations:
        named = [getattr(expectation, "column", None)]
        named += list(getattr(expectation, "column_list", None) or [])
        columns += [c for c in named if c and c not in columns]
    return columns


def _severity(config: Any) -> str:
    return str(getattr(config.severity, "value", config.severity))


def compact_results(validation: Any) -> list[dict[str, Any]]:
    """A GX suite result as plain dicts (cheap to send between processes)."""
    return [
        {
            "type": result.expectation_config.type,
            "kwargs": dict(result.expectation_config.kwargs),
            "severity": _severity(result.expectation_config),
            "success": bool(result.success),
            "result": dict(result.result or {}),
            "exception_info": dict(result.exception_info or {}),
        }
        for result in validation.results
    ]


def _mostly_success(kwargs: dict[str, Any], nonmissing: int, unexpected: int) -> bool:
    mostly = kwargs.get("mostly")
    if mostly is None or nonmissing == 0:
        return unexpected == 0
    return (nonmissing - unexpected) / nonmissing >= float(mostly)


def _proportion_success(kwargs: dict[str, Any], observed: float) -> bool:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    return (low is None or observed >= float(low)) and (high is None or observed <= float(high))


def merge_chunk_results(
    per_chunk: list[list[dict[str, Any]]], chunk_rows: list[int]
) -> list[MergedResult]:
    """Combine the chunks' results expectation by expectation (same suite, same order)."""
    merged: list[MergedResult] = []
    if not per_chunk:
        return merged
    for position, first in enumerate(per_chunk[0]):
        parts = [chunk[position] for chunk in per_chunk]
        config = ExpectationConfigView(first["type"], first["kwargs"], first["severity"])
        failed = next((p for p in parts if not p["success"]), None)
        errored = next((p for p in parts if p["exception_info"].get("raised_exception")), None)
        if errored is not None:
            merged.append(MergedResult(config, False, errored["result"], errored["exception_info"]))
        elif "unexpected_count" in first["result"]:
            element = sum(int(p["result"].get("element_count", 0)) for p in parts)
            missing = sum(int(p["result"].get("missing_count", 0)) for p in parts)
            unexpected = sum(int(p["result"].get("unexpected_count", 0)) for p in parts)
            nonmissing = element - missing
            examples = [v for p in parts for v in p["result"].get("partial_unexpected_list", [])]
            merged.append(
                MergedResult(
                    config,
                    _mostly_success(first["kwargs"], nonmissing, unexpected),
                    {
                        "element_count": element,
                        "missing_count": missing,
                        "unexpected_count": unexpected,
                        "unexpected_percent": 100.0 * unexpected / nonmissing
                        if nonmissing
                        else 0.0,
                        "partial_unexpected_list": examples[:20],
                    },
                )
            )
        elif first["type"] == PROPORTION:
            total = sum(chunk_rows)
            shares = [float(p["result"]["observed_value"]) for p in parts]
            weighted = sum(s * n for s, n in zip(shares, chunk_rows, strict=True))
            observed = weighted / total if total else 1.0
            merged.append(
                MergedResult(
                    config,
                    _proportion_success(first["kwargs"], observed),
                    {"observed_value": observed},
                )
            )
        else:
            merged.append(MergedResult(config, failed is None, (failed or first)["result"], {}))
    return merged


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))


def _string_hash(array: Any) -> np.ndarray:
    """A hash of each string's length and of three 8-byte words read from Arrow's buffers:
    its first, middle and last eight bytes (fewer, masked, when it is shorter).

    Equal strings read equal words, so equal keys always share a bucket, which is all
    uniqueness needs; a full-content hash cost three times as much, and keys that differ
    only outside those 24 bytes merely share a bucket (a fuller one, still checked exactly)."""
    import pyarrow as pa

    if array.type == pa.large_string():
        offset_type: Any = np.int64
    else:
        array = array.cast(pa.string())
        offset_type = np.int32
    offsets = np.frombuffer(array.buffers()[1], dtype=offset_type)
    offsets = offsets[array.offset : array.offset + len(array) + 1].astype(np.int64)
    data = np.frombuffer(array.buffers()[2] or b"", dtype=np.uint8)[offsets[0] : offsets[-1]]
    starts = offsets[:-1] - offsets[0]
    lengths = np.diff(offsets)
    padded = np.concatenate([data, np.zeros(8, dtype=np.uint8)])
    # The eight bytes at every position, as a little-endian uint64 (an unaligned view).
    words = np.ndarray((len(data) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    width = np.minimum(lengths, 8).astype(np.uint64)
    mask = np.where(
        width == 8, np.uint64(2**64 - 1), (np.uint64(1) << (width * np.uint64(8))) - np.uint64(1)
    )
    middle = starts + np.maximum(lengths // 2 - 4, 0)
    last = starts + np.maximum(lengths - 8, 0)
    hashed = lengths.astype(np.uint64)
    for anchor, factor in zip((starts, middle, last), _MIX, strict=True):
        hashed = (hashed ^ (words[anchor] & mask)) * factor
    return hashed ^ (hashed >> np.uint64(29))


def key_hash(table: Any) -> np.ndarray:
    """A 64-bit hash per row of the key columns: equal keys, equal hashes."""
    import pyarrow as pa

    combined = np.zeros(table.num_rows, dtype="uint64")
    for column in table.columns:
        values = column.combine_chunks()
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            hashed = _string_hash(values)
        else:
            hashed = pd.util.hash_array(values.to_numpy(zero_copy_only=False))
        combined = combined * np.uint64(1_000_003) + hashed
    return combined


def spill_key_buckets(
    uri: str, columns: list[str], rows: int, bucket_rows: int, directory: str
) -> list[str]:
    """Write the key columns into ceil(rows / bucket_rows) parquet files by key hash.

    Equal keys land in the same file, so the batch's keys are unique exactly when each
    file's keys are: uniqueness is then checked file by file, in bounded memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.storage import iter_arrow_rows

    count = max(1, -(-rows // bucket_rows))
    paths = [os.path.join(directory, f"keys-{i:04d}.parquet") for i in range(count)]
    writers: list[Any] = []
    try:
        for batch in iter_arrow_rows(uri, 0, rows, min(bucket_rows, 250_000), columns):
            table = pa.Table.from_batches([batch])
            if not writers:
                writers = [
                    pq.ParquetWriter(path, table.schema, compression="none") for path in paths
                ]
            bucket = key_hash(table) % np.uint64(count)
            for index, writer in enumerate(writers):
                writer.write_table(table.filter(pa.array(bucket == index)))
    except READ_ERRORS as error:
        raise UnreadableBatch(f"key columns {columns} of {uri}: {error}") from error
    finally:
        for writer in writers:
            writer.close()
    return paths if writers else []


def read_chunk(uri: str, start: int, stop: int) -> pd.DataFrame:
    from pipelines.storage import read_parquet_rows

    try:
        return read_parquet_rows(uri, start, stop, arrow_strings=True)
    except READ_ERRORS as error:
        raise UnreadableBatch(f"rows {start}-{stop} of {uri}: {error}") from error


def validate_chunk(
    contract: Contract,
    uri: str,
    rows: tuple[int, int],
    parameters: dict[str, Any],
    sample_rows: int,
    seed: int,
) -> ChunkOutcome:
    """Read rows [start, stop), validate them, and keep a fixed-seed sample for warnings."""
    from pipelines.gate.runner import runner

    frame = read_chunk(uri, *rows)
    # Copy-on-write: GX filters nulls with `df[df[column].notnull()]` per expectation, which
    # deep-copies the whole chunk when nothing is null; under CoW that copy is deferred (and,
    # as GX only reads, never made). A third of a chunk's time went to those copies.
    with pd.option_context("mode.copy_on_write", True):
        validation, _ = runner(None).run(contract, frame, parameters, "SUMMARY", False)
    sample = frame.sample(n=min(sample_rows, len(frame)), random_state=seed)
    return ChunkOutcome(len(frame), compact_results(validation), sample)


def chunk_executor(workers: int) -> Executor | None:
    """Forked workers (GX is already imported here: a spawned one would spend seconds on it)."""
    return process_pool(workers) if workers > 1 else None


def validate_chunks(
    contract: Contract,
    uri: str,
    chunks: list[tuple[int, int]],
    parameters: dict[str, Any],
    sample_rows_per_chunk: list[int],
    workers: int,
    meanwhile: Callable[[], T],
) -> tuple[list[ChunkOutcome], T]:
    """Chunk outcomes in chunk order from `workers` processes (or this one, if 1), and the
    result of `meanwhile`, which runs here while the workers validate."""
    executor = chunk_executor(workers)
    if executor is None:
        done = meanwhile()
        return [
            validate_chunk(contract, uri, rows, parameters, sample_rows_per_chunk[i], i)
            for i, rows in enumerate(chunks)
        ], done
    with executor:
        futures = [
            executor.submit(
                validate_chunk, contract, uri, rows, parameters, sample_rows_per_chunk[i], i
            )
            for i, rows in enumerate(chunks)
        ]
        done = meanwhile()
        return [future.result() for future in futures], done
