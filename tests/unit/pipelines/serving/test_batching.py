"""Requests waiting together are scored in one model call, each gets its own rows back."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pandas as pd
import pytest

from pipelines.serving.batching import MicroBatcher


class Model:
    """Probability = the flight's number / 100; holds each call until released."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[int] = []
        self.release = threading.Event()

    def score(self, frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        self.release.wait(5)
        self.calls.append(len(frame))
        if (frame["n"] < 0).any():
            raise ValueError("a negative flight")
        return frame["n"].to_numpy() / 100, frame.assign(seen=frame["n"] * 2)


def _frame(*numbers: int) -> pd.DataFrame:
    return pd.DataFrame({"n": list(numbers)})


def _batcher(model: Model, max_flights: int = 100) -> MicroBatcher[Model]:
    return MicroBatcher(lambda: model, lambda frame, m: m.score(frame), max_flights)


def test_requests_waiting_together_are_one_model_call_and_each_gets_its_rows():
    async def scenario() -> tuple[list, list[int]]:
        model = Model("v1")
        batcher = _batcher(model)
        batcher.start()
        first = asyncio.create_task(batcher.submit(_frame(1)))
        await asyncio.sleep(0.05)  # the first call is running (held): the next ones wait
        rest = [asyncio.create_task(batcher.submit(_frame(10 * i, 10 * i + 1))) for i in (1, 2, 3)]
        await asyncio.sleep(0.05)
        model.release.set()
        answers = [await first] + [await task for task in rest]
        await batcher.stop()
        return answers, model.calls

    answers, calls = asyncio.run(scenario())
    assert calls == [1, 6]  # the three waiting requests went in one call
    assert [list(a.probability) for a in answers] == [
        [0.01],
        [0.10, 0.11],
        [0.20, 0.21],
        [0.30, 0.31],
    ]
    assert {a.model.name for a in answers} == {"v1"}
    assert list(answers[2].inputs["seen"]) == [40, 42]  # its own rows' inputs


def test_a_batch_never_exceeds_max_flights_and_a_failure_reaches_only_its_callers():
    async def scenario() -> tuple[list, list[int]]:
        model = Model("v1")
        batcher = _batcher(model, max_flights=3)
        batcher.start()
        first = asyncio.create_task(batcher.submit(_frame(1)))
        await asyncio.sleep(0.05)
        waiting = [
            asyncio.create_task(batcher.submit(_frame(2, 3))),
            asyncio.create_task(batcher.submit(_frame(-4, 5))),  # with 2, 3: past max_flights
        ]
        await asyncio.sleep(0.05)
        model.release.set()
        results = await asyncio.gather(first, *waiting, return_exceptions=True)
        await batcher.stop()
        return results, model.calls

    results, calls = asyncio.run(scenario())
    assert calls == [1, 2, 2]
    assert list(results[1].probability) == [0.02, 0.03]
    assert isinstance(results[2], ValueError)


def test_a_caller_that_timed_out_is_skipped_and_no_model_is_a_lookup_error():
    async def scenario() -> tuple[list[int], BaseException | None]:
        model = Model("v1")
        batcher = _batcher(model)
        batcher.start()
        first = asyncio.create_task(batcher.submit(_frame(1)))
        await asyncio.sleep(0.05)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.submit(_frame(7, 8)), timeout=0.05)
        model.release.set()
        await first
        await asyncio.sleep(0.05)
        await batcher.stop()
        empty = MicroBatcher(lambda: None, lambda frame, m: m, 10)
        empty.start()
        try:
            await empty.submit(_frame(1))
        except LookupError as error:
            caught: BaseException | None = error
        else:
            caught = None
        await empty.stop()
        return model.calls, caught

    calls, caught = asyncio.run(scenario())
    assert calls == [1]  # the abandoned request was never scored
    assert isinstance(caught, LookupError)
