"""Who is in a chat room: one entry per chatEvents subscription, each user counted once.

A user's first subscription to a room publishes UserJoined and their last one ending
(unsubscribed, or the connection dropped) publishes UserLeft, however many tabs and
processes they use. With Redis the entries live there, each with an expiry that its
process renews: the entries of a process that died expire, and whichever process
sweeps them next publishes the UserLeft events.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter, defaultdict
from typing import Protocol

import redis
import redis.asyncio

from graphql_api.chat.service import room_channel
from graphql_api.core.broker import Broker, MemoryBroker, RedisBroker

logger = logging.getLogger(__name__)


class Presence(Protocol):
    async def join(self, room_id: int, user_id: int) -> str:
        """Add a subscription; publishes UserJoined if it is the user's first. Its key."""
        ...

    async def leave(self, room_id: int, user_id: int, key: str) -> None:
        """Remove a subscription; publishes UserLeft if it was the user's last."""
        ...

    async def online(self, room_id: int) -> list[int]:
        """The IDs of the users in the room, ascending."""
        ...

    async def close(self) -> None: ...


async def _announce(broker: Broker, kind: str, room_id: int, user_id: int) -> None:
    await broker.publish(room_channel(room_id), {"type": kind, "user_id": user_id})


class MemoryPresence:
    """One process: a count of subscriptions per user and room."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._rooms: dict[int, Counter[int]] = defaultdict(Counter)

    async def join(self, room_id: int, user_id: int) -> str:
        users = self._rooms[room_id]
        users[user_id] += 1
        if users[user_id] == 1:
            await _announce(self._broker, "UserJoined", room_id, user_id)
        return ""

    async def leave(self, room_id: int, user_id: int, key: str) -> None:
        users = self._rooms[room_id]
        users[user_id] -= 1
        if users[user_id] <= 0:
            del users[user_id]
            if not users:
                del self._rooms[room_id]
            await _announce(self._broker, "UserLeft", room_id, user_id)

    async def online(self, room_id: int) -> list[int]:
        return sorted(self._rooms.get(room_id, ()))

    async def close(self) -> None:
        pass


# KEYS: the room's entries (sorted set: "user:subscription" scored by expiry in ms), its
# count per user (hash), the set of rooms with entries. ARGV: entry, user, expiry, room,
# and "renew" to only renew an existing entry. Adds or renews an entry; returns the
# user's count if the entry was new, 0 if it was renewed, -1 if there was none to renew.
_TOUCH = """
if ARGV[5] == 'renew' and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
if redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[3], ARGV[4])
return redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
"""
# KEYS as above. ARGV: entry, user. Returns 1 if it was the user's last entry.
_REMOVE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[2], -1) > 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
"""
# KEYS as above. ARGV: now in ms, room. Removes expired entries; returns the users who
# have none left.
_SWEEP = """
local left = {}
for _, entry in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  redis.call('ZREM', KEYS[1], entry)
  local user = string.match(entry, '^(%d+):')
  if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
    redis.call('HDEL', KEYS[2], user)
    table.insert(left, user)
  end
end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return left
"""


class RedisPresence:
    """Several processes: entries in Redis, renewed every ttl/3 while they live."""

    def __init__(self, broker: RedisBroker, *, ttl: float) -> None:
        self._broker = broker
        self._redis = broker.redis
        self._prefix = broker.prefix
        self._ttl_ms = int(ttl * 1000)
        self._touch = self._redis.register_script(_TOUCH)
        self._remove = self._redis.register_script(_REMOVE)
        self._sweep = self._redis.register_script(_SWEEP)
        self._mine: dict[str, tuple[int, int]] = {}  # entry -> (room, user)
        self._keeper: asyncio.Task[None] | None = None

    def _keys(self, room_id: int) -> list[str]:
        base = f"{self._prefix}presence:{room_id}"
        return [f"{base}:entries", f"{base}:users", f"{self._prefix}presence:rooms"]

    async def _add(self, entry: str, room_id: int, user_id: int, mode: str = "add") -> int:
        expiry = int(time.time() * 1000) + self._ttl_ms
        count = await self._touch(self._keys(room_id), [entry, user_id, expiry, room_id, mode])
        if count == 1:
            await _announce(self._broker, "UserJoined", room_id, user_id)
        return int(count)

    async def join(self, room_id: int, user_id: int) -> str:
        entry = f"{user_id}:{uuid.uuid4().hex}"
        self._mine[entry] = (room_id, user_id)
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep(), name="chat-presence")
        await self._add(entry, room_id, user_id)
        return entry

    async def leave(self, room_id: int, user_id: int, key: str) -> None:
        self._mine.pop(key, None)
        try:
            if await self._remove(self._keys(room_id), [key, user_id]) == 1:
                await _announce(self._broker, "UserLeft", room_id, user_id)
        except redis.RedisError:  # the entry expires, and a sweep announces the leave
            logger.warning("chat presence: could not remove %s from room %s", key, room_id)

    async def online(self, room_id: int) -> list[int]:
        now = int(time.time() * 1000)
        entries = await self._redis.zrangebyscore(self._keys(room_id)[0], now, "+inf")
        return sorted({int(entry.split(b":")[0]) for entry in entries})

    async def _keep(self) -> None:
        """Renew this process's entries and sweep expired ones, every ttl/3."""
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                for entry, (room_id, user_id) in list(self._mine.items()):
                    renewed = await self._add(entry, room_id, user_id, "renew")
                    if renewed == -1 and entry in self._mine:  # swept during a long pause
                        await self._add(entry, room_id, user_id)
                now = int(time.time() * 1000)
                for room in await self._redis.smembers(f"{self._prefix}presence:rooms"):
                    room_id = int(room)
                    for user in await self._sweep(self._keys(room_id), [now, room_id]):
                        await _announce(self._broker, "UserLeft", room_id, int(user))
            except redis.RedisError:
                logger.exception("chat presence: renewing or sweeping failed; retrying")

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper


def create_presence(broker: MemoryBroker | RedisBroker, *, ttl: float) -> Presence:
    if isinstance(broker, RedisBroker):
        return RedisPresence(broker, ttl=ttl)
    return MemoryPresence(broker)
