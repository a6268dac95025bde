"""Await many resolvers' coroutines together, without a Task for each.

`asyncio.gather` wraps every coroutine in a Task: for a page of 20 users, 20 tasks to
create, schedule and step, each to await one DataLoader future. Here the coroutines are
stepped in place, level by level: each runs until it waits for a future; once every
future of the level is done, all of them resume in one pass, so the loads they make
next still land in the same DataLoader batch, as with gather.

The protocol is asyncio's own (what `Task` does): a coroutine waiting for a future
yields it with `_asyncio_future_blocking` set; the driver clears the flag, waits until
the future is done, and sends the coroutine None, upon which `await` returns the
future's result or raises its exception. A bare yield (`asyncio.sleep(0)`) waits for
one turn of the loop.
"""

import asyncio
from collections.abc import Awaitable, Coroutine
from types import CoroutineType
from typing import Any

_TURN = object()  # a coroutine that yielded nothing waits for a turn of the loop


async def settle_all(awaitables: list[Awaitable[Any]]) -> list[Any]:
    """Each awaitable's result or exception, as `gather(..., return_exceptions=True)`.

    Every coroutine has ended when this returns, or is closed if this is cancelled.
    Futures are left alone: a DataLoader hands the same one to every field that asks.
    """
    outcomes: list[Any] = [None] * len(awaitables)
    waiting: list[tuple[int, Coroutine[Any, Any, Any], Any]] = []
    others: list[tuple[int, asyncio.Future[Any]]] = []

    def advance(i: int, coroutine: Coroutine[Any, Any, Any]) -> None:
        try:
            awaited = coroutine.send(None)
        except StopIteration as stop:
            outcomes[i] = stop.value
            return
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # an outcome, as with return_exceptions
            outcomes[i] = exc
            return
        if awaited is None:
            waiting.append((i, coroutine, _TURN))
        elif getattr(awaited, "_asyncio_future_blocking", False):
            awaited._asyncio_future_blocking = False
            waiting.append((i, coroutine, awaited))
        else:
            coroutine.close()
            outcomes[i] = RuntimeError(f"a resolver awaited {awaited!r}, not an asyncio future")

    try:
        for i, awaitable in enumerate(awaitables):
            if type(awaitable) is CoroutineType:
                advance(i, awaitable)  # type: ignore[arg-type]
            else:
                others.append((i, asyncio.ensure_future(awaitable)))
        while waiting:
            futures = {f for _, _, f in waiting if f is not _TURN and not f.done()}
            if futures:
                await asyncio.wait(futures)
            else:
                await asyncio.sleep(0)
            level, waiting = waiting, []
            for n, (i, coroutine, _) in enumerate(level):
                try:
                    advance(i, coroutine)
                except BaseException:
                    waiting.extend(level[n + 1 :])
                    raise
        if others:
            await asyncio.wait([f for _, f in others])
            for i, future in others:
                try:
                    outcomes[i] = future.result()
                except BaseException as exc:
                    outcomes[i] = exc
    finally:
        for _, coroutine, _ in waiting:
            coroutine.close()
    return outcomes
