"""`core.settle.settle_all`: gather's outcomes, DataLoader batches kept, no task per coroutine."""

import asyncio
from typing import Any

import pytest
from aiodataloader import DataLoader

from graphql_api.core.settle import settle_all


class Recording(DataLoader):  # type: ignore[type-arg]
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[int]] = []

    async def batch_load_fn(self, keys: list[int]) -> list[Any]:
        self.batches.append(list(keys))
        return [ValueError(f"no {k}") if k < 0 else k * 10 for k in keys]


async def resolver(loader: Recording, key: int) -> int:
    first = await loader.load(key)
    second = await loader.load(key + 1000)  # the next level: one batch for all again
    return int(first + second)


async def test_outcomes_are_gathers_and_each_level_is_one_batch() -> None:
    loader = Recording()
    outcomes = await settle_all([resolver(loader, k) for k in (1, 2, -3)])
    assert outcomes[:2] == [10 + 10010, 20 + 10020]
    assert isinstance(outcomes[2], ValueError) and str(outcomes[2]) == "no -3"
    assert loader.batches == [[1, 2, -3], [1001, 1002]]


async def test_no_task_is_made_for_a_coroutine() -> None:
    loader = Recording()
    before = len(asyncio.all_tasks())
    seen: list[int] = []

    async def counting(key: int) -> int:
        seen.append(len(asyncio.all_tasks()))
        return await resolver(loader, key)

    assert await settle_all([counting(k) for k in range(20)]) == [
        k * 10 + (k + 1000) * 10 for k in range(20)
    ]
    assert max(seen) <= before + 1  # at most the loader's own dispatch


async def test_futures_bare_yields_and_results_without_awaiting() -> None:
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_soon(future.set_result, "later")

    async def turns() -> str:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return "turned"

    async def at_once() -> str:
        return "now"

    assert await settle_all([future, turns(), at_once()]) == ["later", "turned", "now"]


async def test_a_shared_future_is_not_cancelled_and_waiters_are_closed_on_cancel() -> None:
    loop = asyncio.get_running_loop()
    never = loop.create_future()
    closed: list[int] = []

    async def waits(n: int) -> None:
        try:
            await never
        finally:
            closed.append(n)

    task = asyncio.ensure_future(settle_all([waits(1), waits(2), never]))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(closed) == [1, 2]
    assert not never.cancelled()  # a DataLoader may have handed it to another field


async def test_an_awaited_foreign_object_is_an_error_outcome() -> None:
    class Odd:
        def __await__(self) -> Any:
            yield "not a future"

    async def awaits_odd() -> None:
        await Odd()

    (outcome,) = await settle_all([awaits_odd()])
    assert isinstance(outcome, RuntimeError)
