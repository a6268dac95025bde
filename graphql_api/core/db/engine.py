"""The async engine and its sessions: pools, SQLite's settings, transactions."""

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from graphql_api.core.db.internals import wait_in_listener
from graphql_api.core.errors import InvalidInput
from graphql_api.core.settings import Settings

Sessionmaker = async_sessionmaker[AsyncSession]

# SQLite VM steps between two looks at a read's clock (a few milliseconds at most).
PROGRESS_STEPS = 10_000
# How long a SQLite writer waits for the write lock: in this process's queue, then in
# SQLite's busy handler (for other processes).
BUSY_TIMEOUT_SECONDS = 30
_HOLDS_WRITER = "graphql_api.holds_writer"  # in a pool entry's record_info: its event loop


def create_engine(settings: Settings, *, read_only: bool = False) -> AsyncEngine:
    """The engine; `read_only` gives one for reads alone, in autocommit.

    Reads need no transaction of their own: without one, a query is a single round trip
    instead of BEGIN, the query and ROLLBACK. Its connections refuse writes.
    """
    url = settings.async_database_url
    kwargs: dict[str, Any] = {"echo": settings.db_echo}
    if read_only:
        kwargs["isolation_level"] = "AUTOCOMMIT"
        # Nothing to roll back when a connection goes back to the pool.
        kwargs["pool_reset_on_return"] = None
    # Up to twice the pool size, all kept once opened: an overflow connection would be
    # closed as it came back, and under steady load the pool opened one every 33 requests
    # (a backend and asyncpg's set-up each time). A request waits this long at most for a
    # connection, then hears SERVICE_UNAVAILABLE.
    kwargs.update(
        pool_size=2 * settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    asyncpg = url.startswith("postgresql+asyncpg://")
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_SECONDS}
    else:
        # asyncpg's connections say themselves when the server closed them (see
        # `_drop_closed_connections`); another driver's are asked with a round trip.
        kwargs["pool_pre_ping"] = not asyncpg
        server_settings = {}
        if settings.db_statement_timeout_seconds:
            timeout_ms = int(settings.db_statement_timeout_seconds * 1000)
            server_settings["statement_timeout"] = str(timeout_ms)
        if read_only:
            server_settings["default_transaction_read_only"] = "on"
        if server_settings:
            kwargs["connect_args"] = {"server_settings": server_settings}
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(
            engine, read_only=read_only, statement_timeout=settings.db_statement_timeout_seconds
        )
    elif asyncpg:
        _drop_closed_connections(engine)
    return engine


def _drop_closed_connections(engine: AsyncEngine) -> None:
    """Hand out no connection the server has closed, without a round trip to ask.

    When PostgreSQL closes a connection (a restart, `pg_terminate_backend`, an idle
    timeout), the end of its socket reaches the event loop while the connection waits in
    the pool, and asyncpg marks it closed. Checking out such a connection raises
    DisconnectionError, and the pool opens another in its place. `pool_pre_ping` asked
    the server instead, with a round trip per checkout (docs/performance.md).
    """

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")


def _interrupt_late_statements(connection: Any, timeout: float) -> None:
    """Interrupt a SQLite read that runs longer than `timeout`, as PostgreSQL would.

    Both callbacks run on the connection's own thread (aiosqlite's): the trace callback
    as each statement starts, the progress handler every few thousand steps of it.
    """
    started = [math.inf]

    def start(_sql: str) -> None:
        started[0] = time.monotonic()

    def late() -> int:
        return int(time.monotonic() - started[0] > timeout)

    wait_in_listener(connection.set_trace_callback(start))
    wait_in_listener(connection.set_progress_handler(late, PROGRESS_STEPS))


