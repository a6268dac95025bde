"""Fixtures: the app on SQLite and on PostgreSQL, clients by role, statement counting."""

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.app import create_app
from graphql_api.core.db.base import Base
from graphql_api.core.db.migrate import upgrade_async
from graphql_api.core.http.fast_path import FastQueries
from graphql_api.core.settings import Settings
from graphql_api.models import load_all_models
from graphql_api.state import AppState

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = [b for b in os.environ.get("TEST_BACKENDS", "sqlite,postgres").split(",") if b]
TEST_PASSWORD = "correct horse battery"

load_all_models()


# Tests sign in, shorten and miss links far faster than people: limits they never reach,
# except in the tests of the limits, which set their own.
GENEROUS_RATE_LIMITS = {
    "rate_limit_login_per_account": "100000/minute",
    "rate_limit_login_per_address": "100000/minute",
    "rate_limit_register_per_address": "100000/minute",
    "rate_limit_shorten_per_user": "100000/minute",
    "rate_limit_not_found_per_address": "100000/minute",
    "rate_limit_persisted_queries_per_address": "100000/minute",
}


def test_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for tests: cheap password hashing, a throwaway secret, generous rate limits."""
    options: dict[str, Any] = {
        "database_url": database_url,
        "reserved_codes": ["blocked-word"],
        "secret_key": "test-secret-" + "x" * 40,
        "secret_file": tmp_path / "secret",
        "argon2_memory_kib": 1024,
        "argon2_time_cost": 1,
        "argon2_parallelism": 1,
        **GENEROUS_RATE_LIMITS,
    }
    return Settings(**{**options, **overrides})


async def _postgres_database() -> tuple[str, str]:
    """A fresh database on the PostgreSQL server, so runs never see each other's rows."""
    name = f"graphql_api_test_{secrets.token_hex(4)}"
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = POSTGRES_URL.rpartition("/")
    return name, f"{base}/{name}"


async def _drop_postgres_database(name: str) -> None:
    conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated, empty database for the backend under test."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(backend)
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'test.db'}"
        await upgrade_async(test_settings(url, tmp))
        yield url
        return
    name, url = await _postgres_database()
    try:
        await upgrade_async(test_settings(url, tmp))
        yield url
    finally:
        await _drop_postgres_database(name)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", BACKENDS, indirect=True, scope="session")
    if "server_database_url" in metafunc.fixturenames:
        metafunc.parametrize("server_database_url", BACKENDS, indirect=True)


@asynccontextmanager
async def server_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty, unmigrated database of its own, for a server started in a subprocess."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    name, url = await _postgres_database()
    try:
        yield url
    finally:
        await _drop_postgres_database(name)


@pytest.fixture
async def server_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with server_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def postgres_server_url() -> AsyncIterator[str]:
    """A PostgreSQL database of its own, for servers started in subprocesses."""
    name, url = await _postgres_database()
    try:
        yield url
    finally:
        await _drop_postgres_database(name)


@pytest.fixture(scope="session")
async def app(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    application = create_app(test_settings(database_url, tmp_path_factory.mktemp("app")))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def services(app: FastAPI) -> AppState:
    """The app's shared services, over tables emptied for this test."""
    state: AppState = app.state.services
    await state.links.recorder.flush()  # nothing of the last test may land in this one
    state.links.cache.clear()
    await _empty_tables(state.engine)
    return state


@pytest.fixture
def engine(services: AppState) -> AsyncEngine:
    return services.engine


async def _empty_tables(engine: AsyncEngine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))


class GraphQLClient:
    """Posts operations to /graphql as a real client would, optionally with a token."""

    def __init__(self, http: httpx.AsyncClient, token: str | None = None) -> None:
        self.http = http
        self.token = token

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole response body (data and errors)."""
        response = await self.post(query, variables)
        assert response.headers["content-type"].startswith("application/json"), response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The data of a response that must have no errors: fails loudly otherwise."""
        body = await self.execute(query, variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    async def mutate(self, query: str, input: dict[str, Any]) -> dict[str, Any]:
        """The one payload of a mutation that must succeed (no errors, no userErrors)."""
        data = await self.data(query, {"input": input})
        (payload,) = data.values()
        assert payload["userErrors"] == [], payload["userErrors"]
        return payload  # type: ignore[no-any-return]


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


@pytest.fixture
async def http(app: FastAPI, services: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def fast_path_of(app: FastAPI) -> FastQueries:
    """An app's fast path, to count what it answered."""
    if app.middleware_stack is None:  # built by the first request otherwise
        app.middleware_stack = app.build_middleware_stack()
    layer: Any = app.middleware_stack
    while not isinstance(layer, FastQueries):
        layer = layer.app
    return layer


@pytest.fixture
def fast(app: FastAPI) -> FastQueries:
    """The session app's fast path."""
    return fast_path_of(app)


@pytest.fixture(scope="session")
async def reference_app(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    """The same app on the same database, with the document cache (and so the plans and
    the fast path) off: Strawberry's view and graphql-core answer everything (the HTTP
    differential tests compare the app with it)."""
    settings = test_settings(
        database_url, tmp_path_factory.mktemp("reference"), document_cache_size=0
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def reference(reference_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=reference_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) {
    user { id username }
    accessToken
    refreshToken
    userErrors { field code message }
  }
}
"""


@dataclass
class SignedIn:
    client: GraphQLClient
    id: str
    username: str
    refresh_token: str
    extra: dict[str, Any] = field(default_factory=dict)


async def sign_up(
    http: httpx.AsyncClient, username: str, *, admin: bool = False, services: AppState | None = None
) -> SignedIn:
    """Register through the API (an admin is then promoted directly in the database)."""
    payload = await GraphQLClient(http).mutate(
        REGISTER,
        {"email": f"{username}@example.com", "username": username, "password": TEST_PASSWORD},
    )
    if admin:
        assert services is not None
        async with services.engine.begin() as conn:
            await conn.execute(
                text("UPDATE users SET role = 'ADMIN' WHERE username = :u"), {"u": username}
            )
    return SignedIn(
        GraphQLClient(http, payload["accessToken"]),
        payload["user"]["id"],
        username,
        payload["refreshToken"],
    )


@pytest.fixture
def anon_client(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)


@pytest.fixture
async def alice(http: httpx.AsyncClient) -> SignedIn:
    return await sign_up(http, "alice")


@pytest.fixture
async def bob(http: httpx.AsyncClient) -> SignedIn:
    return await sign_up(http, "bob")


@pytest.fixture
async def admin(http: httpx.AsyncClient, services: AppState) -> SignedIn:
    return await sign_up(http, "root_admin", admin=True, services=services)


@pytest.fixture
def user_client(alice: SignedIn) -> GraphQLClient:
    return alice.client


@pytest.fixture
def admin_client(admin: SignedIn) -> GraphQLClient:
    return admin.client


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def clear(self) -> None:
        self.statements.clear()


@pytest.fixture
def sql_statements(services: AppState) -> Iterator[StatementLog]:
    """Records every SQL statement the app sends, on the write and the read engine alike
    (transaction control left out)."""
    log = StatementLog()
    engines = [services.engine.sync_engine, services.reader.kw["bind"].sync_engine]

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.split(None, 1)[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}:
            log.statements.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    yield log
    for engine in engines:
        event.remove(engine, "before_cursor_execute", record)


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true a skipped test is a failure: CI has every server a test needs."""
    if IN_CI and _skipped and exitstatus == 0:
        print(f"\nCI=true: {len(_skipped)} test(s) skipped, which CI does not allow:")
        for nodeid in _skipped:
            print(f"  {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
