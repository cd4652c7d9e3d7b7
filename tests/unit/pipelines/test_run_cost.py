"""The cost meter: what a block used, its ledger record, replaced on a re-run."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipelines.config import REPO_ROOT, Params, params_from_dict
from pipelines.run_cost import measured, read_ledger, record_uri, uri_bytes


@pytest.fixture
def params(tmp_path: Path) -> Params:
    return params_from_dict(
        yaml.safe_load((REPO_ROOT / "params.yaml").read_text()), workspace=tmp_path
    )


def _busy(cpu_seconds: float) -> None:
    """Spin until this process has used `cpu_seconds` of CPU (however fast the machine)."""
    start = time.process_time()
    while time.process_time() - start < cpu_seconds:
        sum(range(10_000))


def test_a_measured_block_records_its_cpu_memory_and_the_bytes_it_wrote(
    params: Params, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    output = tmp_path / "out" / "part.bin"
    with measured(params, "scoring", date(2013, 6, 3), "shard-0") as meter:
        _busy(0.3)
        held = np.ones(64 * 2**20 // 8)  # 64 MiB resident
        output.parent.mkdir()
        output.write_bytes(b"x" * 4096)
        (tmp_path / "out" / "other.bin").write_bytes(b"y" * 1000)
        meter.wrote(str(output.parent), None)
        meter.wrote_bytes(24)
    del held
    cost = meter.result
    assert cost is not None
    assert cost.cpu_seconds >= 0.25 and cost.wall_seconds >= cost.cpu_seconds * 0.5
    assert cost.peak_memory_bytes > 64 * 2**20
    assert cost.bytes_written == 4096 + 1000 + 24
    recorded = json.loads(
        Path(record_uri(params, "scoring", date(2013, 6, 3), "shard-0")).read_text()
    )
    assert recorded == cost.as_dict()
    assert "cost of scoring 2013-06-03 shard-0" in capsys.readouterr().err


def test_the_peak_is_the_runs_own_not_the_process_s_earlier_peak(params: Params):
    """A long-lived process (the replay) measures each run on its own."""
    big = np.ones(256 * 2**20 // 8)
    del big
    resident = _resident_bytes()  # what the process holds anyway (a test worker: a lot)
    with measured(params, "monitoring", date(2013, 6, 3), "night") as meter:
        small = np.ones(8 * 2**20 // 8)
        del small
    assert meter.result is not None
    if meter.result.peak_memory_scope == "run":
        # the resident set at the start, the 8 MiB, some slack; never the earlier 256 MiB
        assert meter.result.peak_memory_bytes < resident + 128 * 2**20


def _resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def test_a_rerun_replaces_its_record_and_a_failed_run_records_nothing(params: Params):
    day = date(2013, 6, 3)
    for _ in range(2):
        with measured(params, "monitoring", day, "night"):
            pass
    with pytest.raises(RuntimeError), measured(params, "monitoring", day, "other"):
        raise RuntimeError("the run failed")
    ledger = read_ledger(params)
    assert [(r.stage, r.day, r.part) for r in ledger] == [("monitoring", "2013-06-03", "night")]


def test_unknown_stage_and_missing_outputs(params: Params, tmp_path: Path):
    with (
        pytest.raises(ValueError, match="unknown stage"),
        measured(params, "nope", date(2013, 1, 1), "x"),
    ):
        pass
    assert uri_bytes(str(tmp_path / "absent")) == 0
    assert read_ledger(params) == []


def test_a_worker_that_ended_before_the_run_is_not_the_runs_peak(params: Params):
    """The waited-for children's peak is a lifetime maximum: an earlier, bigger child (a test
    worker's servers, say) must not become this run's peak."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", "b = bytearray(900 * 2**20)"], check=True)
    resident = _resident_bytes()
    with measured(params, "scoring", date(2013, 6, 3), "publish") as meter:
        pass
    assert meter.result is not None
    if meter.result.peak_memory_scope == "run":
        assert meter.result.peak_memory_bytes < max(resident, 300 * 2**20) + 128 * 2**20
