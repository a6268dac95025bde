"""Both brokers: delivery, fan-out, unsubscribe, slow consumers; Redis across processes."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest

from graphql_api.core.broker import (
    REDIS_CONNECTIONS,
    MemoryBroker,
    RedisBroker,
    SlowConsumer,
    create_broker,
)
from tests.support.redis import REDIS_URL, Relay, redis_reachable


@pytest.fixture(params=["memory", "redis"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[MemoryBroker | RedisBroker]:
    if request.param == "redis":
        await redis_reachable()
    instance = create_broker("memory://" if request.param == "memory" else REDIS_URL)
    yield instance
    await instance.close()


async def next_message(messages: AsyncIterator[dict]) -> dict:  # type: ignore[type-arg]
    return await asyncio.wait_for(anext(messages), timeout=2)


async def test_every_subscriber_gets_each_message_in_order(broker) -> None:  # type: ignore[no-untyped-def]
    async with broker.subscribe("room") as first, broker.subscribe("room") as second:
        for n in range(3):
            await broker.publish("room", {"n": n, "text": "héllo"})
        assert [await next_message(first) for _ in range(3)] == [
            {"n": n, "text": "héllo"} for n in range(3)
        ]
        assert [(await next_message(second))["n"] for _ in range(3)] == [0, 1, 2]
    assert await broker.ping()


async def test_publish_many_delivers_each_in_order(broker) -> None:  # type: ignore[no-untyped-def]
    async with broker.subscribe("a") as a, broker.subscribe("b") as b:
        await broker.publish_many([("a", {"n": 1}), ("b", {"n": 2}), ("a", {"n": 3})])
        assert [await next_message(a), await next_message(a)] == [{"n": 1}, {"n": 3}]
        assert await next_message(b) == {"n": 2}


async def test_other_channels_and_past_subscribers_get_nothing(broker) -> None:  # type: ignore[no-untyped-def]
    async with broker.subscribe("a") as a:
        async with broker.subscribe("b") as b:
            pass  # subscribed, and gone
        await broker.publish("b", {"x": 1})
        await broker.publish("a", {"x": 2})
        assert await next_message(a) == {"x": 2}
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(b), timeout=0.3)


async def test_a_slow_consumer_is_cut_off(broker) -> None:  # type: ignore[no-untyped-def]
    async with (
        broker.subscribe("fast", queue_size=2) as messages,
        broker.subscribe("marker") as marker,
    ):
        for n in range(5):
            await broker.publish("fast", {"n": n})
        # Published after the five: once it is heard, the five have reached the queue.
        await broker.publish("marker", {})
        assert await next_message(marker) == {}
        received = []
        with pytest.raises(SlowConsumer):
            async for message in messages:
                received.append(message["n"])
        assert received == [0, 1]


async def test_redis_carries_messages_between_processes() -> None:
    await redis_reachable()
    # Two brokers with their own connections stand for two worker processes.
    one, other = RedisBroker(REDIS_URL), RedisBroker(REDIS_URL)
    try:
        async with other.subscribe("links:changed") as changes:
            await one.publish("links:changed", {"code": "abc"})
            assert await next_message(changes) == {"code": "abc"}
    finally:
        await one.close()
        await other.close()


async def test_deployments_with_other_prefixes_do_not_hear_each_other() -> None:
    await redis_reachable()
    ours, theirs = RedisBroker(REDIS_URL, prefix="ours:"), RedisBroker(REDIS_URL, prefix="theirs:")
    try:
        async with ours.subscribe("chat:1") as messages:
            await theirs.publish("chat:1", {"from": "them"})
            await ours.publish("chat:1", {"from": "us"})
            assert await next_message(messages) == {"from": "us"}
    finally:
        await ours.close()
        await theirs.close()


async def test_closing_while_a_subscribe_is_on_its_way_ends_that_subscription() -> None:
    await redis_reachable()
    broker = RedisBroker(REDIS_URL)

    async def listen() -> list[dict]:  # type: ignore[type-arg]
        async with broker.subscribe("links:changed") as messages:
            return [message async for message in messages]

    real_subscribe, sent = broker._pubsub.subscribe, asyncio.Event()

    async def subscribe_and_tell(*channels: str) -> None:
        await real_subscribe(*channels)
        sent.set()  # the listener now waits for Redis to confirm it

    broker._pubsub.subscribe = subscribe_and_tell  # type: ignore[method-assign]
    listener = asyncio.create_task(listen())
    await asyncio.wait_for(sent.wait(), 5)  # the SUBSCRIBE is on its way, not yet answered
    await broker.close()
    # A shutdown waits for such listeners: they must end, not wait for ever.
    assert await asyncio.wait_for(listener, timeout=5) == []


async def test_a_subscriber_arriving_as_the_last_one_leaves_still_hears_the_channel() -> None:
    """A SUBSCRIBE for another channel is on its way when the room's last local listener
    leaves: the newcomer, who needed no SUBSCRIBE for the room, must not be left deaf
    by that listener's UNSUBSCRIBE (two workers' chat subscribers went silent so)."""
    await redis_reachable()
    prefix = f"test-{uuid.uuid4().hex}:"
    one, other = RedisBroker(REDIS_URL, prefix=prefix), RedisBroker(REDIS_URL, prefix=prefix)
    real_subscribe = one._pubsub.subscribe
    on_its_way, go_on = asyncio.Event(), asyncio.Event()

    async def slow_subscribe(*channels: str) -> None:
        on_its_way.set()
        await go_on.wait()  # a slow round trip, made to last
        await real_subscribe(*channels)

    try:
        async with contextlib.AsyncExitStack() as stack:
            leaving = one.subscribe("chat:1")
            await leaving.__aenter__()
            one._pubsub.subscribe = slow_subscribe  # type: ignore[method-assign]
            arriving = asyncio.create_task(
                stack.enter_async_context(one.subscribe("chat:1", "mine"))
            )
            await asyncio.wait_for(on_its_way.wait(), 2)
            left = asyncio.create_task(leaving.__aexit__(None, None, None))
            await asyncio.wait({left}, timeout=0.2)  # it may wait for the SUBSCRIBE
            go_on.set()
            messages = await asyncio.wait_for(arriving, 2)
            await asyncio.wait_for(left, 2)

            async def keep_publishing() -> None:  # until its SUBSCRIBE has reached Redis
                while True:
                    await other.publish("chat:1", {"n": 1})
                    # Between tries: what the test waits on is the message, below (Redis
                    # may be between an UNSUBSCRIBE and a new SUBSCRIBE of the channel).
                    await asyncio.sleep(0.05)

            publisher = asyncio.create_task(keep_publishing())
            try:
                assert await asyncio.wait_for(anext(messages), 3) == {"n": 1}
            finally:
                publisher.cancel()
    finally:
        await one.close()
        await other.close()


async def test_a_subscription_hears_what_is_published_as_soon_as_subscribe_returns() -> None:
    """Chat subscribes, then reads the history: a message published in between must arrive.

    The broker's line to Redis is slow here (a relay holds what it sends for 0.2 s), the
    publisher's is not: only a SUBSCRIBE that Redis has confirmed hears the publish.
    """
    await redis_reachable()
    relay = Relay(REDIS_URL, delay=0.2)
    listener = RedisBroker(await relay.start(), prefix=f"t{uuid.uuid4().hex}:")
    publisher = RedisBroker(REDIS_URL, prefix=listener.prefix)
    try:
        async with listener.subscribe("room") as messages:
            await publisher.publish("room", {"n": 1})
            assert await next_message(messages) == {"n": 1}
    finally:
        await listener.close()
        await publisher.close()
        await relay.close()


async def test_a_burst_of_commands_waits_for_connections_instead_of_failing() -> None:
    """Ten thousand subscribers arriving together each run a Redis command (presence):
    far more at once than the pool holds. Each waits its turn; none is refused."""
    await redis_reachable()
    broker = RedisBroker(REDIS_URL, prefix=f"test-{uuid.uuid4().hex}:")
    try:
        burst = 4 * REDIS_CONNECTIONS
        answers = await asyncio.gather(*(broker.ping() for _ in range(burst)))
        assert answers == [True] * burst
    finally:
        await broker.close()
