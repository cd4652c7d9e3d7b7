"""The training snapshot and the feature table through their contracts (the training DAG's
gate): any blocking failure holds the run, and a copy of the failing table is quarantined."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pandas as pd

from pipelines.config import Params
from pipelines.data import landing
from pipelines.gate import contracts
from pipelines.gate.quarantine import (
    quarantine_dir,
    store_result,
    validate_batch,
    write_validation_beside,
)
from pipelines.gate.report import DataGateError, GateReport
from pipelines.storage import (
    join_uri,
    write_parquet,
)


def snapshot_parameters(
    params: Params, tables: dict[str, pd.DataFrame], span: tuple[date, date] | None = None
) -> dict[str, Any]:
    """`span`: the snapshot's first and last day (default: the fixed window of params.yaml)."""
    start, end = span or (params.data.snapshot_start, params.data.snapshot_end)
    days = landing.days(start, end)
    low, high = params.gate.row_count_prior
    return {
        **contracts.date_parameters([d.isoformat() for d in days]),
        "min_rows": low * len(days),
        "max_rows": high * len(days),
        **contracts.reference_code_parameters(tables["airlines"], tables["airports"]),
    }


SNAPSHOT_CONTRACTS = {
    "flights": "scheduled_flights",
    "outcomes": "outcomes",
    "airlines": "reference_airlines",
    "airports": "reference_airports",
    "planes": "reference_planes",
    "weather": "reference_weather",
}


def gate_snapshot(
    params: Params,
    tables: dict[str, pd.DataFrame],
    batch: str,
    span: tuple[date, date] | None = None,
) -> list[GateReport]:
    """Every table of the training snapshot through its contract; any blocking failure holds
    the run (the snapshot itself stays in DVC; a copy of the failing table is quarantined).
    `span`: the days the snapshot covers (its manifest's), default the fixed window."""
    parameters = snapshot_parameters(params, tables, span)
    reports, failed = [], []
    for table, contract_name in SNAPSHOT_CONTRACTS.items():
        validation = validate_batch(params, contract_name, tables[table], parameters, batch)
        report = validation.report
        if not report.passed:
            copy_uri = join_uri(quarantine_dir(params, "snapshot", batch), f"{table}.parquet")
            write_parquet(tables[table], copy_uri)
            report = replace(report, quarantine_path=copy_uri)
            write_validation_beside(params, report, copy_uri)
            failed.append(report)
        reports.append(store_result(params, replace(report, batch=f"{batch}-{table}")))
    if failed:
        raise DataGateError(failed[0] if len(failed) == 1 else _combined(failed))
    return reports


def gate_features(params: Params, table: pd.DataFrame, batch: str, labelled: bool) -> GateReport:
    name = "labelled_feature_table" if labelled else "feature_table"
    validation = validate_batch(params, name, table, {}, batch)
    report = store_result(params, validation.report)
    if not report.passed:
        raise DataGateError(report)
    return report


def _combined(reports: list[GateReport]) -> GateReport:
    first = reports[0]
    return replace(
        first,
        contract="+".join(r.contract for r in reports),
        failures=tuple(f for r in reports for f in r.failures),
        warnings=tuple(w for r in reports for w in r.warnings),
    )
