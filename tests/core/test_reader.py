"""The read engine: autocommit, no transaction round trips, no writes; SQLite off the loop."""

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.db.engine import create_engine
from graphql_api.state import AppState
from graphql_api.users.models import User
from tests.support.client import GraphQLClient
from tests.support.settings import settings_for_tests


@pytest.fixture
def statements(services: AppState) -> list[str]:
    """SQL the read engine sends, as the driver sees it."""
    from sqlalchemy import event

    sent: list[str] = []
    engine = services.reader.kw["bind"].sync_engine

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


async def test_a_read_is_one_statement(services: AppState, statements: list[str]) -> None:
    async with services.reader() as session:
        assert (await session.execute(select(User.id))).all() == []
    assert statements == [statements[0]]
    assert statements[0].lstrip().upper().startswith("SELECT")


async def test_reads_cannot_write(services: AppState) -> None:
    async with services.reader() as session:
        with pytest.raises(DBAPIError, match=r"(?i)read.only|readonly"):
            await session.execute(
                insert(User).values(username="w", email="w@example.com", password_hash="-")
            )
    async with services.sessionmaker() as session:
        assert (await session.execute(text("SELECT count(*) FROM users"))).scalar_one() == 0


@pytest.fixture
async def sqlite_reader(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A read engine on a fresh SQLite file, whose statements may run for 0.2 s."""
    settings = settings_for_tests(
        f"sqlite+aiosqlite:///{tmp_path / 'read.db'}", tmp_path, db_statement_timeout_seconds=0.2
    )
    engine = create_engine(settings, read_only=True)
    yield engine
    await engine.dispose()


async def test_sqlite_reads_run_off_the_event_loop_thread(sqlite_reader: AsyncEngine) -> None:
    """A long read must not hold up every other request: it runs on aiosqlite's thread."""
    threads: list[int] = []
    async with sqlite_reader.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.create_function(  # type: ignore[union-attr]
            "whose_thread", 0, lambda: threads.append(threading.get_ident()) or 1
        )
        assert (await conn.execute(text("SELECT whose_thread()"))).scalar_one() == 1
    assert len(threads) == 1 and threads != [threading.get_ident()]


async def test_a_sqlite_read_past_the_statement_timeout_is_interrupted(
    sqlite_reader: AsyncEngine,
) -> None:
    endless = text(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    )
    async with sqlite_reader.connect() as conn:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="interrupted"):
            await conn.execute(endless)
        assert time.monotonic() - started < 2
        # The next statement has a clock of its own.
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
        # So have the reads that skip SQLAlchemy (core.db.fastread.reads).
        driver = (await conn.get_raw_connection()).driver_connection
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            await driver.execute_fetchall(str(endless), [])  # type: ignore[union-attr]
        assert list(await driver.execute_fetchall("SELECT 1", [])) == [(1,)]  # type: ignore[union-attr]


async def test_concurrent_reads_give_their_connections_back_at_once(
    services: AppState, anon_client: GraphQLClient
) -> None:
    """Reads return their connection before the next batch runs: no new ones are opened."""
    query = "query Items { items(first: 5) { nodes { id owner { username } } } }"
    await anon_client.data(query)  # a warm pool
    engine = services.reader.kw["bind"]
    opened: list[object] = []

    def count(*_: object) -> None:
        opened.append(1)

    event.listen(engine.sync_engine, "connect", count)
    try:
        answers = await asyncio.gather(*(anon_client.data(query) for _ in range(32)))
    finally:
        event.remove(engine.sync_engine, "connect", count)
    assert all(a == answers[0] for a in answers)
    assert engine.pool.checkedout() == 0
    assert len(opened) <= 2 * services.settings.db_pool_size
