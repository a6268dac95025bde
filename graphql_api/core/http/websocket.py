"""The WebSocket handlers of both subprotocols, and how many sockets a client may hold
open and for how long.

Each open socket holds a file descriptor and a task, so none may be had for nothing:
- A socket that sends no `connection_init` within `ws_init_timeout_seconds` is closed with
  4408, on both subprotocols (Strawberry does it for graphql-transport-ws only).
- An anonymous socket with no operation running for `ws_idle_anonymous_seconds` is closed
  with 1000. Signed-in ones stay: they are accountable, and the address cap holds them too.
- A `connection_init` whose token cannot be checked because no database connection came
  free in time (`db_pool_timeout_seconds`) closes the socket with 1013, "try again later",
  which clients retry; the log gets a warning, not a traceback.
- One client address (an IPv6 /64) holds at most `ws_max_connections_per_address` sockets
  in this process. One more is accepted and closed at once with 4429: a browser can read a
  close code (a refused handshake reaches its scripts as a bare failure), and graphql-ws
  clients take 4429 as final instead of retrying.
"""

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sized
from contextlib import contextmanager, suppress
from typing import Any, Protocol

import orjson
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.websockets import WebSocketDisconnect
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from graphql_api.core.graphql.context import Context
from graphql_api.core.graphql.fanout import current_sink
from graphql_api.core.graphql.internals import LetsCancelledTasksGo
from graphql_api.core.graphql.masking import BUSY_MESSAGE
from graphql_api.core.http.outbox import Outbox
from graphql_api.core.ratelimit import address_key

logger = logging.getLogger("graphql_api.ws")

TOO_MANY = (4429, "Too many connections from this address")
# The code and reason graphql-transport-ws defines; the legacy protocol defines none.
INIT_TIMEOUT = (4408, "Connection initialisation timeout")
IDLE = (1000, "Idle: an anonymous connection with no operation running")
BUSY = (1013, BUSY_MESSAGE)  # "Try Again Later" (RFC 6455's registry)


class SocketCounts:
    """Open WebSockets per client address, in this process."""

    def __init__(self, per_address: int) -> None:
        self.per_address = per_address
        self._open: Counter[str] = Counter()

    @contextmanager
    def held(self, address: str | None) -> Iterator[bool]:
        """Count a socket as open for the block; False, and not counted, at the cap."""
        key = address_key(address)
        if self._open[key] >= self.per_address:
            yield False
            return
        self._open[key] += 1
        try:
            yield True
        finally:
            self._open[key] -= 1
            if not self._open[key]:
                del self._open[key]  # only addresses with open sockets take memory


