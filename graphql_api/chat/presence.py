"""Who is in a chat room: one entry per chatEvents subscription, each user counted once.

A user's first subscription to a room publishes UserJoined and their last one ending
(unsubscribed, or the connection dropped) publishes UserLeft, however many tabs and
processes they use. With Redis the entries live there, named after the process that
holds them; each process keeps a heartbeat key alive. When a process dies its heartbeat
expires, and whichever process sweeps next removes its entries and publishes the
UserLeft events. Only Redis's clock decides what expired.
"""

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

import redis
import redis.asyncio

from graphql_api.chat.service import room_channel
from graphql_api.core.broker import Broker, MemoryBroker, RedisBroker

logger = logging.getLogger(__name__)


class Presence(Protocol):
    async def join(self, room_id: int, user_id: int, key: str) -> None:
        """Add subscription `key`; publishes UserJoined if it is the user's first."""
        ...

    async def leave(self, room_id: int, user_id: int, key: str) -> None:
        """Remove subscription `key` (if it is there); publishes UserLeft if it was the
        user's last."""
        ...

    async def online(self, room_id: int) -> list[int]:
        """The IDs of the users in the room, ascending."""
        ...

    async def close(self) -> None: ...


def new_key() -> str:
    """A key for one subscription's presence."""
    return uuid.uuid4().hex


async def _announce(broker: Broker, kind: str, room_id: int, user_id: int) -> None:
    await broker.publish(room_channel(room_id), {"type": kind, "user_id": user_id})


class MemoryPresence:
    """One process: the subscriptions of each user in each room."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._rooms: dict[int, dict[int, set[str]]] = defaultdict(dict)

    async def join(self, room_id: int, user_id: int, key: str) -> None:
        keys = self._rooms[room_id].setdefault(user_id, set())
        keys.add(key)
        if len(keys) == 1:
            await _announce(self._broker, "UserJoined", room_id, user_id)

    async def leave(self, room_id: int, user_id: int, key: str) -> None:
        users = self._rooms.get(room_id, {})
        keys = users.get(user_id, set())
        if key not in keys:
            return
        keys.discard(key)
        if not keys:
            del users[user_id]
            if not users:
                del self._rooms[room_id]
            await _announce(self._broker, "UserLeft", room_id, user_id)

    async def online(self, room_id: int) -> list[int]:
        return sorted(self._rooms.get(room_id, ()))

    async def close(self) -> None:
        pass


# KEYS: a room's entries (set of "user:process:key"), its count of entries per user
# (hash), the set of rooms with entries. ARGV: entry, user, room.
# Returns the user's count if the entry is new, else 0.
_JOIN = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[3], ARGV[3])
return redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
"""
# KEYS as above. ARGV: entry, user. Returns 1 if it was the user's last entry.
_LEAVE = """
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], ARGV[2], -1) > 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
"""
# KEYS as above. ARGV: room, then the IDs of dead processes. Removes their entries;
# returns the users who have none left.
_SWEEP = """
local dead = {}
for i = 2, #ARGV do dead[ARGV[i]] = true end
local left = {}
for _, entry in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local user, process = string.match(entry, '^(%d+):(%x+):')
  if dead[process] then
    redis.call('SREM', KEYS[1], entry)
    if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
      redis.call('HDEL', KEYS[2], user)
      table.insert(left, user)
    end
  end
end
if redis.call('SCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[3], ARGV[1]) end
return left
"""


class RedisPresence:
    """Several processes: entries in Redis, swept when their process's heartbeat stops."""

    def __init__(self, broker: RedisBroker, *, ttl: float) -> None:
        self._broker = broker
        self._redis = broker.redis
        self._prefix = f"{broker.prefix}presence:"
        self._ttl_ms = int(ttl * 1000)
        self._process = uuid.uuid4().hex
        self._join = self._redis.register_script(_JOIN)
        self._leave = self._redis.register_script(_LEAVE)
        self._sweep = self._redis.register_script(_SWEEP)
        self._mine: dict[str, tuple[int, int]] = {}  # entry -> (room, user)
        self._keeper: asyncio.Task[None] | None = None

    def _keys(self, room_id: int) -> list[str]:
        room = f"{self._prefix}{room_id}"
        return [f"{room}:entries", f"{room}:users", f"{self._prefix}rooms"]

    def _entry(self, user_id: int, key: str) -> str:
        return f"{user_id}:{self._process}:{key}"

    async def _add(self, entry: str, room_id: int, user_id: int) -> None:
        if await self._join(self._keys(room_id), [entry, user_id, room_id]) == 1:
            await _announce(self._broker, "UserJoined", room_id, user_id)

    async def join(self, room_id: int, user_id: int, key: str) -> None:
        if self._keeper is None or self._keeper.done():
            await self._beat()  # alive before any entry of ours can be seen
            self._keeper = asyncio.create_task(self._keep(), name="chat-presence")
        entry = self._entry(user_id, key)
        self._mine[entry] = (room_id, user_id)
        await self._add(entry, room_id, user_id)

    async def leave(self, room_id: int, user_id: int, key: str) -> None:
        entry = self._entry(user_id, key)
        self._mine.pop(entry, None)
        try:
            if await self._leave(self._keys(room_id), [entry, user_id]) == 1:
                await _announce(self._broker, "UserLeft", room_id, user_id)
        except redis.RedisError:  # the process's entries are swept once it stops
            logger.warning("chat presence: could not remove %s from room %s", entry, room_id)

    async def online(self, room_id: int) -> list[int]:
        return sorted(int(user) for user in await self._redis.hkeys(self._keys(room_id)[1]))

    async def _beat(self) -> bool:
        """Renew this process's heartbeat; False if it had expired (we may have been swept)."""
        previous = await self._redis.set(
            f"{self._prefix}process:{self._process}", 1, px=self._ttl_ms, get=True
        )
        await self._redis.sadd(f"{self._prefix}processes", self._process)
        return previous is not None

    async def _keep(self) -> None:
        """Every ttl/3: renew the heartbeat, then sweep the entries of dead processes."""
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                if not await self._beat():  # paused past the ttl: put our entries back
                    for entry, (room_id, user_id) in list(self._mine.items()):
                        await self._add(entry, room_id, user_id)
                await self._sweep_dead()
            except Exception:
                logger.exception("chat presence: heartbeat or sweep failed; retrying")

    async def _sweep_dead(self) -> None:
        members = await self._redis.smembers(f"{self._prefix}processes")
        processes = [p.decode() for p in members]  # type: ignore[union-attr]  # bytes: no decode_responses
        async with self._redis.pipeline(transaction=False) as pipe:
            for process in processes:
                pipe.exists(f"{self._prefix}process:{process}")
            alive = await pipe.execute()
        dead = [process for process, up in zip(processes, alive, strict=True) if not up]
        if not dead:
            return
        for room in await self._redis.smembers(f"{self._prefix}rooms"):
            room_id = int(room)
            for user in await self._sweep(self._keys(room_id), [room_id, *dead]):
                await _announce(self._broker, "UserLeft", room_id, int(user))
        await self._redis.srem(f"{self._prefix}processes", *dead)

    async def close(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper


@dataclass(frozen=True, slots=True)
class ChatRuntime:
    """What chat keeps for the app's life (`graphql_api.state`)."""

    presence: Presence


def create_presence(broker: MemoryBroker | RedisBroker, *, ttl: float) -> Presence:
    if isinstance(broker, RedisBroker):
        return RedisPresence(broker, ttl=ttl)
    return MemoryPresence(broker)
