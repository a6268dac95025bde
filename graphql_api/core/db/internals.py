"""The SQLAlchemy internals the database code reads, in one place.

Nothing else in `graphql_api` reaches them: it calls the functions here. They were written
for the versions in `WRITTEN_FOR`, which `pyproject.toml` pins too, and
`tests/core/test_internals.py` exercises each against the installed SQLAlchemy, so an
upgrade that moves one fails there first. To upgrade: widen the pin, run that test, fix
what moved here.

Inventory (library, internal: what for; who calls it):
- SQLAlchemy, `sqlalchemy.util.await_only`: waits for an awaitable inside a synchronous
  event listener, which runs in SQLAlchemy's greenlet on the event loop: the SQLite writer
  queue and the statement timeout's callbacks (`wait_in_listener`; engine). `sqlalchemy.util`
  is not public API, and 2.2 deprecates the name for `await_`.
- SQLAlchemy, calling `dispatch.before_cursor_execute` of an engine: its listeners hear
  the statements that fast reads send to the driver without SQLAlchemy
  (`announce_statement`; fastread.reads). The listener's signature is public; calling
  the dispatch collection is the event system's own business.

Not private, so not here: `driver_connection` and `record_info` (pool entries),
`Row._mapping` and the named tuples' `_make` (public despite the underscore), the
compiled statement's `positiontup` and `binds`, and aiosqlite's `execute_fetchall`,
`set_trace_callback` and `set_progress_handler`. Nothing private of aiosqlite, asyncpg or
asyncio is read.
"""

from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util import await_only

T = TypeVar("T")

# The distributions whose internals this module reads, and the versions it was written
# for; pyproject.toml declares the same ranges.
WRITTEN_FOR = {"sqlalchemy": ">=2.1.9,<2.2"}


def wait_in_listener(awaitable: Awaitable[T]) -> T:
    """The awaitable's result, from a synchronous event listener of an async engine."""
    return await_only(awaitable)


def announce_statement(conn: AsyncConnection, statement: str, parameters: Sequence[Any]) -> None:
    """Tell the engine's before_cursor_execute listeners of a statement sent past SQLAlchemy.

    There is no cursor and no execution context to pass them, and it is not an
    executemany.
    """
    listeners = conn.engine.sync_engine.dispatch.before_cursor_execute
    if listeners:
        listeners(conn.sync_connection, None, statement, parameters, None, False)
