"""What one run costs, measured where it runs: CPU-seconds, wall time, peak memory and the bytes
it wrote, one record per (stage, day, part) in the cost ledger.

The stage functions measure themselves (`measured`), so the DAG's tasks, the CLI and the replay
record the same way. A record is keyed by its stage, the day it is for and its part (a shard, the
publish step, a training window): running a day again replaces its record, as the day's outputs
are replaced. `monitoring/cost_report.py` sums a month.

Peak memory is the process's resident high-water mark during the run: Linux lets a process reset
it (`/proc/self/clear_refs`), so a long-lived process (the replay) measures each run on its own;
where that reset is refused, it is the process's peak so far (said in the record)."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pipelines.config import Params
from pipelines.storage import filesystem, join_uri, write_text

STAGES = ("training", "scoring", "monitoring")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


@dataclass(frozen=True)
class RunCost:
    stage: str
    day: str  # the day the run is for (ISO), not the wall-clock day it ran
    part: str  # what of the stage: a shard, "publish", a training window, "night"
    cpu_seconds: float  # user + system, this process and the worker processes it waited for
    wall_seconds: float
    peak_memory_bytes: int
    bytes_written: int  # the outputs the run declared (`Meter.wrote`), at their final size
    peak_memory_scope: str = "run"  # "process" where the high-water mark could not be reset

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def log_line(self) -> str:
        return (
            f"cost of {self.stage} {self.day} {self.part}: {self.cpu_seconds:.1f} CPU-s, "
            f"{self.wall_seconds:.1f} s wall, peak {self.peak_memory_bytes / 2**20:.0f} MiB "
            f"({self.peak_memory_scope}), wrote {self.bytes_written / 2**20:.2f} MiB"
        )

    def mlflow_metrics(self) -> dict[str, float]:
        return {
            "cost_cpu_seconds": self.cpu_seconds,
            "cost_wall_seconds": self.wall_seconds,
            "cost_peak_memory_bytes": float(self.peak_memory_bytes),
            "cost_bytes_written": float(self.bytes_written),
        }


@dataclass
class Meter:
    """Handed to the measured block: it names what the run wrote (files or folders)."""

    outputs: list[str] = field(default_factory=list)
    other_bytes: int = 0  # written where no URI names it (an MLflow run's artifacts)
    result: RunCost | None = None

    def wrote(self, *uris: str | None) -> None:
        self.outputs.extend(uri for uri in uris if uri)

    def wrote_bytes(self, size: int) -> None:
        self.other_bytes += int(size)


def uri_bytes(uri: str) -> int:
    """The size of a file, or of everything under a folder; 0 when it is not there."""
    fs, path = filesystem(uri)
    if not fs.exists(path):
        return 0
    if fs.isdir(path):
        return int(sum(fs.du(path, total=False).values()))
    return int(fs.size(path))


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _reset_peak() -> bool:
    """Reset this process's resident high-water mark (Linux `clear_refs` 5)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _children_peak() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def _peak_bytes(children_before: int) -> int:
    """VmHWM of this process, or the getrusage peak; a worker process's if one that ended in
    the run peaked higher. The children's figure is a lifetime maximum that cannot be reset,
    so it counts only when it rose during the run (an earlier child's peak is not the run's)."""
    own = 0
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = int(line.split()[1]) * 1024
    except OSError:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children = _children_peak()
    return max(own, children if children > children_before else 0)


def record_uri(params: Params, stage: str, day: date, part: str) -> str:
    safe_part = "".join(ch if ch.isalnum() or ch in "-_.=" else "_" for ch in part)
    return join_uri(
        params.workspace_path(params.cost.ledger_dir),
        f"stage={stage}",
        f"day={day.isoformat()}",
        f"part={safe_part}.json",
    )


@contextmanager
def measured(params: Params, stage: str, day: date, part: str) -> Iterator[Meter]:
    """Measure the block, then print the cost line (the task log) and write the ledger record.
    A block that raises records nothing: a failed run's retry is the one that is counted."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: one of {STAGES}")
    meter = Meter()
    reset = _reset_peak()
    children_before = _children_peak()
    cpu_before, wall_before = _cpu_seconds(), time.perf_counter()
    yield meter
    cost = RunCost(
        stage=stage,
        day=day.isoformat(),
        part=part,
        cpu_seconds=round(_cpu_seconds() - cpu_before, 3),
        wall_seconds=round(time.perf_counter() - wall_before, 3),
        peak_memory_bytes=_peak_bytes(children_before),
        bytes_written=meter.other_bytes + sum(uri_bytes(uri) for uri in meter.outputs),
        peak_memory_scope="run" if reset else "process",
    )
    meter.result = cost
    print(cost.log_line(), file=sys.stderr)
    write_text(json.dumps(cost.as_dict(), sort_keys=True), record_uri(params, stage, day, part))


def read_ledger(params: Params) -> list[RunCost]:
    """Every record of the ledger (an empty list when nothing was measured yet)."""
    root = params.workspace_path(params.cost.ledger_dir)
    fs, path = filesystem(root)
    if not fs.exists(path):
        return []
    return [
        RunCost(**json.loads(fs.cat_file(found).decode()))
        for found in sorted(fs.glob(f"{path.rstrip('/')}/stage=*/day=*/part=*.json"))
    ]
