"""What every resolver gets: the app's shared resources and this request's own state."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from graphql_api.core.broker import Broker
from graphql_api.core.db.engine import Reads, Sessionmaker
from graphql_api.core.graphql.documents.persisted import PersistedDocuments
from graphql_api.core.graphql.errors import Unauthenticated
from graphql_api.core.graphql.fanout import Feeds
from graphql_api.core.ratelimit import RateLimiter
from graphql_api.core.security.passwords import PasswordHasher
from graphql_api.core.security.tokens import TokenCodec
from graphql_api.core.settings import Settings


class Viewer(Protocol):
    """The signed-in user, as permissions see it."""

    id: int
    is_active: bool

    @property
    def is_admin(self) -> bool: ...


Authenticate = Callable[["Context", str], Awaitable[Viewer]]
L = TypeVar("L")
R = TypeVar("R")


@dataclass(kw_only=True)
class CoreState:
    """What every feature shares, built once in the lifespan (`graphql_api.state`).

    A feature's own runtime (the link cache, chat presence) is found by its class with
    `runtime`, so that nothing here names a feature.
    """

    settings: Settings
    engine: AsyncEngine
    sessionmaker: Sessionmaker
    # Sessions for reads that need no transaction: DataLoaders and pages (autocommit).
    reader: Sessionmaker
    hasher: PasswordHasher
    tokens: TokenCodec
    authenticate: Authenticate
    broker: Broker
    rate_limits: RateLimiter
    # Documents clients name by hash (automatic persisted queries, trusted documents).
    persisted: PersistedDocuments
    runtimes: dict[type, object] = field(default_factory=dict)
    # The subscription feeds of this process, by channel (`core.graphql.fanout`).
    feeds: Feeds = field(default_factory=Feeds)

    def runtime(self, kind: type[R]) -> R:
        """The feature runtime of class `kind`, as the app state registered it."""
        found = self.runtimes[kind]
        if not isinstance(found, kind):
            raise TypeError(f"the runtime registered for {kind.__name__} is a {type(found)}")
        return found


class Context(BaseContext):
    def __init__(self, state: CoreState, *, token: str | None, request_id: str) -> None:
        super().__init__()
        self.state = state
        self.settings = state.settings
        self.sessionmaker = state.sessionmaker
        # Reads of this request (a WebSocket's: of its connection), one batch at a time.
        self.reads = Reads(state.reader)
        self._header_token = token
        self.request_id = request_id
        self._loaders: dict[Callable[[Reads], Any], Any] = {}
        self._viewer: Viewer | None = None
        # Users this request proved to be without a token (sign-up, sign-in, refresh):
        # their own private fields show in its answer, though they are not its viewer.
        self._signed_in: set[int] = set()
        # How often anything read who is asking (the token, the address, a sign-in): an
        # answer computed without it is everyone's to share (`core.graphql.fanout`).
        self.requester_reads = 0

    def loader(self, loader_class: Callable[[Reads], L]) -> L:
        """This request's instance of a DataLoader class (made on first use)."""
        loader: L | None = self._loaders.get(loader_class)
        if loader is None:
            loader = self._loaders[loader_class] = loader_class(self.reads)
        return loader

    def forget(self) -> None:
        """Drop what this request has cached: after a mutation it may be out of date.

        Sign-ins stay: they are facts of the request, not cached reads.
        """
        self._loaders.clear()
        self._viewer = None

    def signed_in(self, user_id: int) -> None:
        """Note that this request proved to be `user_id`: it gave their credentials.

        It does not make them the viewer (later fields of the operation still run as the
        token says); it lets the user see what is theirs in this request's answer, such
        as their email in the payload that signed them in.
        """
        self._signed_in.add(user_id)

    def end_operation(self) -> None:
        """An operation ended: its sign-ins end with it (a WebSocket runs many)."""
        self._signed_in.clear()

    async def sees_private_fields_of(self, user_id: int) -> bool:
        """Whether the requester is `user_id`, or an admin: who may see a user's private fields.

        The requester is the viewer, or a user this request signed in as. A sign-in is
        checked first: a request that signs in needs no token, and a bad one must not
        hide the signed-in user's own fields.
        """
        self.requester_reads += 1
        if user_id in self._signed_in:
            return True
        viewer = await self.viewer()
        return viewer is not None and (viewer.is_admin or viewer.id == user_id)

    @property
    def token(self) -> str | None:
        """The Authorization header's token, or for a WebSocket the connection_init one."""
        self.requester_reads += 1
        return self._token()

    @property
    def client_address(self) -> str | None:
        """The client's IP address as uvicorn gives it (after trusted proxies' headers)."""
        self.requester_reads += 1
        return self._client_address()

    def requester(self) -> tuple[str | None, str | None]:
        """Who is asking, as far as anything that counts in `requester_reads` can tell:
        answers computed for one requester are the same for another with the same."""
        return self._token(), self._client_address()

    def _token(self) -> str | None:
        if self._header_token is not None:
            return self._header_token
        params = self.connection_params
        if isinstance(params, dict):
            if isinstance(auth := params.get("Authorization"), str):
                return bearer_token(auth)
            if isinstance(auth := params.get("authToken"), str) and auth:
                return auth
        return None

    def _client_address(self) -> str | None:
        client = self.request.client if self.request is not None else None
        return client.host if client is not None else None

    def set_response_header(self, name: str, value: str) -> None:
        """A header for this request's HTTP response (a WebSocket message has none)."""
        if isinstance(self.response, Response):
            self.response.headers[name] = value

    async def viewer(self) -> Viewer | None:
        """The signed-in user, None when no token was sent; a bad token is UNAUTHENTICATED."""
        if self.token is None:
            return None
        if self._viewer is None:
            self._viewer = await self.state.authenticate(self, self.token)
        return self._viewer

    async def require_viewer(self) -> Viewer:
        viewer = await self.viewer()
        if viewer is None:
            raise Unauthenticated()
        return viewer


Info = StrawberryInfo[Context, None]


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of an Authorization header: the token of `Bearer <token>`.

    Any other non-empty value is returned whole, so that it fails verification and the
    client hears UNAUTHENTICATED instead of being silently treated as anonymous.
    """
    if not authorization or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return authorization.strip()
