"""The app's shared state: the one module that names every feature's runtime.

`core` knows only `CoreState` (settings, engine, broker, ...); `AppState` adds each
feature's runtime and registers it by class, so that a feature finds its own with
`context.state.runtime(LinkRuntime)` and `core` never imports a feature.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

from graphql_api.chat.presence import ChatRuntime, create_presence
from graphql_api.core.broker import create_broker
from graphql_api.core.db.engine import create_engine, create_sessionmaker
from graphql_api.core.graphql.context import CoreState
from graphql_api.core.graphql.documents.persisted import PersistedDocuments
from graphql_api.core.metrics import flush_redirects_every_second
from graphql_api.core.ratelimit import RateLimiter
from graphql_api.core.security.passwords import PasswordHasher
from graphql_api.core.security.tokens import TokenCodec
from graphql_api.core.settings import Settings
from graphql_api.links.cache import LinkCache
from graphql_api.links.recorder import VisitRecorder
from graphql_api.links.redirect import LinkRuntime
from graphql_api.links.service import LinkRules
from graphql_api.links.validation import host_key
from graphql_api.users.auth import authenticate


@dataclass(kw_only=True)
class AppState(CoreState):
    """CoreState and every feature's runtime."""

    links: LinkRuntime
    chat: ChatRuntime

    def __post_init__(self) -> None:
        self.runtimes = {LinkRuntime: self.links, ChatRuntime: self.chat}


def own_hosts(settings: Settings) -> frozenset[str]:
    """The host short links live on: targets there are refused (no redirect loops)."""
    return frozenset({host_key(urlsplit(settings.public_url).hostname or "")})


@asynccontextmanager
async def app_services(settings: Settings, reserved: frozenset[str]) -> AsyncIterator[AppState]:
    """The engine, broker and services an app shares across requests, for its lifetime."""
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    read_engine = create_engine(settings, read_only=True)
    broker = create_broker(settings.broker_url, redis_prefix=settings.redis_prefix)
    presence = create_presence(broker, ttl=settings.presence_ttl_seconds)
    rate_limits = RateLimiter.from_settings(settings)
    persisted = PersistedDocuments.from_settings(settings, rate_limits=rate_limits)
    links = LinkRuntime(
        cache=LinkCache(sessionmaker, ttl=settings.link_cache_seconds),
        recorder=VisitRecorder(
            sessionmaker,
            broker,
            interval=settings.visit_flush_seconds,
            capacity=settings.visit_buffer,
            wait=settings.visit_wait_seconds,
        ),
        rules=LinkRules(own_hosts=own_hosts(settings), reserved_codes=reserved),
        public_url=settings.public_url.rstrip("/"),
        broker=broker,
    )
    links.recorder.start()
    follower = asyncio.create_task(links.follow_changes(), name="link-changes")
    counter = asyncio.create_task(flush_redirects_every_second(), name="redirect-metrics")
    try:
        yield AppState(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            reader=create_sessionmaker(read_engine),
            hasher=PasswordHasher(settings),
            tokens=TokenCodec(settings),
            authenticate=authenticate,
            broker=broker,
            links=links,
            chat=ChatRuntime(presence),
            rate_limits=rate_limits,
            persisted=persisted,
        )
    finally:
        try:
            # Every accepted visit reaches the database before the engine goes.
            await links.recorder.stop()
        finally:
            await presence.close()
            await persisted.close()
            await rate_limits.close()
            await broker.close()  # ends every subscription, the follower's too
            await follower
            counter.cancel()
            with suppress(asyncio.CancelledError):
                await counter
            await engine.dispose()
            await read_engine.dispose()
            links.qr_codes.close()
