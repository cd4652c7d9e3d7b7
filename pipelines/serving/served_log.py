"""What was served online, kept: every answered flight with the model inputs it was scored on,
the version (or the fallback) that answered, and the request id.

The service buffers rows in memory and writes them every `serving.served_log_flush_seconds`
(and at shutdown) as new Parquet files under `serving.served_log_dir`, partitioned by the
flight's day (`date=D/part-<UTC time>-<id>.parquet`): a file is written whole and never
appended, so a reader never sees half of one, and two service processes never write the same
file. Monitoring compares a day's served inputs with the features the nightly batch builds for
the same flights from the validated store (`monitoring.skew`)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import pandas as pd

from pipelines.storage import exists, join_uri, list_files, read_parquet, write_parquet

#: The columns of every served row besides the model inputs
SERVED_COLUMNS = (
    "request_id",
    "flight_id",
    "flight_date",
    "served_at",
    "served_by",  # champion | fallback
    "model_version",
    "late_probability",
)


class ServedLog:
    """A buffer of served rows, written as a new file per day on `flush` (thread-safe)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._frames: list[pd.DataFrame] = []
        self._lock = threading.Lock()

    def add(self, rows: pd.DataFrame) -> None:
        with self._lock:
            self._frames.append(rows)

    def flush(self) -> list[str]:
        """Write what is buffered; the files written (none when nothing was served)."""
        with self._lock:
            frames, self._frames = self._frames, []
        if not frames:
            return []
        served = pd.concat(frames, ignore_index=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        written = []
        for day, rows in served.groupby("flight_date", sort=True):
            name = f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
            uri = join_uri(self.root, f"date={day}", name)
            written.append(write_parquet(rows.reset_index(drop=True), uri))
        return written


def read_served(root: str, day: str) -> pd.DataFrame | None:
    """Every row served for flights of `day` (None: nothing was served for that day)."""
    folder = join_uri(root, f"date={day}")
    if not exists(folder):
        return None
    parts = list_files(folder, "part-*.parquet")
    if not parts:
        return None
    return pd.concat([read_parquet(uri) for uri in parts], ignore_index=True)
