"""Presence: each user once per room, across subscriptions and processes; the dead leave."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from graphql_api.chat.presence import RedisPresence, create_presence, new_key
from graphql_api.chat.service import room_channel
from graphql_api.core.broker import MemoryBroker, RedisBroker, create_broker
from tests.support.redis import REDIS_URL, redis_reachable

ROOM, ALICE, BOB = 7, 1, 2
SENTINEL = {"type": "sentinel"}


def redis_broker(prefix: str) -> RedisBroker:
    return RedisBroker(REDIS_URL, prefix=prefix)


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[MemoryBroker | RedisBroker]:
    if request.param == "redis":
        await redis_reachable()
    instance = create_broker(
        "memory://" if request.param == "memory" else REDIS_URL,
        redis_prefix=f"test-{uuid.uuid4().hex}:",  # runs sharing the server do not mix
    )
    yield instance
    await instance.close()


async def events_until_sentinel(
    broker: MemoryBroker | RedisBroker, messages: AsyncIterator[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Everything published on the room so far (the sentinel marks the end)."""
    await broker.publish(room_channel(ROOM), SENTINEL)
    seen = []
    while (message := await asyncio.wait_for(anext(messages), timeout=5)) != SENTINEL:
        seen.append(message)
    return seen


def event(kind: str, user: int) -> dict[str, Any]:
    return {"type": kind, "user_id": user}


async def test_a_user_joins_once_and_leaves_with_the_last_subscription(
    broker: MemoryBroker | RedisBroker,
) -> None:
    presence = create_presence(broker, ttl=30)
    async with broker.subscribe(room_channel(ROOM)) as messages:
        first_tab, second_tab, bobs = new_key(), new_key(), new_key()
        await presence.join(ROOM, ALICE, first_tab)
        await presence.join(ROOM, ALICE, second_tab)
        await presence.join(ROOM, BOB, bobs)
        assert await presence.online(ROOM) == [ALICE, BOB]
        assert await events_until_sentinel(broker, messages) == [
            event("UserJoined", ALICE),
            event("UserJoined", BOB),
        ]
        await presence.leave(ROOM, ALICE, first_tab)
        await presence.leave(ROOM, ALICE, first_tab)  # twice, or never joined: no effect
        await presence.leave(ROOM, ALICE, new_key())
        assert await presence.online(ROOM) == [ALICE, BOB]
        assert await events_until_sentinel(broker, messages) == []
        await presence.leave(ROOM, ALICE, second_tab)
        assert await presence.online(ROOM) == [BOB]
        assert await events_until_sentinel(broker, messages) == [event("UserLeft", ALICE)]
        await presence.leave(ROOM, BOB, bobs)
        assert await presence.online(ROOM) == []
        assert await presence.online(ROOM + 1) == []
    await presence.close()


async def test_processes_share_presence_through_redis() -> None:
    await redis_reachable()
    prefix = f"test-{uuid.uuid4().hex}:"
    one, other = redis_broker(prefix), redis_broker(prefix)
    here, there = RedisPresence(one, ttl=30), RedisPresence(other, ttl=30)
    try:
        async with one.subscribe(room_channel(ROOM)) as messages:
            tab_here, tab_there = new_key(), new_key()
            await here.join(ROOM, ALICE, tab_here)
            await there.join(ROOM, ALICE, tab_there)
            assert await here.online(ROOM) == await there.online(ROOM) == [ALICE]
            await here.leave(ROOM, ALICE, tab_here)
            assert await there.online(ROOM) == [ALICE]
            await there.leave(ROOM, ALICE, tab_there)
            assert await here.online(ROOM) == []
            assert await events_until_sentinel(one, messages) == [
                event("UserJoined", ALICE),
                event("UserLeft", ALICE),
            ]
    finally:
        for presence, broker in ((here, one), (there, other)):
            await presence.close()
            await broker.close()


async def test_the_subscribers_of_a_dead_process_leave_after_the_ttl() -> None:
    await redis_reachable()
    prefix = f"test-{uuid.uuid4().hex}:"
    dying, living = redis_broker(prefix), redis_broker(prefix)
    doomed, survivor = RedisPresence(dying, ttl=1), RedisPresence(living, ttl=1)
    try:
        async with living.subscribe(room_channel(ROOM)) as messages:
            await doomed.join(ROOM, ALICE, new_key())
            await survivor.join(ROOM, BOB, new_key())
            assert await survivor.online(ROOM) == [ALICE, BOB]
            await doomed.close()  # its heartbeat stops, as a killed process's would
            async with asyncio.timeout(5):  # the ttl, then the survivor's next sweep
                while (message := await anext(messages))["type"] != "UserLeft":
                    pass
            assert message == event("UserLeft", ALICE)
            assert await survivor.online(ROOM) == [BOB]  # Bob's process is alive
    finally:
        await survivor.close()
        await dying.close()
        await living.close()
