"""A month of the loop's costs, per stage, and what it comes to at the unit prices of
params.yaml (`mlops cost --month 2013-06`).

CPU is priced per CPU-hour used (user + system), not per hour a machine was up: it is what the
loop's work costs, the floor of any bill. Storage is the bytes the month's runs wrote, priced as
kept for one month (`storage_gb_month_usd`): the month's share of what it adds to the stores."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from pipelines.config import CostParams
from pipelines.run_cost import STAGES, RunCost

GB = 1e9


@dataclass(frozen=True)
class StageCost:
    stage: str
    days: int  # distinct days with at least one record
    records: int  # runs and parts measured (shards, publish, nights, windows)
    cpu_seconds: float
    wall_seconds: float
    peak_memory_bytes: int  # the highest of any one record
    bytes_written: int
    cpu_usd: float
    storage_usd: float

    @property
    def total_usd(self) -> float:
        return self.cpu_usd + self.storage_usd


@dataclass(frozen=True)
class MonthCost:
    month: str  # YYYY-MM
    stages: tuple[StageCost, ...]
    cpu_hour_usd: float
    storage_gb_month_usd: float

    @property
    def total_usd(self) -> float:
        return sum(stage.total_usd for stage in self.stages)

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "prices": {
                "cpu_hour_usd": self.cpu_hour_usd,
                "storage_gb_month_usd": self.storage_gb_month_usd,
            },
            "stages": [{**asdict(s), "total_usd": s.total_usd} for s in self.stages],
            "total_usd": self.total_usd,
        }


def month_cost(records: Iterable[RunCost], month: str, prices: CostParams) -> MonthCost:
    """Sum the month's records per stage (every stage listed, zero when it did not run)."""
    if len(month) != 7 or month[4] != "-":
        raise ValueError(f"a month is YYYY-MM, not {month!r}")
    in_month = [record for record in records if record.day.startswith(month)]
    stages = []
    for stage in STAGES:
        own = [record for record in in_month if record.stage == stage]
        cpu = sum(record.cpu_seconds for record in own)
        written = sum(record.bytes_written for record in own)
        stages.append(
            StageCost(
                stage=stage,
                days=len({record.day for record in own}),
                records=len(own),
                cpu_seconds=round(cpu, 3),
                wall_seconds=round(sum(record.wall_seconds for record in own), 3),
                peak_memory_bytes=max((record.peak_memory_bytes for record in own), default=0),
                bytes_written=written,
                cpu_usd=cpu / 3600 * prices.cpu_hour_usd,
                storage_usd=written / GB * prices.storage_gb_month_usd,
            )
        )
    return MonthCost(month, tuple(stages), prices.cpu_hour_usd, prices.storage_gb_month_usd)


def render(cost: MonthCost) -> str:
    """The month as a Markdown table (what the README shows)."""
    lines = [
        f"Cost of {cost.month} at ${cost.cpu_hour_usd}/CPU-hour and "
        f"${cost.storage_gb_month_usd}/GB-month:",
        "",
        "| stage | days | runs | CPU-s | wall s | peak MiB | written MiB | CPU $ | storage $ "
        "| total $ |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in cost.stages:
        lines.append(
            f"| {s.stage} | {s.days} | {s.records} | {s.cpu_seconds:.0f} | {s.wall_seconds:.0f} "
            f"| {s.peak_memory_bytes / 2**20:.0f} | {s.bytes_written / 2**20:.1f} "
            f"| {s.cpu_usd:.4f} | {s.storage_usd:.4f} | {s.total_usd:.4f} |"
        )
    lines.append(f"| **month** | | | | | | | | | **{cost.total_usd:.4f}** |")
    return "\n".join(lines)