def _configure_sqlite(engine: AsyncEngine, *, read_only: bool, statement_timeout: float) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()
        if read_only and statement_timeout:
            _interrupt_late_statements(dbapi_connection.driver_connection, statement_timeout)

    if read_only:
        return  # every statement is a transaction of its own

    # SQLite runs one write transaction at a time, and its busy handler has the others
    # sleep and retry: under load the unlucky ones waited for seconds while later ones got
    # in (createItem over 32 connections: p99 1.2 s, some past 2 s). This process's
    # writers queue here instead, in the order they came; other processes still meet at
    # the busy handler. Taken at BEGIN IMMEDIATE, so work before a transaction's first
    # statement holds nothing; given back as the connection returns to the pool.
    writer = asyncio.Lock()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if not conn.get_execution_options().get("sqlite_immediate", False):
            conn.exec_driver_sql("BEGIN")
            return
        wait_in_listener(asyncio.wait_for(writer.acquire(), BUSY_TIMEOUT_SECONDS))
        # record_info outlives an invalidation of the connection
        conn.connection.record_info[_HOLDS_WRITER] = asyncio.get_running_loop()
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record.record_info.pop(_HOLDS_WRITER, None) is not None:
            writer.release()

    @event.listens_for(engine.sync_engine.pool, "detach")
    def _on_detach(_dbapi_connection: Any, record: Any) -> None:
        # A connection dropped without being given back (collected as garbage), perhaps
        # in another thread: its turn is given back on its loop.
        loop = record.record_info.pop(_HOLDS_WRITER, None)
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(writer.release)


class Reads:
    """One request's way to the read engine: one batch at a time, on one connection at most.

    The fields of a level resolve concurrently, and each used to take a connection of
    its own: 21 aliased lists in one request asked the pool for 21 at once, held what
    they got while waiting for the rest, and every other request waited behind them.
    A request now holds at most one read connection, only while a batch runs, so the
    pool serves as many requests at once as it has connections and none can starve it.
    A batch must not start another read before it ends (it would wait for itself).

    A connection goes back to the pool as its batch ends, here: `async with
    engine.connect()` would give it back in a task of its own, when the loop next got to
    it, and under 32 concurrent requests the pool, meanwhile empty, opened 725 new ones
    for 2,073 uses. Nothing is reset on the way (autocommit): no I/O a cancellation
    could interrupt.

    Once the pool had no connection for it in time, the request's reads of the next
    second fail at once: it is answered SERVICE_UNAVAILABLE without queueing again for
    each field (and a WebSocket's context, which outlives its operations, recovers).
    """

    __slots__ = ("_busy", "_busy_until", "_turn", "engine", "sessionmaker")

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.engine: AsyncEngine = sessionmaker.kw["bind"]
        self._turn = asyncio.Lock()
        self._busy: PoolTimeout | None = None
        self._busy_until = 0.0

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        async with self._turn:
            if self._busy is not None and time.monotonic() < self._busy_until:
                raise self._busy
            try:
                conn = await self.engine.connect()
            except PoolTimeout as exc:
                self._busy, self._busy_until = exc, time.monotonic() + 1.0
                raise
            try:
                yield conn
            finally:
                await conn.close()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.connection() as conn, self.sessionmaker(bind=conn) as session:
            yield session


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def write_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One transaction that will write: committed on success, rolled back on any error.

    On SQLite it begins with BEGIN IMMEDIATE, at its first statement: work done before
    that (hashing a password, say) holds no lock.
    """
    engine: AsyncEngine = sessionmaker.kw["bind"]
    async with sessionmaker(bind=engine.execution_options(sqlite_immediate=True)) as session:
        try:
            yield session
        except InvalidInput as exc:
            await (session.commit() if exc.keep_changes else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


def violates(exc: IntegrityError, *markers: str) -> bool:
    """Whether a failed write broke a given constraint.

    PostgreSQL names the constraint; SQLite names an expression index, but for a plain
    unique column only `table.column`: pass each form the message may have.
    """
    message = str(exc.orig)
    return any(marker in message for marker in markers)
