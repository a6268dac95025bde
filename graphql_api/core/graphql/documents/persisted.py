"""Persisted documents: a client names a document by a hash instead of sending it.

Two features behind one call. The one reading of a request that both ways share
(`core.http.request.with_document`, for Strawberry's view and the fast path) gives
`PersistedDocuments.document` the `query` and `extensions` a client sent, and runs the
text it returns or answers the error it raises, a GraphQL request error with its code.

- Automatic persisted queries, Apollo's protocol: `extensions.persistedQuery` is
  `{"version": 1, "sha256Hash": ...}`. A hash the server does not know is the error
  "PersistedQueryNotFound" (code PERSISTED_QUERY_NOT_FOUND: Apollo's link looks for
  either, in a body of any status, and then sends the document with its hash). A
  document sent with its hash is checked against it and registered; from then on the
  hash alone runs it, over POST or GET (a short URL, which a CDN can cache).
- Trusted documents, a manifest (`core.graphql.documents.manifest`): its documents run by id from
  the
  start. With `trusted_documents_only` nothing else runs, registration included, over
  WebSocket too (`core.graphql.documents.trusted`); only introspection is let through while
  introspection is on (development), so that GraphiQL can still show the schema.

A registered document is named by its own hash (checked), so keeping one is never wrong,
only costly. The costs are bounded: a process keeps the most recently used ones (each
at most 8 KiB, as the document cache); Redis, when configured, keeps each for a TTL;
only documents that parse and validate are kept; and one client address registers at
most so many (a rate limit; past it, its documents run and are not kept). A document
known in this process costs no Redis round trip. If Redis fails, the process goes on
alone for a few seconds and then tries again: a hash only Redis knew is then
PersistedQueryNotFound, and the client sends its document.
"""

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import redis
import redis.asyncio
from graphql import (
    GraphQLError,
    parse,
    validate,
)

from graphql_api.core.graphql.documents.cache import MAX_CACHED_QUERY_LENGTH, DocumentCache
from graphql_api.core.graphql.errors import PublicError
from graphql_api.core.graphql.internals import HasGraphQLCoreSchema, graphql_core_schema
from graphql_api.core.graphql.limits import QueryLimits, document_errors
from graphql_api.core.manifest import TrustedDocuments, sha256_hex
from graphql_api.core.ratelimit import REDIS_SCHEMES, Limit, RateLimiter, address_key
from graphql_api.core.settings import Settings

logger = logging.getLogger("graphql_api.persisted")

VERSION = 1
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Ids of manifests are hashes (32 to 64 characters, some with an "sha256:" prefix).
MAX_ID_LENGTH = 128
# A lookup that waits longer on Redis is a miss; after a failure Redis rests this long.
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_PAUSE_SECONDS = 5.0


class PersistedQueryError(PublicError):
    """A request for a persisted document that cannot run; nothing ran."""

    code = "PERSISTED_QUERY_INVALID"
    default_message = (
        'extensions.persistedQuery must be {"version": 1, "sha256Hash": "<the document\'s '
        'id: its SHA-256 in lowercase hex>"}.'
    )


class PersistedQueryNotFound(PersistedQueryError):
    code = "PERSISTED_QUERY_NOT_FOUND"
    default_message = "PersistedQueryNotFound"  # Apollo's clients match this very text


class PersistedQueryNotSupported(PersistedQueryError):
    code = "PERSISTED_QUERY_NOT_SUPPORTED"
    default_message = "PersistedQueryNotSupported"  # Apollo's link then stops sending hashes


class PersistedQueryNotInList(PersistedQueryError):
    code = "PERSISTED_QUERY_NOT_IN_LIST"
    default_message = "This server runs only its trusted documents, and this is not one of them."


class PersistedQueryHashMismatch(PersistedQueryError):
    code = "PERSISTED_QUERY_HASH_MISMATCH"
    default_message = (
        "extensions.persistedQuery.sha256Hash is not the id of the query sent with it "
        "(its SHA-256 in lowercase hex): nothing was registered."
    )


class CheckedSchema(HasGraphQLCoreSchema, Protocol):
    """What registration needs of the app's schema (`graphql_api.schema.Schema`)."""

    documents: DocumentCache
    limits: QueryLimits


