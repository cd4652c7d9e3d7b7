"""The one process-pool helper: forked workers where the platform can fork.

Forked workers inherit what the parent already imported or loaded (Great Expectations, a
model): a spawned worker would spend seconds importing them again."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def process_pool(workers: int) -> ProcessPoolExecutor:
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
