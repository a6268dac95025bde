"""Fixtures: the app on SQLite and on PostgreSQL, clients by role, statement counting.

The helpers they use, and that tests use, are in tests/support/.
"""

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.app import create_app
from graphql_api.core.db.migrate import upgrade_async
from graphql_api.core.http.fast_path import FastQueries
from graphql_api.models import load_all_models
from graphql_api.state import AppState
from tests.support.client import GraphQLClient, fast_path_of
from tests.support.databases import (
    BACKENDS,
    StatementLog,
    drop_postgres_database,
    empty_tables,
    postgres_database,
    server_database,
)
from tests.support.redis import REDIS_URL, redis_reachable
from tests.support.settings import IN_CI, settings_for_tests
from tests.support.users import SignedIn, sign_up

load_all_models()


@pytest.fixture(scope="session")
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated, empty database for the backend under test."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(backend)
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'test.db'}"
        await upgrade_async(settings_for_tests(url, tmp))
        yield url
        return
    name, url = await postgres_database()
    try:
        await upgrade_async(settings_for_tests(url, tmp))
        yield url
    finally:
        await drop_postgres_database(name)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", BACKENDS, indirect=True, scope="session")
    if "server_database_url" in metafunc.fixturenames:
        metafunc.parametrize("server_database_url", BACKENDS, indirect=True)


@pytest.fixture
async def server_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with server_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def postgres_server_url() -> AsyncIterator[str]:
    """A PostgreSQL database of its own, for servers started in subprocesses."""
    name, url = await postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(name)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    await redis_reachable()
    prefix = f"graphql_api_test_{secrets.token_hex(4)}:"
    yield prefix
    client = redis.asyncio.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
async def app(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    application = create_app(settings_for_tests(database_url, tmp_path_factory.mktemp("app")))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def services(app: FastAPI) -> AppState:
    """The app's shared services, over tables emptied for this test."""
    state: AppState = app.state.services
    await state.links.recorder.flush()  # nothing of the last test may land in this one
    state.links.cache.clear()
    fast_path_of(app).schema.plans.statements.clear()  # each test has the whole budget
    await empty_tables(state.engine)
    return state


@pytest.fixture
def engine(services: AppState) -> AsyncEngine:
    return services.engine


@pytest.fixture
async def http(app: FastAPI, services: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


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
    settings = settings_for_tests(
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
