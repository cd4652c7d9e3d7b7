"""Requests that arrive together are scored together: one feature build and one `predict_proba`
for every flight waiting, instead of one per request.

Building a request's features costs about the same for one flight as for a hundred (the batch's
feature code works per column, and a call's fixed cost is most of it), so under concurrent
callers a request served alone mostly waits for the ones ahead. The batcher takes whatever is
waiting when the model is free (never more than `max_flights`, never waiting for more: a lone
caller is answered at once), scores it in one worker thread, and hands each request its rows
and the model version that scored them. A request that times out stops waiting and gets the
fallback; a batch already running finishes (a thread cannot be interrupted), so a model that
hangs sends the requests behind it to the fallback too, by their own timeouts, never to a
queue without end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio.to_thread
import numpy as np
import pandas as pd

Model = TypeVar("Model")


@dataclass(frozen=True)
class Scored(Generic[Model]):
    probability: np.ndarray
    inputs: pd.DataFrame  # the model inputs they were scored on, in the same order
    model: Model  # the model that scored them (a reload between batches changes it)


@dataclass
class _Waiting(Generic[Model]):
    frame: pd.DataFrame
    answer: asyncio.Future[Scored[Model]]


class MicroBatcher(Generic[Model]):
    """One scoring loop per service: `submit` a request's flights, await their probabilities."""

    def __init__(
        self,
        current_model: Callable[[], Model | None],
        score: Callable[[pd.DataFrame, Model], tuple[np.ndarray, pd.DataFrame]],
        max_flights: int,
    ) -> None:
        self._current_model = current_model
        self._score = score
        self._max_flights = max_flights
        self._queue: asyncio.Queue[_Waiting[Model]] = asyncio.Queue()
        self._loop_task: asyncio.Task[None] | None = None
        self.batches = 0  # how many model calls were made (the metrics read it)

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)

    async def submit(self, frame: pd.DataFrame) -> Scored[Model]:
        """The request's probabilities, in its rows' order (raises what scoring raised)."""
        waiting = _Waiting(frame, asyncio.get_running_loop().create_future())
        await self._queue.put(waiting)
        return await waiting.answer

    def _take_waiting(self, first: _Waiting[Model]) -> list[_Waiting[Model]]:
        taken, flights = [first], len(first.frame)
        while not self._queue.empty():
            following = self._queue._queue[0]  # type: ignore[attr-defined]  # peek
            if flights + len(following.frame) > self._max_flights:
                break
            taken.append(self._queue.get_nowait())
            flights += len(following.frame)
        return [w for w in taken if not w.answer.done()]  # a caller that gave up is skipped

    async def _run(self) -> None:
        while True:
            batch = self._take_waiting(await self._queue.get())
            if not batch:
                continue
            model = self._current_model()
            if model is None:
                for waiting in batch:
                    _settle(waiting.answer, error=LookupError("no model loaded"))
                continue
            frame = pd.concat([w.frame for w in batch], ignore_index=True)
            try:
                probability, inputs = await anyio.to_thread.run_sync(self._score, frame, model)
            except Exception as error:  # noqa: BLE001 - each caller gets it and falls back
                for waiting in batch:
                    _settle(waiting.answer, error=error)
                continue
            self.batches += 1
            start = 0
            for waiting in batch:
                rows = len(waiting.frame)
                part = slice(start, start + rows)
                answer = Scored(probability[part], inputs.iloc[part].reset_index(drop=True), model)
                _settle(waiting.answer, answer)
                start += rows


def _settle(
    answer: asyncio.Future[Scored[Model]],
    value: Scored[Model] | None = None,
    error: BaseException | None = None,
) -> None:
    if answer.done():  # the caller timed out meanwhile
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(value)  # type: ignore[arg-type]
