"""A WebSocket's frames from the feeds (`core.graphql.fanout`): written at once when the
socket takes them without waiting, queued for that socket alone when it does not.

A feed writes one event to a thousand sockets in one loop, so no write may wait: one
client that reads slowly would hold up every other. A write through ASGI only waits
when the socket's buffer is full (uvicorn waits for it to drain); otherwise it runs to
the end at once. So a write is started by hand: if it finishes at once, that was all;
if it stops to wait, a task of this socket's own finishes it and sends what is queued
behind it. Beyond `OUTBOX_SIZE` queued frames, or `OUTBOX_BYTES` of them (a frame may be
large: a selection of a room's history), `write` answers False and the feed cuts the
subscription off.
"""

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from graphql_api.core.graphql.fanout import OUTBOX_BYTES, OUTBOX_SIZE

Send = Callable[[str], Coroutine[Any, Any, None]]


class Outbox:
    def __init__(self, send: Send) -> None:
        self._send = send
        self._queue: deque[str] = deque()
        self._queued_bytes = 0
        self._writer: asyncio.Task[None] | None = None
        self.gone = False  # a write found the client gone: the handler ends its operations

    def write(self, frame: str) -> bool:
        if self.gone:
            return True
        if self._writer is not None:
            if len(self._queue) >= OUTBOX_SIZE or self._queued_bytes + len(frame) > OUTBOX_BYTES:
                return False
            self._queue.append(frame)
            self._queued_bytes += len(frame)
            return True
        write = self._send(frame)
        try:
            waiting = write.send(None)
        except StopIteration:
            return True
        except Exception:  # the client went (Starlette's errors for it vary)
            self.gone = True
            return True
        self._writer = asyncio.create_task(self._finish(write, waiting))
        return True

    async def _finish(self, write: Coroutine[Any, Any, None], waiting: Any) -> None:
        try:
            await _resume(write, waiting)
            while self._queue:
                frame = self._queue.popleft()
                self._queued_bytes -= len(frame)
                await self._send(frame)
        except Exception:
            self.gone = True
        finally:
            self._queue.clear()
            self._queued_bytes = 0
            self._writer = None

    def close(self) -> None:
        """The connection is over: what is queued goes nowhere."""
        self.gone = True
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        self._queue.clear()
        self._queued_bytes = 0

    async def drained(self) -> None:
        """Return once every queued frame is written (or the client has gone)."""
        while (writer := self._writer) is not None and not writer.done():
            await asyncio.wait([writer])


async def _resume(coroutine: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Run a coroutine that stopped on `waiting` (what it yielded: a future, or None for
    a bare yield) to its end, as a task would have."""
    try:
        while True:
            if waiting is None:
                await asyncio.sleep(0)
            else:
                await asyncio.wait([waiting])  # the coroutine reads its outcome itself
            waiting = coroutine.send(None)
    except StopIteration:
        return
    except asyncio.CancelledError:
        coroutine.close()
        raise
