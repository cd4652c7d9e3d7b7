"""What a gate run says about a batch: its verdict, each failed expectation, and the error a
blocking failure raises (naming every failed expectation, its column and the observed value)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

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
            key: (
                f"{len(value)} values"
                if isinstance(value, (list, dict)) and len(value) > 10
                else value
            )
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
