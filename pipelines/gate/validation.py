"""The data-quality gate: Great Expectations validates a batch against its contract.

`validate_frame` is the decision (GX run → passed / passed_with_quarantine / rejected, with
the clean and the quarantined rows); the functions in `pipelines/quarantine.py` act on it.
A blocking failure raises `DataGateError`, whose message names every failed expectation, its
column and the observed value, and links the Data Docs page.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pandas as pd

from pipelines.gate.contracts import Contract

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
    }
)
PASSED, QUARANTINED_ROWS, REJECTED = "passed", "passed_with_quarantine", "rejected"


@dataclass(frozen=True)
class ExpectationFailure:
    expectation: str
    column: str | None
    severity: str
    observed: Any
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: tuple[Any, ...] = ()
    row_level: bool = False

    def describe(self) -> str:
        where = f" on {self.column!r}" if self.column else ""
        observed = self.observed
        if self.unexpected_count is not None:
            observed = (
                f"{self.unexpected_count} unexpected rows ({self.unexpected_percent or 0:.2f}%)"
                + (f", e.g. {list(self.examples)[:3]}" if self.examples else "")
            )
        return f"{self.expectation}{where}: observed {observed}"


@dataclass(frozen=True)
class GateReport:
    contract: str
    batch: str
    status: str
    rows: int
    quarantined_rows: int
    evaluated_expectations: int
    failures: tuple[ExpectationFailure, ...] = ()
    warnings: tuple[ExpectationFailure, ...] = ()
    data_docs_url: str | None = None
    result_path: str | None = None
    quarantine_path: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    #: sha256 of the landed content judged: the verdict stands for that content only.
    content_sha256: str | None = None
    validated_path: str | None = None
    released_from: str | None = None

    @property
    def passed(self) -> bool:
        return self.status != REJECTED

    def summary(self) -> dict[str, Any]:
        """JSON-ready: what is logged to MLflow and stored per date (long lists counted)."""
        raw = asdict(self)
        raw["parameters"] = {
            key: (f"{len(value)} values" if isinstance(value, list) and len(value) > 10 else value)
            for key, value in self.parameters.items()
        }
        return dict(json.loads(json.dumps(raw, default=str)))

    def event_extra(self) -> dict[str, Any]:
        """What an Asset event says about a validated day (small, JSON-ready)."""
        return {
            "contract": self.contract,
            "day": self.batch.removeprefix("date="),
            "status": self.status,
            "rows": self.rows - self.quarantined_rows,
            "quarantined_rows": self.quarantined_rows,
            "partition": self.validated_path,
            "content_sha256": self.content_sha256,
        }

    def message(self) -> str:
        lines = [
            f"data gate {self.status.upper()}: contract {self.contract!r}, batch {self.batch} "
            f"({self.rows} rows, {self.quarantined_rows} quarantined)"
        ]
        lines += [f"  FAILED {failure.describe()}" for failure in self.failures]
        lines += [f"  warning {warning.describe()}" for warning in self.warnings]
        if self.quarantine_path:
            lines.append(f"  kept in quarantine: {self.quarantine_path}")
        if self.data_docs_url:
            lines.append(f"  Data Docs: {self.data_docs_url}")
        if self.result_path:
            lines.append(f"  validation result: {self.result_path}")
        return "\n".join(lines)


class DataGateError(RuntimeError):
    """A blocking expectation failed: the batch is held, nothing downstream may run."""

    def __init__(self, report: GateReport):
        super().__init__(report.message())
        self.report = report


@dataclass(frozen=True)
class Validation:
    report: GateReport
    clean: pd.DataFrame | None
    quarantined: pd.DataFrame | None


class GreatExpectationsRunner:
    """One ephemeral GX context per process, built from the suites in code.

    Nothing is written to a GX project at run time, so nothing needs a lock, and any number
    of gates can run at once on any number of workers. Data Docs are rendered into a scratch
    folder and published to `data_docs_uri` (a folder or `s3://…`, shared by the workers):
    each validation's page under `validations/`, and an index of every page published there."""

    def __init__(self, data_docs_uri: str | None):
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        from pipelines.gate.chunked import disable_small_frame_fingerprint

        disable_small_frame_fingerprint()
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.data_docs_uri = data_docs_uri
        self.docs_site: str | None = None
        self._scratch: str | None = None
        if data_docs_uri is not None:
            self.docs_site = "reports"
            self._scratch = tempfile.mkdtemp(prefix="gx-data-docs-")
            self.context.add_data_docs_site(
                site_name=self.docs_site,
                site_config={
                    "class_name": "SiteBuilder",
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": self._scratch,
                    },
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
        self.source = self.context.data_sources.add_pandas("batches")
        self._definitions: dict[tuple[str, bool], tuple[str, Any]] = {}
        self._published: dict[str, int] = {}

    def _checkpoint(self, contract: Contract, result_format: str, build_docs: bool) -> Any:
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction

        suite = json.dumps(
            [e.configuration.to_json_dict() for e in contract.expectations],
            sort_keys=True,
            default=str,
        )
        key = (f"{contract.name}:{result_format}:{suite}", build_docs)
        if key not in self._definitions:
            # One suite, asset and definition per distinct suite content: names must be unique
            # in a context, and a contract's row-level subset differs from batch to batch.
            used = {name for name, _ in self._definitions.values()}
            unique = contract.name if contract.name not in used else f"{contract.name}-{len(used)}"
            asset = self.source.add_dataframe_asset(unique)
            definition = self.context.validation_definitions.add(
                gx.ValidationDefinition(
                    name=unique,
                    data=asset.add_batch_definition_whole_dataframe("whole"),
                    suite=self.context.suites.add(Contract(unique, contract.expectations).suite()),
                )
            )
            actions: list[Any] = []
            if build_docs and self.docs_site:
                actions.append(UpdateDataDocsAction(name="data_docs", site_names=[self.docs_site]))
            self._definitions[key] = (
                unique,
                self.context.checkpoints.add(
                    gx.Checkpoint(
                        name=unique,
                        validation_definitions=[definition],
                        actions=actions,
                        result_format={"result_format": result_format},
                    )
                ),
            )
        return self._definitions[key][1]

    def run(
        self,
        contract: Contract,
        frame: pd.DataFrame,
        parameters: dict[str, Any],
        result_format: str,
        build_docs: bool,
        run_name: str | None = None,
    ) -> tuple[Any, str | None]:
        """Validate `frame`; with `build_docs`, its Data Docs page is filed under `run_name`
        (the batch, e.g. `date=2013-02-08`) and its URL returned."""
        from great_expectations.core.run_identifier import RunIdentifier

        build_docs = build_docs and self.docs_site is not None
        checkpoint = self._checkpoint(contract, result_format, build_docs)
        result = checkpoint.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=parameters,
            run_id=RunIdentifier(run_name=run_name) if run_name else None,
        )
        identifier, validation = next(iter(result.run_results.items()))
        docs_url = None
        if build_docs and self.docs_site:
            urls = self.context.get_docs_sites_urls(
                resource_identifier=identifier, site_names=[self.docs_site]
            )
            page = urls[0]["site_url"] if urls else None
            docs_url = self._publish_docs(page)
        return validation, docs_url

    def _publish_docs(self, page_url: str | None) -> str | None:
        """Copy the rendered pages to the shared Data Docs location; return the page's URL."""
        from pipelines.storage import join_uri, publish_tree

        assert self._scratch is not None and self.data_docs_uri is not None
        publish_tree(self._scratch, self.data_docs_uri, self._published, skip=("index.html",))
        write_data_docs_index(self.data_docs_uri)
        if not page_url:
            return None
        relative = page_url.split(self._scratch, 1)[-1].lstrip("/")
        published = join_uri(self.data_docs_uri, relative)
        return published if "://" in published else f"file://{published}"