class Idleness:
    """Since when a connection has had no operation running."""

    def __init__(self, registered: Sized) -> None:
        # The handler's own map of operations: it takes one in before its task first runs.
        # (The map, not a bound method of the handler: that would make a cycle of every
        # connection, which only the cyclic collector would free, long after it closed.)
        self._registered = registered
        self._loop = asyncio.get_running_loop()
        self._running = 0
        self._since = self._loop.time()

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Count an operation as running for the block (its task's whole life)."""
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            self._since = self._loop.time()

    async def wait(self, seconds: float) -> None:
        """Return once no operation has run for `seconds`."""
        while True:
            if self._running or len(self._registered):
                # Once they end, `_since` moves on by at least this much: no need to look sooner.
                await asyncio.sleep(seconds)
                continue
            left = self._since + seconds - self._loop.time()
            if left <= 0:
                return
            await asyncio.sleep(left)


class CountingView(Protocol):
    sockets: SocketCounts


class ConnectionLimits:
    """The limits above, for a handler of either subprotocol (put it first in the bases)."""

    view: Any
    websocket: AsyncWebSocketAdapter
    context: Context
    connection_acknowledged: bool
    # graphql-transport-ws: Strawberry's handler has its own timer.
    times_out_init = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idleness = Idleness(self.registered_operations())
        self._watchers: list[asyncio.Task[None]] = []
        self._init_received = False
        self._watching_idle = False
        self._closed = False

    def registered_operations(self) -> Sized:
        """The handler's map of the operations it holds, started or about to."""
        raise NotImplementedError

    def outbox(self) -> Outbox:
        """The socket's outbox, for the feeds' frames (the view's TextWebSocketAdapter)."""
        return self.websocket.outbox  # type: ignore[attr-defined, no-any-return]

    async def handle(self) -> None:
        view: CountingView = self.view
        with view.sockets.held(self.context.client_address) as admitted:
            if not admitted:
                await self._close(*TOO_MANY)
                return
            if self.times_out_init:
                self._watch(self._close_unless_initialised())
            try:
                await super().handle()  # type: ignore[misc]  # the handler's, next in the MRO
            finally:
                self.outbox().close()
                for task in self._watchers:
                    task.cancel()
                for task in self._watchers:
                    with suppress(asyncio.CancelledError):
                        await task

    async def handle_message(self, message: Any) -> None:
        if self._closed:
            return  # sent as we closed: no operation may start on a closing socket
        await super().handle_message(message)  # type: ignore[misc]  # the handler's, next in the MRO

    async def handle_connection_init(self, message: Any) -> None:
        self._init_received = True  # checking its token takes a moment: not a timeout
        try:
            await super().handle_connection_init(message)  # type: ignore[misc]  # the handler's, next in the MRO
        except PoolTimeout:
            logger.warning("no database connection came free in time for a connection_init")
            await self._close(*BUSY)
            return
        # The legacy protocol takes connection_init again: one watcher is enough.
        if self.connection_acknowledged and self.context.token is None and not self._watching_idle:
            self._watching_idle = True
            self._watch(self._close_when_idle())

    def _watch(self, watcher: Coroutine[Any, Any, None]) -> None:
        self._watchers.append(asyncio.create_task(watcher))

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(self.context.settings.ws_init_timeout_seconds)
        if not self._init_received:
            await self._close(*INIT_TIMEOUT)

    async def _close_when_idle(self) -> None:
        await self.idleness.wait(self.context.settings.ws_idle_anonymous_seconds)
        await self._close(*IDLE)

    async def _close(self, code: int, reason: str) -> None:
        self._closed = True
        # The client may have gone at the same moment: then there is nothing to close.
        with suppress(RuntimeError, WebSocketDisconnect):
            await self.websocket.close(code, reason)


class OperationSink:
    """Where the feeds write one operation's results (`core.graphql.fanout.Sink`)."""

    __slots__ = ("_head", "_still_runs", "frame_key", "operation_name", "outbox", "shape")

    def __init__(
        self,
        outbox: Outbox,
        message_type: str,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
        still_runs: Callable[[], bool],
    ) -> None:
        self.outbox = outbox
        self.operation_name = operation_name
        self.shape: tuple[str, str | None, bytes] | None
        try:
            self.shape = (
                query,
                operation_name,
                orjson.dumps(variables, option=orjson.OPT_SORT_KEYS),
            )
        except TypeError:  # what orjson will not write (a huge int, deep nesting): no sharing
            self.shape = None
        self.frame_key = (message_type, operation_id)
        # What Strawberry's handlers send, key for key: orjson writes no spaces.
        id_json = orjson.dumps(operation_id).decode()
        if message_type == "next":  # graphql-transport-ws
            self._head = f'{{"id":{id_json},"type":"next","payload":'
        else:  # graphql-ws
            self._head = f'{{"type":"data","id":{id_json},"payload":'
        self._still_runs = still_runs

    def frame(self, payload: bytes) -> str:
        return f"{self._head}{payload.decode()}}}"

    def open(self) -> bool:
        return self._still_runs()

    def write(self, frame: str) -> bool:
        return self.outbox.write(frame)

    async def drained(self) -> None:
        await self.outbox.drained()


class LegacyWSHandler(ConnectionLimits, BaseGraphQLWSHandler[Context, None]):
    """Apollo's subscriptions-transport-ws protocol (`graphql-ws`), with the limits."""

    times_out_init = True

    def registered_operations(self) -> Sized:
        return self.tasks

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        task = asyncio.current_task()
        sink = OperationSink(
            self.outbox(),
            "data",
            operation_id,
            query,
            operation_name,
            variables,
            lambda: self.tasks.get(operation_id) is task,
        )
        with self.idleness.busy(), _feeding(sink):
            try:
                await super().handle_async_results(operation_id, query, operation_name, variables)
            except WebSocketDisconnected:
                # Strawberry sends `complete` even to a client that has gone (and lets the
                # error end the task, which no one awaits then): nothing is wrong here.
                _client_gone()


class TransportWSHandler(
    ConnectionLimits, LetsCancelledTasksGo, BaseGraphQLTransportWSHandler[Context, None]
):
    """graphql-transport-ws, with the limits; cancelled operations let go of at once."""

    def registered_operations(self) -> Sized:
        return self.operations

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, WebSocketDisconnected):
            _client_gone()  # an operation was sending as the client went: not a fault
            return
        await super().handle_task_exception(error)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        sink = OperationSink(
            self.outbox(),
            "next",
            operation.id,
            operation.query,
            operation.operation_name,
            operation.variables,
            lambda: self.operations.get(operation.id) is operation,
        )
        with self.idleness.busy(), _feeding(sink):
            await super().run_operation(operation)


@contextmanager
def _feeding(sink: OperationSink) -> Iterator[None]:
    """The operation's sink for its task, unset as the task ends: the task's context holds
    it, and it the operation, which holds the task (a cycle)."""
    token = current_sink.set(sink)
    try:
        yield
    finally:
        current_sink.reset(token)


def _client_gone() -> None:
    logger.debug("an operation ended: its client had gone")
