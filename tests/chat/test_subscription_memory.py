"""A completed subscription is freed at once, not left to the cyclic garbage collector."""

import asyncio
import gc
from typing import Any

import orjson
from fastapi import FastAPI
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation

from tests.chat.test_chat import create_room
from tests.support.users import SignedIn
from tests.support.wait import eventually

EVENTS = 'subscription { chatEvents(room: "general") { __typename } }'


class AsgiWebSocket:
    """A graphql-transport-ws client speaking ASGI to the app, in this event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def open(self) -> None:
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"test"), (b"sec-websocket-protocol", b"graphql-transport-ws")],
            "subprotocols": ["graphql-transport-ws"],
            "client": ("127.0.0.1", 1234),
            "server": ("test", 80),
        }
        await self.incoming.put({"type": "websocket.connect"})
        self.task = asyncio.create_task(self.app(scope, self.incoming.get, self.outgoing.put))
        assert (await self.outgoing.get())["type"] == "websocket.accept"

    async def send(self, message: dict[str, Any]) -> None:
        await self.incoming.put(
            {"type": "websocket.receive", "text": orjson.dumps(message).decode()}
        )

    async def receive(self) -> dict[str, Any]:
        async with asyncio.timeout(5):
            message = await self.outgoing.get()
        assert message["type"] == "websocket.send", message
        return orjson.loads(message["text"])  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self.incoming.put({"type": "websocket.disconnect", "code": 1000})
        async with asyncio.timeout(5):
            await self.task


async def test_a_completed_subscription_is_freed_by_reference_counting(
    app: FastAPI, alice: SignedIn
) -> None:
    await create_room(alice, "general")
    socket = AsgiWebSocket(app)
    await socket.open()
    try:
        token = alice.client.token
        await socket.send({"type": "connection_init", "payload": {"authToken": token}})
        assert (await socket.receive())["type"] == "connection_ack"
        gc.collect()
        gc.disable()
        try:
            await socket.send({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}})
            joined = await socket.receive()  # the subscription is live
            assert joined["payload"]["data"]["chatEvents"]["__typename"] == "UserJoined"
            assert any(isinstance(o, Operation) for o in gc.get_objects())
            await socket.send({"id": "1", "type": "complete"})
            # The operation's task ends a few loop turns later; with the collector off,
            # only reference counting can free it. (Counted: a list would hold them.)
            await eventually(
                lambda: sum(isinstance(o, Operation) for o in gc.get_objects()),
                lambda alive: alive == 0,
                within=2,
                interval=0,
                what="the completed operation freed",
            )
        finally:
            gc.enable()
    finally:
        await socket.close()
