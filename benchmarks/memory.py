"""Peak memory of a process and its workers together, sampled from /proc (Linux).

`ru_maxrss` is per process, counts pages a forked child shares with its parent as the child's
own, and survives `execve` (a subprocess of a big benchmark process starts "big"). PSS
(proportional set size) splits shared pages between the processes sharing them, so the sum
over the process tree is the memory actually in use at that moment."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _tree(pid: int) -> list[int]:
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        pending += _children(current)
    return pids


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakTreeMemory:
    """`with PeakTreeMemory() as peak: ...` then `peak.mb`: the largest sum of PSS over this
    process and its descendants seen at any sample (every `interval` seconds)."""

    def __init__(self, interval: float = 0.25):
        self.interval = interval
        self.peak_kb = 0
        self.peak_after_seconds = 0.0  # since the start: which step the peak belongs to
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        started = time.perf_counter()
        while True:
            total = sum(_pss_kb(pid) for pid in _tree(os.getpid()))
            if total > self.peak_kb:
                self.peak_kb, self.peak_after_seconds = total, time.perf_counter() - started
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakTreeMemory:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mb(self) -> int:
        return round(self.peak_kb / 1024)
