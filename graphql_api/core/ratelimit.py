"""Rate limits: how often one account, client address or user may do a costly thing.

Counted with the `limits` library's moving window: at most N in any window of the
period, exactly, with no double burst at a window's edge as fixed windows allow. The
counts live in this process's memory, or in Redis when one is configured, so that they
hold across every worker process. Keys there start with the deployment's Redis prefix.

If Redis cannot be reached, requests are let through (and logged): a rate limit guards
against abuse, and refusing every sign-in while Redis is down would turn a cache outage
into an outage of the whole service.
"""

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Mapping
from enum import StrEnum

import redis
import redis.asyncio
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from graphql_api.core.settings import Settings

logger = logging.getLogger("graphql_api.ratelimit")

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
# A check that waits longer on Redis lets the request through: it must never hang one.
REDIS_TIMEOUT_SECONDS = 1.0


class Limit(StrEnum):
    """What is counted; the value names it in storage keys."""

    LOGIN_PER_ACCOUNT = "login-account"
    LOGIN_PER_ADDRESS = "login-address"
    REGISTER_PER_ADDRESS = "register-address"
    SHORTEN_PER_USER = "shorten-user"
    NOT_FOUND_PER_ADDRESS = "not-found-address"
    PERSISTED_QUERIES_PER_ADDRESS = "persisted-address"


def windows_from_settings(settings: Settings) -> dict[Limit, list[RateLimitItem]]:
    return {
        Limit.LOGIN_PER_ACCOUNT: parse_many(settings.rate_limit_login_per_account),
        Limit.LOGIN_PER_ADDRESS: parse_many(settings.rate_limit_login_per_address),
        Limit.REGISTER_PER_ADDRESS: parse_many(settings.rate_limit_register_per_address),
        Limit.SHORTEN_PER_USER: parse_many(settings.rate_limit_shorten_per_user),
        Limit.NOT_FOUND_PER_ADDRESS: parse_many(settings.rate_limit_not_found_per_address),
        Limit.PERSISTED_QUERIES_PER_ADDRESS: parse_many(
            settings.rate_limit_persisted_queries_per_address
        ),
    }


def storage_url(settings: Settings) -> str:
    """Where counts are kept: the dedicated URL, else the broker's Redis, else memory."""
    url = settings.rate_limit_url or settings.broker_url
    return url if url.startswith(REDIS_SCHEMES) else "memory://"


def address_key(host: str | None) -> str:
    """Whom a client address stands for: itself, or for IPv6 its /64.

    One IPv6 subscriber usually holds a whole /64, so counting single addresses would
    give them billions of fresh allowances.
    """
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:  # not an IP (a test client's name, a unix socket): as it is
        return host[:256]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def opaque_key(value: str) -> str:
    """A fixed-length key for free text (a login name): no emails in Redis, no huge keys."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RateLimiter:
    """The app's rate limits over one storage (memory or Redis)."""

    def __init__(
        self,
        storage: Storage,
        windows: Mapping[Limit, list[RateLimitItem]],
        *,
        pool: redis.asyncio.ConnectionPool | None = None,
    ) -> None:
        self.storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._windows = dict(windows)
        self._pool = pool

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimiter":
        windows = windows_from_settings(settings)
        url = storage_url(settings)
        if url == "memory://":
            return cls(MemoryStorage(), windows)
        return cls.on_redis(url, windows, prefix=settings.redis_prefix)

    @classmethod
    def on_redis(
        cls, url: str, windows: Mapping[Limit, list[RateLimitItem]], *, prefix: str
    ) -> "RateLimiter":
        # Our own pool on redis-py (already the broker's client; no coredis needed), so
        # that it has timeouts and is closed with the app.
        # Blocking: a burst waits for one of its connections instead of being refused past
        # redis-py's default 100.
        pool = redis.asyncio.BlockingConnectionPool.from_url(
            url,
            max_connections=50,
            timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=f"{prefix}ratelimit",
            # limits annotates the storage's options as scalars; redis takes them as they are.
            connection_pool=pool,  # type: ignore[arg-type]
        )
        return cls(storage, windows, pool=pool)

    def capacity(self, limit: Limit) -> int:
        """The most one request may cost: what its smallest window allows."""
        return min(window.amount for window in self._windows[limit])

    async def hit(self, limit: Limit, key: str, *, cost: int = 1) -> int | None:
        """Count `cost` against `key`: None when it fits, else the seconds until it may."""
        windows = self._windows[limit]
        try:
            refused = await self._hit_all(windows, limit, key, cost)
            if not refused:
                return None
            return max([await self._retry_after(window, limit, key) for window in refused])
        except (redis.RedisError, OSError) as exc:
            logger.warning("rate limit %s not checked, request allowed: %r", limit, exc)
            return None

    async def _hit_all(
        self, windows: list[RateLimitItem], limit: Limit, key: str, cost: int
    ) -> list[RateLimitItem]:
        if len(windows) > 1:
            # Tested first, so that a request one window refuses uses up none of the others.
            strategy = self._strategy
            refused = [w for w in windows if not await strategy.test(w, limit, key, cost=cost)]
            if refused:
                return refused
        for window in windows:
            # Each hit is atomic: a concurrent request may have taken the last place since
            # the test, and then this one is refused (the windows before keep its count).
            if not await self._strategy.hit(window, limit, key, cost=cost):
                return [window]
        return []

    async def _retry_after(self, window: RateLimitItem, limit: Limit, key: str) -> int:
        """Seconds until the oldest count in the window expires and frees a place."""
        stats = await self._strategy.get_window_stats(window, limit, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def reset(self, limit: Limit, key: str) -> None:
        """Forget what was counted against `key`."""
        try:
            for window in self._windows[limit]:
                await self._strategy.clear(window, limit, key)
        except (redis.RedisError, OSError) as exc:
            logger.warning("rate limit %s not reset: %r", limit, exc)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
        # MemoryStorage prunes expired counts in a task of its own: not left pending.
        timer = getattr(self.storage, "timer", None)
        if isinstance(timer, asyncio.Task) and not timer.done():
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
