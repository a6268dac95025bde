"""aiosqlite's interface over sqlite3, run on the event loop's own thread: for reads.

aiosqlite gives every connection a thread and sends each call there and back; on a
2-core machine one round trip costs ~100 µs, and a query takes four (cursor, execute,
fetch, close): ~380 µs for a page that SQLite reads in ~25 µs. The read-only engine
uses this module instead. That is safe because in WAL mode a reader never waits for a
lock, so a read only ever waits for its own work; and that work is bounded: a
statement that runs longer than the statement timeout is interrupted, as PostgreSQL's
`statement_timeout` would. Writes stay on aiosqlite, whose BEGIN IMMEDIATE may wait
for another writer's lock.

SQLAlchemy's aiosqlite dialect drives it: pass `dbapi()` as the engine's `module`.
"""

import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

# What SQLAlchemy's dialect reads off the driver module, besides connect and Connection.
DRIVER_NAMES = (
    "DatabaseError",
    "Error",
    "IntegrityError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "sqlite_version",
    "sqlite_version_info",
)

# How many SQLite VM instructions run between two looks at the clock.
PROGRESS_STEPS = 10_000


class _Inline:
    """Where aiosqlite queues work for its thread: here the work is done at once.

    (SQLAlchemy sets the isolation level through aiosqlite's queue.)
    """

    daemon = True  # SQLAlchemy marks aiosqlite's thread a daemon

    def put_nowait(self, item: tuple[Any, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)


class Cursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> "Cursor":
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> "Cursor":
        self._cursor.execute(sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> "Cursor":
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class Connection:
    def __init__(self, database: str, timeout_seconds: float, **kwargs: Any) -> None:
        self._database = database
        self._timeout_seconds = timeout_seconds
        self._kwargs = kwargs
        self._connection: sqlite3.Connection | None = None
        self._deadline = math.inf
        self._tx = self._thread = _Inline()

    def __await__(self) -> Any:
        return self._connect().__await__()

    async def _connect(self) -> "Connection":
        self._connection = sqlite3.connect(self._database, **self._kwargs)
        if self._timeout_seconds:
            self._connection.set_progress_handler(self._interrupt_if_late, PROGRESS_STEPS)
        return self

    def _interrupt_if_late(self) -> int:
        return int(time.monotonic() > self._deadline)

    def _start_clock(self) -> None:
        # Per statement: SQLAlchemy opens a cursor for each, core.reads calls fetchall.
        self._deadline = time.monotonic() + self._timeout_seconds

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    def cursor(self) -> Cursor:
        self._start_clock()
        return Cursor(self._conn.cursor())

    def fetchall(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """A statement's rows, for reads that skip SQLAlchemy (`core.reads`)."""
        self._start_clock()
        return self._conn.execute(sql, parameters).fetchall()

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value


def dbapi(timeout_seconds: float) -> AsyncAdapt_aiosqlite_dbapi:
    """This module as SQLAlchemy's aiosqlite dialect wants its driver; a statement may run
    for `timeout_seconds` (0: for ever)."""

    def connect(database: str, **kwargs: Any) -> Connection:
        return Connection(str(database), timeout_seconds, **kwargs)

    driver = SimpleNamespace(
        connect=connect,
        Connection=Connection,
        **{name: getattr(sqlite3, name) for name in DRIVER_NAMES},
    )
    return AsyncAdapt_aiosqlite_dbapi(driver, sqlite3)  # type: ignore[arg-type]
