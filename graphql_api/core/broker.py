"""Publish/subscribe between the parts of the app (and, with Redis, between processes).

Messages are JSON-able dicts on named channels. Publishers never wait for subscribers:
each subscription has a bounded queue, and one that falls behind is cut off instead of
slowing the others.
"""

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import orjson
import redis
import redis.asyncio

Message = dict[str, Any]
DEFAULT_QUEUE_SIZE = 256
# How long Redis may take to confirm a SUBSCRIBE before the subscriber is refused.
SUBSCRIBE_TIMEOUT_SECONDS = 5
REDIS_CONNECTIONS = 50  # per process, the pub/sub reader's included
REDIS_WAIT_SECONDS = 5.0  # for one of them to come free


class SlowConsumer(Exception):
    """The subscriber fell too far behind and was dropped."""


class Broker(Protocol):
    async def publish(self, channel: str, message: Message) -> None: ...

    async def publish_many(self, messages: list[tuple[str, Message]]) -> None: ...

    def subscribe(
        self, *channels: str, queue_size: int = DEFAULT_QUEUE_SIZE
    ) -> AbstractAsyncContextManager[AsyncIterator[Message]]:
        """The messages of all `channels`, in the order they arrive, on one queue."""
        ...

    def listeners(self, channel: str) -> int:
        """How many subscriptions of this process listen to `channel`."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class _Subscription:
    def __init__(self, queue_size: int) -> None:
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(queue_size)
        self.overflowed = False

    def offer(self, message: Message | None) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True

    async def messages(self) -> AsyncIterator[Message]:
        while True:
            if self.overflowed and self.queue.empty():
                raise SlowConsumer
            message = await self.queue.get()
            if message is None:
                return
            yield message


class MemoryBroker:
    """One process: a dict of channels to subscriber queues."""

    def __init__(self) -> None:
        self._channels: dict[str, set[_Subscription]] = defaultdict(set)

    async def publish(self, channel: str, message: Message) -> None:
        for subscription in self._channels.get(channel, ()):
            subscription.offer(message)

    async def publish_many(self, messages: list[tuple[str, Message]]) -> None:
        for channel, message in messages:
            await self.publish(channel, message)

    @asynccontextmanager
    async def subscribe(
        self, *channels: str, queue_size: int = DEFAULT_QUEUE_SIZE
    ) -> AsyncIterator[AsyncIterator[Message]]:
        subscription = _Subscription(queue_size)
        for channel in channels:
            self._channels[channel].add(subscription)
        try:
            yield subscription.messages()
        finally:
            for channel in channels:
                subscribers = self._channels.get(channel)
                if subscribers is not None:
                    subscribers.discard(subscription)
                    if not subscribers:
                        del self._channels[channel]

    def listeners(self, channel: str) -> int:
        return len(self._channels.get(channel, ()))

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        for subscribers in self._channels.values():
            for subscription in subscribers:
                subscription.offer(None)


class RedisBroker:
    """Several processes: Redis pub/sub, one connection per process, fanned out locally.

    Messages travel as JSON. Each process subscribes to a channel in Redis while at
    least one of its own subscribers listens, and hands every message to their queues.
    Channel names in Redis start with `prefix`, so deployments can share a server.
    """

    def __init__(self, url: str, *, prefix: str = "") -> None:
        # Commands wait their turn for one of REDIS_CONNECTIONS: redis-py's default pool
        # refused the 101st at once, and 10,000 subscribers arriving together (their
        # presence, in chat) met that.
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_WAIT_SECONDS
        )
        self.redis = redis.asyncio.Redis.from_pool(pool)  # closes the pool with it
        self.prefix = prefix
        # Its confirmations are read: a subscribe returns once Redis has taken it.
        self._pubsub = self.redis.pubsub()
        self._channels: dict[str, set[_Subscription]] = defaultdict(set)
        self._confirmations: dict[str, asyncio.Event] = {}
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self._subscribing = asyncio.Lock()

    async def publish(self, channel: str, message: Message) -> None:
        await self.redis.publish(self.prefix + channel, orjson.dumps(message))

    async def publish_many(self, messages: list[tuple[str, Message]]) -> None:
        """One round trip for the lot (a pipeline), not one per message."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for channel, message in messages:
                pipe.publish(self.prefix + channel, orjson.dumps(message))
            await pipe.execute()

    @asynccontextmanager
    async def subscribe(
        self, *channels: str, queue_size: int = DEFAULT_QUEUE_SIZE
    ) -> AsyncIterator[AsyncIterator[Message]]:
        subscription = _Subscription(queue_size)
        try:
            async with self._subscribing:  # close() waits for a SUBSCRIBE on its way
                if self._closed:
                    subscription.offer(None)  # ends at once
                else:
                    new = [c for c in channels if not self._channels[c]]
                    for channel in channels:
                        self._channels[channel].add(subscription)
                    if new:
                        await self._subscribed(new)
            if not self._closed and (self._reader is None or self._reader.done()):
                self._start_reader()  # it stopped: Redis went away meanwhile
            yield subscription.messages()
        finally:
            await self._leave(channels, subscription)

    async def _subscribed(self, channels: list[str]) -> None:
        """SUBSCRIBE, and wait until Redis confirms it.

        Until then a message published from another connection may not reach this one,
        and a caller that subscribes before it reads the database (chat history) could
        miss a message committed in between.
        """
        confirmed = [self._confirmations.setdefault(c, asyncio.Event()) for c in channels]
        try:
            await self._pubsub.subscribe(*(self.prefix + c for c in channels))
            if self._reader is None or self._reader.done():
                self._start_reader()  # the confirmations come through it
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_SECONDS):
                await asyncio.gather(*(event.wait() for event in confirmed))
        finally:
            for channel in channels:
                self._confirmations.pop(channel, None)

    async def _leave(self, channels: tuple[str, ...], subscription: _Subscription) -> None:
        for channel in channels:  # at once: it hears nothing more, whatever happens next
            self._channels.get(channel, set()).discard(subscription)
        # Under the lock that subscribe() holds from choosing what to SUBSCRIBE to until
        # its subscription is in the table. Without it, one that needed no SUBSCRIBE for
        # a channel (it had listeners) joined it just after this UNSUBSCRIBE and heard
        # nothing from it again: chat subscribers on one worker went silent so.
        async with self._subscribing:
            empty = [c for c in channels if c in self._channels and not self._channels[c]]
            for channel in empty:
                del self._channels[channel]
            if empty and not self._closed:  # a closed pubsub would only reconnect
                with contextlib.suppress(redis.RedisError):
                    await self._pubsub.unsubscribe(*(self.prefix + c for c in empty))

    def _start_reader(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="redis-broker")

    async def _read(self) -> None:
        while self._channels:
            message = await self._pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            channel = message["channel"].decode().removeprefix(self.prefix)
            if message["type"] == "subscribe":
                if (confirmed := self._confirmations.get(channel)) is not None:
                    confirmed.set()
                continue
            if message["type"] != "message":
                continue
            payload = orjson.loads(message["data"])
            for subscription in self._channels.get(channel, ()):
                subscription.offer(payload)

    def listeners(self, channel: str) -> int:
        return len(self._channels.get(channel, ()))

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def close(self) -> None:
        self._closed = True
        async with self._subscribing:
            pass  # no SUBSCRIBE is on its way any more
        for subscribers in self._channels.values():
            for subscription in subscribers:
                subscription.offer(None)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, redis.RedisError):
                await self._reader
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis
        await self.redis.aclose()


def create_broker(url: str, *, redis_prefix: str = "") -> MemoryBroker | RedisBroker:
    if url.startswith("memory://"):
        return MemoryBroker()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBroker(url, prefix=redis_prefix)
    raise ValueError(f"unsupported BROKER_URL {url!r}: use memory:// or redis://host:port/db")