def write_data_docs_index(data_docs_uri: str) -> str:
    """An index of every validation page published under `data_docs_uri` by any worker (each
    ephemeral context knows only its own), newest first per suite."""
    from html import escape

    from pipelines.storage import join_uri, list_files, write_text

    root = data_docs_uri.rstrip("/")
    pages = [uri[len(root) + 1 :] for uri in list_files(root, "validations/**/*.html")]
    by_suite: dict[str, list[str]] = {}
    for page in sorted(pages, reverse=True):
        by_suite.setdefault(page.split("/")[1], []).append(page)
    sections = "".join(
        f"<h2>{escape(suite)}</h2><ul>"
        + "".join(f'<li><a href="{escape(p)}">{escape(p.split("/", 2)[2])}</a></li>' for p in found)
        + "</ul>"
        for suite, found in sorted(by_suite.items())
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Data Docs</title></head>"
        f"<body><h1>Great Expectations validations</h1>{sections}</body></html>"
    )
    return write_text(page, join_uri(root, "index.html"))


_RUNNERS: dict[str | None, GreatExpectationsRunner] = {}


def runner(data_docs_uri: str | None) -> GreatExpectationsRunner:
    if data_docs_uri not in _RUNNERS:
        _RUNNERS[data_docs_uri] = GreatExpectationsRunner(data_docs_uri)
    return _RUNNERS[data_docs_uri]


def _failure(result: Any, columns: set[str]) -> ExpectationFailure:
    config = result.expectation_config
    kwargs = config.kwargs
    details = result.result or {}
    row_level = config.type in ROW_LEVEL and kwargs.get("mostly", 1) in (None, 1, 1.0)
    column = kwargs.get("column") or (
        ",".join(kwargs.get("column_list", [])) or None
        if "column_list" in kwargs
        else (f"{kwargs['column_A']}>{kwargs['column_B']}" if "column_A" in kwargs else None)
    )
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
    report = GateReport(
        contract=contract.name,
        batch=batch,
        status=PASSED,
        rows=len(frame),
        quarantined_rows=0,
        evaluated_expectations=evaluated,
        failures=tuple(blocking),
        warnings=tuple(warnings),
        data_docs_url=docs_url,
        parameters=parameters,
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
    report = GateReport(
        contract=contract.name,
        batch=batch,
        status=PASSED if not blocking else REJECTED,
        rows=rows,
        quarantined_rows=0,
        evaluated_expectations=evaluated,
        failures=tuple(blocking),
        warnings=tuple(warnings),
        data_docs_url=docs_url,
        parameters=parameters,
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


def unreadable_report(contract: str, batch: str, error: Exception) -> GateReport:
    """A batch that is not readable parquet (corrupt, truncated, CSV…) fails before GX runs."""
    failure = ExpectationFailure(
        expectation="batch_is_readable_parquet",
        column=None,
        severity="critical",
        observed=f"{type(error).__name__}: {error}",
    )
    return GateReport(
        contract=contract,
        batch=batch,
        status=REJECTED,
        rows=0,
        quarantined_rows=0,
        evaluated_expectations=1,
        failures=(failure,),
    )