class PersistedDocuments:
    """The documents clients may name by hash: a manifest's and the registered ones."""

    def __init__(
        self,
        *,
        trusted: TrustedDocuments | None,
        trusted_only: bool,
        automatic: bool,
        introspection: bool,
        cache_size: int,
        max_tokens: int,
        rate_limits: RateLimiter,
        redis_client: "redis.asyncio.Redis | None" = None,
        prefix: str = "",
        ttl_seconds: int = 86400,
    ) -> None:
        self.trusted = trusted
        self.trusted_only = trusted_only
        # Registration, when no manifest forbids it.
        self.automatic = automatic and not trusted_only
        self.introspection = introspection
        self.cache_size = cache_size
        self.max_tokens = max_tokens
        self.rate_limits = rate_limits
        self._recent: OrderedDict[str, str] = OrderedDict()
        self._redis = redis_client
        self._prefix = f"{prefix}apq:"
        self._ttl = ttl_seconds
        self._redis_rests_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, *, rate_limits: RateLimiter) -> "PersistedDocuments":
        automatic = settings.persisted_queries and not settings.trusted_documents_only
        shared = automatic and settings.broker_url.startswith(REDIS_SCHEMES)
        return cls(
            trusted=settings.trusted,
            trusted_only=settings.trusted_documents_only,
            automatic=automatic,
            introspection=settings.introspection_enabled,
            cache_size=settings.persisted_queries_cache_size,
            max_tokens=settings.max_query_tokens,
            rate_limits=rate_limits,
            redis_client=redis.asyncio.from_url(
                settings.broker_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            if shared
            else None,
            prefix=settings.redis_prefix,
            ttl_seconds=settings.persisted_queries_ttl_seconds,
        )

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def document(
        self, *, query: str | None, extensions: object, client: str | None, schema: CheckedSchema
    ) -> str | None:
        """The document to run for what a client sent: `query`, or the one its hash names.

        Raises PersistedQueryError when none may run; None is "no document" (as sent).
        """
        persisted = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
        if persisted is None:
            if self.trusted_only and query:
                self._check_free_form(query)
            return query
        key = _document_id(persisted)
        known = await self._lookup(key)
        if not query:
            if known is None:
                raise self._unknown()
            return known
        if known is not None:
            if known != query:
                raise PersistedQueryHashMismatch()
            return query
        if not self.automatic:
            raise self._unknown()
        if sha256_hex(query) != key:
            raise PersistedQueryHashMismatch()
        await self._register(key, query, client=client, schema=schema)
        return query

    def _check_free_form(self, query: str) -> None:
        trusted = self.trusted is not None and query in self.trusted.texts
        # Introspection is only known once parsed: `core.graphql.documents.trusted` decides it then.
        if not trusted and not self.introspection:
            raise PersistedQueryNotInList()

    def _unknown(self) -> PersistedQueryError:
        if self.trusted_only:
            return PersistedQueryNotInList()
        if not self.automatic:
            return PersistedQueryNotSupported()
        return PersistedQueryNotFound()

    async def _lookup(self, key: str) -> str | None:
        if self.trusted is not None and (text := self.trusted.by_id.get(key)) is not None:
            return text
        if not self.automatic or not SHA256_HEX.fullmatch(key):
            return None
        text = self._recent.get(key)
        if text is not None:
            self._recent.move_to_end(key)
            return text
        if self._redis is not None:
            stored = await self._on_redis(lambda r: r.get(self._prefix + key))
            if isinstance(stored, bytes):
                text = stored.decode("utf-8", "replace")
                # Our own entry, unless the prefix is shared with something else.
                if sha256_hex(text) == key:
                    self._remember(key, text)
                    return text
        return None

    async def _register(
        self, key: str, query: str, *, client: str | None, schema: CheckedSchema
    ) -> None:
        """Keep a document sent with its (checked) hash; one that cannot run is not kept."""
        if len(query) > MAX_CACHED_QUERY_LENGTH or not self._runnable(query, schema):
            return
        if await self.rate_limits.hit(Limit.PERSISTED_QUERIES_PER_ADDRESS, address_key(client)):
            return  # it runs all the same; it will be sent again
        self._remember(key, query)
        if self._redis is not None:
            await self._on_redis(lambda r: r.set(self._prefix + key, query, ex=self._ttl))

    def _runnable(self, query: str, schema: CheckedSchema) -> bool:
        """Whether the document parses and validates (as the document cache saw it, if it did)."""
        cached = schema.documents.get(query)
        if cached is not None and cached.errors is not None:
            return not cached.errors
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError:
            return False
        # The cheap limits first, as the whole way checks them: validation is quadratic.
        return not (
            document_errors(document, schema.limits)
            or validate(graphql_core_schema(schema), document)
        )

    def _remember(self, key: str, text: str) -> None:
        if self.cache_size <= 0:
            return
        self._recent[key] = text
        self._recent.move_to_end(key)
        if len(self._recent) > self.cache_size:
            self._recent.popitem(last=False)

    async def _on_redis(self, call: Callable[["redis.asyncio.Redis"], Awaitable[Any]]) -> Any:
        """The call's result; None (and a rest for Redis) if Redis fails or is resting."""
        if self._redis is None or time.monotonic() < self._redis_rests_until:
            return None
        try:
            return await call(self._redis)
        except (redis.RedisError, OSError) as exc:
            self._redis_rests_until = time.monotonic() + REDIS_PAUSE_SECONDS
            logger.warning(
                "persisted queries: Redis failed (%r); this process keeps its own for %.0f s",
                exc,
                REDIS_PAUSE_SECONDS,
            )
            return None


def _document_id(persisted: object) -> str:
    """The id in `extensions.persistedQuery`, which must be of version 1."""
    if not isinstance(persisted, Mapping):
        raise PersistedQueryError()
    version = persisted.get("version")
    # JSON's 1 and 1.0 are the same number; true is not a number.
    if isinstance(version, bool) or version != VERSION:
        raise PersistedQueryError(
            "Unsupported persisted query version: this server knows version 1 only."
        )
    key = persisted.get("sha256Hash")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_ID_LENGTH:
        raise PersistedQueryError()
    return key
