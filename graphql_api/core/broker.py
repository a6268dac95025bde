"""Publish/subscribe between the parts of the app (and, with Redis, between processes).

Messages are JSON-able dicts on named channels. Publishers never wait for subscribers:
each subscription has a bounded queue, and one that falls behind is cut off instead of
slowing the others.
"""

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

Message = dict[str, Any]
DEFAULT_QUEUE_SIZE = 256


class SlowConsumer(Exception):
    """The subscriber fell too far behind and was dropped."""


class Broker(Protocol):
    async def publish(self, channel: str, message: Message) -> None: ...

    def subscribe(
        self, channel: str, *, queue_size: int = DEFAULT_QUEUE_SIZE
    ) -> AbstractAsyncContextManager[AsyncIterator[Message]]: ...

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

    @asynccontextmanager
    async def subscribe(
        self, channel: str, *, queue_size: int = DEFAULT_QUEUE_SIZE
    ) -> AsyncIterator[AsyncIterator[Message]]:
        subscription = _Subscription(queue_size)
        self._channels[channel].add(subscription)
        try:
            yield subscription.messages()
        finally:
            subscribers = self._channels.get(channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._channels[channel]

    async def close(self) -> None:
        for subscribers in self._channels.values():
            for subscription in subscribers:
                subscription.offer(None)


def create_broker(url: str) -> MemoryBroker:
    if url.startswith("memory://"):
        return MemoryBroker()
    raise ValueError(f"unsupported BROKER_URL {url!r}: use memory://")
