"""Progress of long commands (landing a range of days, the gate replay, the year replay):
rich's progress bar on stderr when it is a terminal, nothing at all when it is not (a log
file, a pipe, CI, an Airflow task), so logs stay readable and a captured output stays the same."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Each of `items`, with a bar (done of total, elapsed, remaining) while a person watches."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield from items
        return
    from rich.progress import track as rich_track

    yield from rich_track(
        items, description=description, total=total, console=console, transient=True
    )
