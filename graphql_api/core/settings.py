"""Settings read from the environment and an optional `.env` file."""

import ipaddress
import os
import secrets
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Self

from limits import parse_many
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from graphql_api.core.manifest import ManifestError, TrustedDocuments, load_manifest

# Values that look like a secret in an example file but protect nothing.
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "secret-key",
        "your-secret-key",
        "replace-me",
        "please-change",
        "development",
        "dev",
        "test",
        "xxx",
    }
)
MIN_SECRET_LENGTH = 32
DEV_SECRET_FILE = ".graphql_api_secret"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class SettingsError(ValueError):
    """The configuration cannot be used; the message says how to fix it."""


def _env(name: str) -> AliasChoices:
    """Accept `GRAPHQL_API_<NAME>` and, for the conventional names, the bare one."""
    return AliasChoices(f"GRAPHQL_API_{name}", name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GRAPHQL_API_", env_file=".env", extra="ignore", populate_by_name=True
    )

    env: Environment = Environment.DEVELOPMENT
    database_url: str = Field(
        default="sqlite+aiosqlite:///./graphql_api.db", validation_alias=_env("DATABASE_URL")
    )
    broker_url: str = Field(default="memory://", validation_alias=_env("BROKER_URL"))
    # Starts every Redis key and channel name: deployments can share one Redis.
    redis_prefix: str = Field(default="graphql_api:", max_length=100)
    secret_key: SecretStr | None = Field(default=None, validation_alias=_env("SECRET_KEY"))
    secret_file: Path = Path(DEV_SECRET_FILE)
    jwt_issuer: str = "graphql-api"
    jwt_audience: str = "graphql-api"
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    cors_origins: Annotated[list[str], NoDecode] = []
    # Where short links point: their host is also refused as a link target (no loops).
    # `graphql-api serve` sets it to the address it serves unless it is configured.
    public_url: str = "http://127.0.0.1:8000"
    reserved_codes: Annotated[list[str], NoDecode] = []
    # On both subprotocols: a socket without connection_init in this time is closed (4408).
    ws_init_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # Open sockets one client address (an IPv6 /64) may hold in one process; one more is
    # closed with 4429. A browser user never nears it; a NAT'd office might.
    ws_max_connections_per_address: int = Field(default=50, ge=1, le=1_000_000)
    # An anonymous socket with no operation running for this long is closed (1000).
    ws_idle_anonymous_seconds: float = Field(default=60.0, gt=0, le=24 * 3600)
    ws_max_subscriptions: int = Field(default=20, ge=1, le=1000)
    # Subscribers of one channel whose operations are alike share one execution of each
    # event and the frame it makes (`core.graphql.fanout`); off, each executes its own.
    subscription_fanout: bool = True
    # A bigger WebSocket message closes the connection (1009) before it is read whole.
    # `graphql-api serve` passes it to uvicorn; another ASGI server needs its own limit.
    ws_max_message_bytes: int = Field(default=128 * 1024, ge=1024, le=16 * 1024 * 1024)
    # A chat subscriber whose process stops renewing its presence leaves after this long.
    presence_ttl_seconds: float = Field(default=30.0, ge=1, le=3600)
    visit_flush_seconds: float = Field(default=0.2, gt=0, le=60)
    # Visits a process holds unwritten before redirects wait for the database to take
    # some: the most a hard kill may lose. A redirect waits at most visit_wait_seconds.
    visit_buffer: int = Field(default=2000, ge=1, le=100_000)
    visit_wait_seconds: float = Field(default=5.0, gt=0, le=60)
    link_cache_seconds: float = Field(default=60.0, ge=0)
    # Rate limits
    # Each is one window or several for `limits.parse_many` ("10/minute",
    # "30/minute;300/hour"); a request must fit every window. Counts are kept in this
    # process's memory, or in Redis (shared by every worker) when GRAPHQL_API_RATE_LIMIT_URL,
    # else BROKER_URL, is a redis:// URL. Client addresses are uvicorn's (proxy headers from
    # trusted proxies applied), IPv6 ones counted per /64.
    rate_limit_url: str | None = None
    # Per account and client address: attempts elsewhere never lock the owner out.
    rate_limit_login_per_account: str = "10/minute"
    # Every attempt from one address counts, successful ones too (they are counted before
    # the password is checked, so that concurrent attempts cannot overshoot).
    rate_limit_login_per_address: str = "30/minute;300/hour"
    # Sign-ups from one address, failed ones too: a person signs up once, a few people
    # behind one NAT rarely more than a handful in a minute; a script making accounts
    # (240 in 40 s were seen, each an argon2 hash) gets 20 an hour.
    rate_limit_register_per_address: str = "5/minute;20/hour"
    # Counted in links: shortenUrl is one, importShortUrls one per row of its file (at most
    # 1,000, so every window must allow at least that for a full file to go through).
    rate_limit_shorten_per_user: str = "1000/hour;10000/day"
    # Unknown codes asked for on the redirect shim; a known code is never limited.
    rate_limit_not_found_per_address: str = "60/minute;600/hour"
    # New documents one address may register as automatic persisted queries; past it they
    # still run, they are not kept. An app's first visitor registers a few dozen at most.
    rate_limit_persisted_queries_per_address: str = "100/minute;1000/hour"

    @model_validator(mode="after")
    def _check_rate_limits(self) -> Self:
        url = self.rate_limit_url
        if url and not url.startswith(("memory://", "redis://", "rediss://", "unix://")):
            raise SettingsError(
                f"GRAPHQL_API_RATE_LIMIT_URL {url!r} is not supported: "
                "use memory:// or redis://host:port/db"
            )
        for name in (
            "rate_limit_login_per_account",
            "rate_limit_login_per_address",
            "rate_limit_register_per_address",
            "rate_limit_shorten_per_user",
            "rate_limit_not_found_per_address",
            "rate_limit_persisted_queries_per_address",
        ):
            value = getattr(self, name)
            try:
                windows = parse_many(value)
            except ValueError:
                windows = []
            if not windows or any(w.amount < 1 for w in windows):
                raise SettingsError(
                    f"GRAPHQL_API_{name.upper()} {value!r} is not a rate limit: write "
                    '"count/period", several separated by ";", e.g. "30/minute;300/hour"'
                )
        return self

    # argon2id cost; tests lower it, production keeps the library's strong defaults.
    argon2_memory_kib: int = Field(default=65536, ge=1024)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_parallelism: int = Field(default=4, ge=1)
    db_pool_size: int = Field(default=10, ge=1)
    # How long a request may wait for a database connection before it is refused.
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    db_echo: bool = False
    # PostgreSQL cancels a statement that runs longer, SQLite interrupts a read (0: never);
    # migrations run without.
    db_statement_timeout_seconds: float = Field(default=15.0, ge=0, le=3600)
    # HTTP hardening
    # A bigger request body is answered with 413 before it is read whole.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    # Multipart uploads: the CSV import's 5 MiB file, with room for the form's other parts.
    max_upload_bytes: int = Field(default=6 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    graphiql: bool | None = None
    # A node_modules folder with graphiql, react, react-dom and graphql-ws (default: the
    # checkout's graphiql/node_modules, which the set-up installs).
    graphiql_assets_dir: Path | None = None
    introspection: bool | None = None
    # Query limits: a document over any of them is refused before anything executes.
    max_query_depth: int = Field(default=12, ge=1, le=100)
    max_query_aliases: int = Field(default=30, ge=0, le=1000)
    max_query_directives: int = Field(default=30, ge=0, le=1000)
    max_query_tokens: int = Field(default=2000, ge=100, le=100_000)
    max_query_cost: int = Field(default=5000, ge=10, le=10_000_000)
    # Mutations that hash a password or import a file, in one operation: aliases must not
    # multiply the costliest work (and each alias would count against a rate limit anyway).
    max_expensive_mutations: int = Field(default=1, ge=1, le=100)
    # Query texts (up to 8 KiB each) whose parsed, checked document and execution plan are
    # kept; 0 turns the caches off.
    document_cache_size: int = Field(default=500, ge=0, le=100_000)
    # Persisted documents (`core.graphql.documents.persisted`). A manifest of trusted documents
    # (JSON: id to
    # document, as Relay, Apollo and GraphQL Code Generator write it); with
    # trusted_documents_only, no other document runs.
    trusted_documents: Path | None = None
    trusted_documents_only: bool = False
    # Apollo's automatic persisted queries: a hash sent with its document registers it.
    persisted_queries: bool = True
    # Registered documents this process keeps (up to 8 KiB each), most recently used first;
    # with Redis (BROKER_URL) they are shared there, each for persisted_queries_ttl_seconds.
    persisted_queries_cache_size: int = Field(default=1000, ge=0, le=100_000)
    persisted_queries_ttl_seconds: int = Field(default=86400, ge=60, le=30 * 86400)

    @model_validator(mode="after")
    def _check_trusted_documents(self) -> Self:
        if self.trusted_documents_only and self.trusted_documents is None:
            raise SettingsError(
                "GRAPHQL_API_TRUSTED_DOCUMENTS_ONLY=true needs GRAPHQL_API_TRUSTED_DOCUMENTS: "
                "the path of the manifest of documents to allow"
            )
        _ = self.trusted  # a manifest that cannot be used stops the start, with its reason
        return self

    @model_validator(mode="before")
    @classmethod
    def _split_origins(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in (
                "cors_origins",
                "GRAPHQL_API_CORS_ORIGINS",
                "reserved_codes",
                "GRAPHQL_API_RESERVED_CODES",
            ):
                value = data.get(key)
                if isinstance(value, str):
                    data[key] = [o.strip() for o in value.split(",") if o.strip()]
        return data

    @model_validator(mode="after")
    def _check_secret(self) -> Self:
        if self.env is Environment.PRODUCTION:
            value = self.secret_key.get_secret_value() if self.secret_key else ""
            if value.strip().lower() in PLACEHOLDER_SECRETS or len(value) < MIN_SECRET_LENGTH:
                raise SettingsError(
                    "GRAPHQL_API_SECRET_KEY must be set to a random value of at least "
                    f"{MIN_SECRET_LENGTH} characters in production "
                    '(for example: python -c "import secrets; print(secrets.token_urlsafe(48))")'
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else not self.is_production

    @property
    def access_token_ttl(self) -> timedelta:
        return timedelta(minutes=self.access_token_minutes)

    @property
    def refresh_token_ttl(self) -> timedelta:
        return timedelta(days=self.refresh_token_days)

    @property
    def async_database_url(self) -> str:
        """The database URL with the async driver this project ships."""
        url = self.database_url
        for plain, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    @cached_property
    def trusted(self) -> TrustedDocuments | None:
        """The documents of the trusted-documents manifest, if one is configured."""
        if self.trusted_documents is None:
            return None
        try:
            return load_manifest(self.trusted_documents)
        except ManifestError as exc:
            raise SettingsError(
                f"GRAPHQL_API_TRUSTED_DOCUMENTS {self.trusted_documents} {exc}"
            ) from None

    @cached_property
    def signing_key(self) -> str:
        """The JWT signing key: configured, or in development one kept in a private file."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value()
        return _development_secret(self.secret_file)


def _development_secret(path: Path) -> str:
    try:
        value = path.read_text().strip()
        if len(value) >= MIN_SECRET_LENGTH:
            return value
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(48)
    # Created with owner-only permissions from the start: no window where others can read it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


# The addresses that mean "every interface": a link cannot point at them, but this
# machine's own loopback reaches what listens there.
_EVERY_INTERFACE = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def served_url(host: str, port: int) -> str:
    """The base URL of a server listening on `host` and `port`, for short links to live on.

    For an address that means every interface (0.0.0.0, ::) it is this machine's own
    loopback: the one URL sure to reach the server; other machines need a public URL.
    """
    host = _EVERY_INTERFACE.get(host, host)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None  # a name, such as localhost
    if address is not None and address.version == 6:
        host = f"[{host.replace('%', '%25')}]"  # a zone (fe80::1%eth0) is escaped in a URL
    return f"http://{host}" if port == 80 else f"http://{host}:{port}"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, with explicit overrides (used by the CLI and tests)."""
    return Settings(**overrides)
