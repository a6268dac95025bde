"""A completed subscription is freed at once, not left to the cyclic garbage collector."""

import gc
from types import UnionType

import pytest
from fastapi import FastAPI
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation

from graphql_api.core.graphql.fanout import Feed, Member
from graphql_api.core.http.outbox import Outbox
from graphql_api.core.http.websocket import ConnectionLimits
from tests.support.chat import RESULT, START, create_room
from tests.support.client import AsgiWebSocket
from tests.support.users import SignedIn
from tests.support.wait import eventually

EVENTS = 'subscription { chatEvents(room: "general") { __typename } }'


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
            # The operation's task ends a few loop turns later.
            assert any(isinstance(o, Member) for o in gc.get_objects())  # it shares a feed
            await freed(
                Operation | Member | Feed, "the completed operation, its membership and feed"
            )
        finally:
            gc.enable()
    finally:
        await socket.close()


async def freed(types: type | UnionType, what: str) -> None:
    """Until no object of `types` is left: with the collector off, only reference counting
    can free them. (Counted, not listed: a list would hold them.)"""
    await eventually(
        lambda: sum(isinstance(o, types) for o in gc.get_objects()),
        lambda alive: alive == 0,
        within=2,
        interval=0,
        what=f"{what} freed",
    )


@pytest.mark.parametrize("subprotocol", START)
async def test_a_closed_connection_is_freed_by_reference_counting(
    app: FastAPI, alice: SignedIn, subprotocol: str
) -> None:
    """A socket that closes with its subscription running leaves nothing behind for the
    collector: the handler, its outbox and what they hold go as the connection ends (a
    cycle through one of them would keep a connection's memory until a full collection,
    and a server whose clients come and go would grow between collections)."""
    await create_room(alice, "general")
    gc.collect()
    gc.disable()
    try:
        socket = AsgiWebSocket(app, subprotocol)
        await socket.open()
        token = alice.client.token
        await socket.send({"type": "connection_init", "payload": {"authToken": token}})
        assert (await socket.receive())["type"] == "connection_ack"
        await socket.send({"id": "1", "type": START[subprotocol], "payload": {"query": EVENTS}})
        joined = await socket.receive()
        assert joined["type"] == RESULT[subprotocol], joined
        assert sum(isinstance(o, ConnectionLimits) for o in gc.get_objects()) == 1
        await socket.close()
        del socket
        await freed(
            ConnectionLimits | Outbox | Member | Feed,
            "the closed connection's handler, outbox, feed membership and feed",
        )
    finally:
        gc.enable()
